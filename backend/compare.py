"""Comparisons as pure functions over the store's DataFrames (pandas in, pandas out)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from backend import device
from backend.pareto import pareto_front
from backend.vocab import CODE_LANGUAGES, METRICS, PASS_METRICS, Direction, Language, Source

LANGUAGE_ORDER = CODE_LANGUAGES + [Language.OVERALL.value]
DELTA_COLUMNS = ["language", "metric", "base", "candidate", "delta", "rel_delta_pct", "improvement_pct", "verdict"]


RUNS_COLUMNS = ["run_id", "name", "kind", "status", "source", "benchmark", "protocol", "params", "disk_mb",
                "languages", "created_at", "error"]


def run_names(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> the run's name (its id when it has none): how reports and titles name runs."""
    return dict(zip(runs["run_id"], runs["name"].fillna(runs["run_id"])))


def run_labels(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> 'name · protocol · source · run_id' for pickers and figure titles (a run and its csn-1000 twin
    differ)."""
    return {run_id: " · ".join(str(x) for x in parts if x == x and x) for run_id, *parts in
            zip(runs["run_id"], runs["name"], runs["protocol"], runs["source"], runs["run_id"])}


def runs_view(runs: pd.DataFrame, text: str = "", kinds=(), sources=(), statuses=()) -> pd.DataFrame:
    """The runs table as the Runs page shows it and ``export runs`` / ``runs`` print it: same columns, same
    filters."""
    return filter_runs(runs, text, list(kinds), list(sources), list(statuses))[RUNS_COLUMNS]


class ComparisonError(ValueError):
    """Two runs that must not be compared; the message says why and what to pick instead."""


def problem_sets(run: dict) -> dict[str, str]:
    """language -> the problems a codegen run covers (``config.problem_sets``); empty for other runs."""
    config = run.get("config")
    try:
        config = json.loads(config) if isinstance(config, str) else (config or {})
    except ValueError:
        return {}
    sets = config.get("problem_sets") if isinstance(config, dict) else None
    return sets if isinstance(sets, dict) else {}


def _problem_set_difference(base: dict, candidate: dict) -> str | None:
    """None when two codegen runs share every common language's problems; else why not."""
    a, b = problem_sets(base), problem_sets(candidate)
    common = sorted(set(a) & set(b))
    if not common:
        return f"no language in common ({', '.join(a) or '-'} vs {', '.join(b) or '-'})"
    differ = [f"{lang}: {a[lang]!r} vs {b[lang]!r}" for lang in common if a[lang] != b[lang]]
    return f"different problems ({'; '.join(differ)})" if differ else None


def check_comparable(base: dict, candidate: dict) -> str | None:
    """Raise if the runs were evaluated differently; return a caution text when only reference runs differ.

    Codegen runs compare per language on the problems they cover (a run over 50 problems is not compared with
    one over 164), retrieval runs on their benchmark id; both on their protocol."""
    if base["run_id"] == candidate["run_id"]:
        raise ComparisonError("base and candidate are the same run; pick two different runs")
    if problem_sets(base) and problem_sets(candidate):
        reason = _problem_set_difference(base, candidate)
        if reason:
            raise ComparisonError(f"the runs did not solve the same problems: {reason}; compare runs over the same "
                                  "problem set (same --limit, same source)")
        differs = [k for k in ("protocol",) if (base.get(k) or None) != (candidate.get(k) or None)]
    else:
        differs = [k for k in ("benchmark", "protocol") if (base.get(k) or None) != (candidate.get(k) or None)]
    if not differs:
        return None
    detail = "; ".join(f"{k}: {base.get(k)!r} vs {candidate.get(k)!r}" for k in differs)
    same_task = str(base.get("benchmark") or "").split("@")[0] == str(candidate.get("benchmark") or "").split("@")[0]
    if differs == ["benchmark"] and same_task:
        detail = (f"the same task {str(base.get('benchmark')).split('@')[0]!r} on different dataset revisions "
                  f"({str(base.get('benchmark')).partition('@')[2] or 'none'} vs "
                  f"{str(candidate.get('benchmark')).partition('@')[2] or 'none'}): the test data may differ")
    if base.get("source") == candidate.get("source") == Source.REFERENCE.value:
        return f"Both are published reference runs evaluated differently ({detail}); read the deltas with care."
    if differs == ["protocol"] and problem_sets(base) and Source.REFERENCE.value in (base.get("source"),
                                                                                   candidate.get("source")):
        return (f"Same problems, different decoding ({detail}): a published greedy pass@1 and a sampled estimate "
                "are not the same quantity; read the delta with care.")
    raise ComparisonError(f"the runs were evaluated differently ({detail}); pick runs with the same benchmark "
                          "and protocol (re-evaluate one of them on the other's benchmark)")


def comparable_candidates(runs: pd.DataFrame, base_id: str) -> list[str]:
    """Runs that ``check_comparable`` accepts against the base, in the given order: the candidates worth listing
    (each run is stored once per protocol, and the other protocol's twin would only be refused)."""
    by_id = runs.set_index("run_id", drop=False)
    base = by_id.loc[base_id].to_dict()
    rest = runs[runs["run_id"] != base_id]
    if not problem_sets(base):
        # Retrieval: the same benchmark and protocol pass as they are (a year of runs is one comparison away,
        # not 100,000 checks); only the others need the full check (reference runs pass with a caution).
        same = pd.Series(True, index=rest.index)
        for key in ("benchmark", "protocol"):
            same &= rest[key].map(lambda v: v or None) == (base.get(key) or None)
        accepted = set(rest.loc[same, "run_id"])
        rest = rest[~same & (rest["source"] == Source.REFERENCE.value)] \
            if base.get("source") == Source.REFERENCE.value else rest.iloc[0:0]
    else:
        accepted = set()
    for row in rest.itertuples(index=False):
        try:
            check_comparable(base, row._asdict())
        except ComparisonError:
            continue
        accepted.add(row.run_id)
    return [r for r in runs["run_id"] if r in accepted]


def protocol_stem(run_id: str, protocol) -> str:
    """A run's id without its protocol's suffix: a run and its protocol twins (the same evaluation scored under
    each protocol, ``<id>`` and ``<id>--csn-1000``) share it."""
    suffix = f"--{protocol}" if isinstance(protocol, str) and protocol else None
    return run_id[:-len(suffix)] if suffix and run_id.endswith(suffix) else run_id


def with_twins(runs: pd.DataFrame, chosen, options: list[str]) -> list[str]:
    """The ``chosen`` runs as picks among ``options`` (e.g. the candidates comparable with a new base): each kept
    when offered, else replaced by its protocol twin when that is offered, else dropped; order kept, no repeats.
    Anything that is not a run id (a stale widget value) is dropped."""
    offered = set(options)
    chosen = [c for c in chosen if isinstance(c, str)]
    if all(c in offered for c in chosen):
        return list(dict.fromkeys(chosen))
    protocol = dict(zip(runs["run_id"], runs["protocol"]))
    twin_of = {protocol_stem(r, protocol.get(r)): r for r in options}
    mapped = [c if c in offered else twin_of.get(protocol_stem(c, protocol.get(c))) for c in chosen]
    return list(dict.fromkeys(c for c in mapped if c is not None))


def deltas(metrics: pd.DataFrame, base_id: str, candidate_id: str) -> pd.DataFrame:
    """Per language x metric: base, candidate, absolute and relative delta, direction-aware verdict."""
    wide = _side_by_side(metrics, base_id, candidate_id)
    delta = wide["candidate"] - wide["base"]
    rel = np.where(wide["base"].abs() > 0, delta / wide["base"].abs() * 100.0, np.nan)
    sign = wide["metric"].map(lambda m: -1.0 if METRICS[m].direction is Direction.LOWER else 1.0)
    out = wide.assign(delta=delta, rel_delta_pct=rel, improvement_pct=rel * sign)
    out["verdict"] = [_verdict(b, c, d * s) for b, c, d, s in zip(out["base"], out["candidate"], delta, sign)]
    return out[DELTA_COLUMNS].reset_index(drop=True)


def multi_deltas(metrics: pd.DataFrame, base_id: str, candidate_ids: list[str]) -> pd.DataFrame:
    """deltas() of several candidates against one base, stacked with a ``candidate_id`` column."""
    parts = [deltas(metrics, base_id, c).assign(candidate_id=c) for c in candidate_ids]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=DELTA_COLUMNS + ["candidate_id"])


def _side_by_side(metrics, base_id, candidate_id) -> pd.DataFrame:
    def side(run_id, name):
        rows = metrics[metrics["run_id"] == run_id]
        return rows.set_index(["language", "metric"])["value"].rename(name)

    wide = pd.concat([side(base_id, "base"), side(candidate_id, "candidate")], axis=1).reset_index()
    wide.columns = ["language", "metric", "base", "candidate"]
    wide["_lang"] = wide["language"].map({k: i for i, k in enumerate(LANGUAGE_ORDER)})
    wide["_metric"] = wide["metric"].map({k: i for i, k in enumerate(METRICS)})
    return wide.sort_values(["_lang", "_metric"]).drop(columns=["_lang", "_metric"]).astype(
        {"base": float, "candidate": float})


def _verdict(base, candidate, signed_delta) -> str:
    if math.isnan(base):
        return "only in candidate"
    if math.isnan(candidate):
        return "only in base"
    if abs(signed_delta) < 1e-12:
        return "same"
    return "better" if signed_delta > 0 else "worse"


def run_scores(metrics: pd.DataFrame, metric: str = "ndcg@10") -> pd.DataFrame:
    """One score per run: its published ``overall`` value if stored, else the mean over its languages."""
    rows = metrics[metrics["metric"] == metric]
    if rows.empty:
        return pd.DataFrame(columns=["run_id", "score", "basis"])
    overall = rows[rows["language"] == Language.OVERALL.value].set_index("run_id")["value"]
    per_lang = rows[rows["language"] != Language.OVERALL.value].groupby("run_id")["value"].agg(["mean", "count"])
    out = per_lang.rename(columns={"mean": "score"})
    out["basis"] = out["count"].map(lambda n: f"mean of {n} languages")
    out = out.drop(columns="count").reindex(out.index.union(overall.index))
    has_overall = out.index.isin(overall.index)
    out.loc[has_overall, "score"] = overall.reindex(out.index[has_overall]).to_numpy()
    out.loc[has_overall, "basis"] = "published overall"
    return out.rename_axis("run_id").reset_index()


def _size_basis(provenance) -> str:
    """What a run's ``disk_mb`` measures: the run's own word for it (an MTEB import: memory_usage_mb), else disk."""
    try:
        value = json.loads(provenance).get("size_basis") if isinstance(provenance, str) else None
    except (ValueError, AttributeError):
        value = None
    return value or "disk"


def efficiency(runs: pd.DataFrame, metrics: pd.DataFrame, metric: str = "ndcg@10",
               intervals: pd.DataFrame | None = None, language: str | None = None) -> pd.DataFrame:
    """Score per disk MB and per million params, with Pareto-front flags (max score, min size); with
    ``language``, the score is that language's alone (runs without it are left out)."""
    if language:
        metrics = metrics[metrics["language"] == language]
        intervals = None  # the intervals are of the mean over languages
    scores = run_scores(metrics, metric)
    cols = ["run_id", "name", "kind", "source", "benchmark", "protocol", "params", "trainable_params", "disk_mb",
            "encode_throughput", "provenance"]
    out = runs[[c for c in cols if c in runs]].merge(scores, on="run_id", how="inner")
    provenance = out.get("provenance", pd.Series([None] * len(out)))
    out["size_basis"] = [_size_basis(p) for p in provenance]
    out["adapter_mb"] = [json_object(p).get("adapter_mb") for p in provenance]
    out["speed_device"] = [device.of_record(json_object(p)) for p in provenance]  # where encode_throughput was timed
    out["params_m"] = pd.to_numeric(out["params"], errors="coerce").astype(float) / 1e6
    # Share of the model a run trained (PEFT adapters: a fraction of a percent; full training: 100).
    out["trainable_pct"] = 100 * pd.to_numeric(out["trainable_params"], errors="coerce").astype(float) / (
        out["params_m"] * 1e6)
    out["disk_mb"] = pd.to_numeric(out["disk_mb"], errors="coerce").astype(float)
    # The score's own 95 % interval where the run has per-item results (significance.score_interval).
    ci = (intervals[(intervals["language"] == "mean") & (intervals["metric"] == metric)][["run_id", "ci_low", "ci_high"]]
          if intervals is not None and len(intervals) else pd.DataFrame(columns=["run_id", "ci_low", "ci_high"]))
    out = out.merge(ci.rename(columns={"ci_low": "score_ci_low", "ci_high": "score_ci_high"}), on="run_id", how="left")
    out.loc[out["basis"] == "published overall", ["score_ci_low", "score_ci_high"]] = np.nan
    out["score"] = out["score"].astype(float)
    out["score_per_mb"] = _per(out["score"], out["disk_mb"])
    out["score_per_mparams"] = _per(out["score"], out["params_m"])
    out["pareto_disk"] = pareto_front(out["score"], out["disk_mb"])
    out["pareto_params"] = pareto_front(out["score"], out["params_m"])
    out["pareto_trainable"] = pareto_front(out["score"], out["trainable_pct"])
    order = ["run_id", "name", "kind", "source", "score", "score_ci_low", "score_ci_high", "basis", "disk_mb",
             "size_basis", "adapter_mb", "params_m", "trainable_pct",
             "score_per_mb", "score_per_mparams", "encode_throughput", "speed_device", "pareto_disk", "pareto_params",
             "pareto_trainable", "benchmark", "protocol"]
    return out[order].sort_values("score_per_mb", ascending=False, na_position="last").reset_index(drop=True)


def relative(eff: pd.DataFrame, base_id: str, column: str) -> pd.Series:
    """``column`` of each run relative to ``base_id``'s: speed-up (encode_throughput) or retention (score)."""
    values = pd.to_numeric(eff[column], errors="coerce").astype(float)
    base = values[eff["run_id"] == base_id]
    if base.empty or not base.iloc[0] > 0:
        return pd.Series(np.nan, index=eff.index)
    return values / base.iloc[0]


def against_base(eff: pd.DataFrame, base_id: str | None, measurement: dict | None = None) -> pd.DataFrame:
    """The efficiency table relative to one run (the teacher by default, see ``speed_base``): ``speedup`` from
    the side-by-side ``measurement`` where it timed a run, else from per-run throughputs (``speedup_basis``
    says which), and ``retention`` of the score. The Efficiency page and ``export efficiency`` both use this."""
    if base_id is None or base_id not in set(eff["run_id"]):
        return eff.assign(speedup=np.nan, retention=np.nan, speedup_basis=None)
    speedup = relative(eff, base_id, "encode_throughput")
    out = eff.assign(speedup=speedup)
    # A throughput timed on another device than the base's is no speed-up over it (unknown devices, imported
    # runs', stay compared as per-run throughputs, which the basis says).
    base_device = eff.loc[eff["run_id"] == base_id, "speed_device"].iloc[0] if "speed_device" in eff else None
    elsewhere = (eff["speed_device"].notna() & (eff["speed_device"] != base_device) if base_device
                 else pd.Series(False, index=eff.index))
    out.loc[elsewhere, "speedup"] = np.nan
    out = measured_speed(out, measurement)
    out.loc[elsewhere & (out["speedup_basis"] != "side by side"), "speedup_basis"] = (
        f"not compared: timed on another device than the base ({base_device})")
    out["retention"] = relative(out, base_id, "score")  # e.g. a KD or Model2Vec student vs its teacher
    return out


def measured_speed(eff: pd.DataFrame, measurement: dict | None) -> pd.DataFrame:
    """The efficiency table with its speed-ups (already relative to the measurement's base) replaced by the
    side-by-side ones for the runs measured, ``speedup_basis`` saying which each row has, and the measured
    inference memory with its Pareto flags."""
    out = eff.assign(speedup_basis="per-run throughputs recorded at different times")
    if not measurement:
        return out
    table = pd.DataFrame(measurement["results"]).set_index("run_id")  # a speed measurement (retrieval.speed)
    inside = out["run_id"].isin(table.index)
    out.loc[inside, "speedup"] = out.loc[inside, "run_id"].map(table["speedup"])
    out.loc[inside, "speedup_basis"] = "side by side"
    out.loc[inside, "speed_device"] = measurement.get("device", "cpu")
    if "inference_mb" in table:
        out["inference_mb"] = out["run_id"].map(table["inference_mb"])
        out["pareto_inference"] = pareto_front(out["score"], out["inference_mb"])
    return out


def speed_base(eff: pd.DataFrame) -> str | None:
    """The run speed-ups and retention are relative to by default: a teacher with a throughput, else the first
    timed run, else None."""
    timed = eff[eff["encode_throughput"].notna()]
    teachers = timed[timed["kind"] == "teacher-eval"]["run_id"].tolist()
    return (teachers or timed["run_id"].tolist() or [None])[0]


def evaluation_groups(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """(benchmark, protocol) pairs with runs, most runs first: only runs within one group are comparable."""
    keys = runs[["benchmark", "protocol"]].fillna("").astype(str)
    counts = keys.value_counts()
    return [tuple(k) for k in counts.index]


def _per(score: pd.Series, size: pd.Series) -> pd.Series:
    # A size of 0 or less is missing data, not an infinitely efficient model.
    return score / size.where(size > 0)


def filter_runs(runs: pd.DataFrame, text: str = "", kinds=(), sources=(), statuses=()) -> pd.DataFrame:
    """Runs whose id, name or model contains ``text`` (plain substring, never evaluated) and in the chosen sets."""
    keep = pd.Series(True, index=runs.index)
    if text.strip():
        needle = text.strip().lower()
        text_of = [runs[c].astype("string").fillna("") for c in ("run_id", "name", "model")]
        haystack = (text_of[0] + " " + text_of[1] + " " + text_of[2]).str.lower()
        keep &= haystack.str.contains(needle, regex=False)
    for column, chosen in (("kind", kinds), ("source", sources), ("status", statuses)):
        if chosen:
            keep &= runs[column].isin(list(chosen))
    return runs[keep]


def metrics_table(metrics: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """One run's metrics pivoted for display: a row per language, a column per metric."""
    rows = metrics[metrics["run_id"] == run_id]
    table = rows.pivot_table(index="language", columns="metric", values="value", aggfunc="first")
    table = table.reindex([lang for lang in LANGUAGE_ORDER if lang in table.index])
    return table[[m for m in METRICS if m in table.columns]].reset_index()


PAIR_PREFERENCE = [("teacher-eval", "m2v-distill"), ("m2v-distill", "m2v-tokenlearn")]


def default_pair(runs: pd.DataFrame) -> tuple[str, str]:
    """A first comparison that answers the usual question: teacher vs its student (else distill vs tokenlearn),
    evaluated the same way, newest local runs and the full protocol first."""
    ordered = runs.assign(_local=runs["source"] != "local", _full=runs["protocol"] != "full").sort_values(
        ["_local", "_full", "created_at"], ascending=[True, True, False], na_position="last")
    for base_kind, candidate_kind in PAIR_PREFERENCE:
        for base in ordered[ordered["kind"] == base_kind].itertuples():
            same = ordered[(ordered["kind"] == candidate_kind) & (ordered["benchmark"].fillna("") == (base.benchmark or ""))
                           & (ordered["protocol"].fillna("") == (base.protocol or ""))]
            if len(same):
                return base.run_id, same.iloc[0]["run_id"]
    ids = ordered["run_id"].tolist()
    return ids[0], ids[1] if len(ids) > 1 else ids[0]


def codegen_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (codegen run, language) with its pass@k values, size, memory and method (colour)."""
    passk = metrics[metrics["metric"].str.startswith("pass@")]
    wide = passk.pivot_table(index=["run_id", "language"], columns="metric", values="value").reset_index()
    problems = passk[passk["metric"] == "pass@1"][["run_id", "language", "n"]].rename(columns={"n": "problems"})
    wide = wide.merge(problems, on=["run_id", "language"], how="left")
    cols = ["run_id", "name", "kind", "source", "model", "protocol", "params", "trainable_params", "peak_memory_mb",
            "disk_mb", "tokens_per_s", "train_seconds", "config", "status", "benchmark"]
    table = runs[cols].merge(wide, on="run_id")
    table["method"] = [_method(kind, config) for kind, config in zip(table["kind"], table["config"])]
    table["params_m"] = table["params"] / 1e6
    table["problem_set"] = [problem_sets(row).get(lang) or row["benchmark"]
                            for row, lang in zip(table.to_dict("records"), table["language"])]
    # Runs over different problems of one language are drawn apart, never in one facet.
    per_language = table.groupby("language")["problem_set"].transform("nunique")
    table["facet"] = [lang if k == 1 else f"{lang} · {ps}" for lang, ps, k in
                      zip(table["language"], table["problem_set"], per_language)]
    order = ["name", "language", "problem_set", "method", *[c for c in PASS_METRICS if c in table],
             "problems", "params_m", "peak_memory_mb", "tokens_per_s", "train_seconds", "trainable_params",
             "protocol", "source", "model", "run_id", "facet"]
    return table[order].sort_values(["language", "name"]).reset_index(drop=True)


def _method(kind: str, config) -> str:
    """Colour group of a codegen run: base model, or the fine-tuning method."""
    try:
        method = json.loads(config or "{}").get("method")
    except ValueError:
        method = None
    return f"{method} fine-tuned" if kind == "codegen-finetune" and method else "base"


def flipped_problems(problems: pd.DataFrame, run_a: str, run_b: str) -> pd.DataFrame:
    """Problems whose pass rate differs between two runs (same language and problem id): gains first."""
    rate = (problems.assign(passed=problems["status"] == "PASS")
            .groupby(["run_id", "language", "problem_id"])["passed"].mean().reset_index())
    a = rate[rate["run_id"] == run_a].drop(columns="run_id").rename(columns={"passed": "pass_rate_a"})
    b = rate[rate["run_id"] == run_b].drop(columns="run_id").rename(columns={"passed": "pass_rate_b"})
    both = a.merge(b, on=["language", "problem_id"])
    both["change"] = both["pass_rate_b"] - both["pass_rate_a"]
    flipped = both[both["change"] != 0].copy()
    flipped["flip"] = flipped["change"].map(lambda c: "now passes" if c > 0 else "now fails")
    return flipped.sort_values(["change", "language", "problem_id"], ascending=[False, True, True]).reset_index(drop=True)


def _flatten(prefix: str, value, out: dict):
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = json.dumps(value, sort_keys=True) if isinstance(value, list) else value


def json_object(value) -> dict:
    """A JSON object stored as text (config, provenance), or {} when absent or not an object."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def source_versions(manifest: dict) -> dict[str, str]:
    """language -> the packages (and versions) a built benchmark was mined from (its manifest)."""
    out = {}
    for language, info in (manifest.get("languages") or {}).items():
        packages = info.get("packages") or []
        out[language] = ", ".join(f"{p.get('package')} {p.get('version') or p.get('name') or ''}".strip()
                                  for p in packages if isinstance(p, dict)) or info.get("kind", "")
    return out


NOT_SET = "(not set)"  # a key one run's config or provenance has and another's lacks


def run_details(run: dict, manifests: dict[str, dict] | None = None) -> dict:
    """How a run was made, flat (``config.pca_dims``, ``provenance.environment.libraries.torch``, ...): its
    benchmark and protocol, config, provenance and, where the benchmark's manifest is known, the versions of the
    sources it was mined from."""
    out = {"benchmark": run.get("benchmark"), "protocol": run.get("protocol")}
    _flatten("config", json_object(run.get("config")), out)
    _flatten("provenance", json_object(run.get("provenance")), out)
    bench = str(run.get("benchmark") or "")
    if bench in (manifests or {}):
        _flatten("benchmark sources", source_versions(manifests[bench]), out)
    return out


def _same_value(value) -> str:
    """A value as compared between runs: None, NaN and NA alike as null (pandas 3 keeps NaN through astype(str),
    which nunique then skips), a whole float as its int, anything else as its JSON."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, default=str)


def config_diff(runs: pd.DataFrame, manifests: dict[str, dict] | None = None) -> pd.DataFrame:
    """Only what differs between two or more runs (``run_details``): one row per differing key, one column per
    run (by name). A key one run lacks differs from any value of it (shown as NOT_SET); None, NaN and a missing
    value are compared as values, not skipped."""
    flat = {f"{run.get('name')} · {run.get('run_id')}": run_details(run, manifests) for run in runs.to_dict("records")}
    keys = sorted({k for values in flat.values() for k in values})
    missing = object()
    rows = [[key, *(values.get(key, missing) for values in flat.values())] for key in keys]
    differing = [[NOT_SET if v is missing else v for v in row] for row in rows
                 if len({"missing" if v is missing else _same_value(v) for v in row[1:]}) > 1]
    return pd.DataFrame(differing, columns=["key", *flat], dtype=object)


def seed_group_key(run: dict) -> str | None:
    """Runs whose configs differ only by ``seed`` (same kind, benchmark and protocol) share this key; None for
    runs without a config."""
    config = json_object(run.get("config"))
    if not config or "seed" not in config:
        return None
    rest = {k: v for k, v in config.items() if k != "seed"}
    return json.dumps([run.get("kind"), run.get("benchmark"), run.get("protocol"), rest], sort_keys=True)


def _seed_keyed(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that share their seed-group key with another run, with the key as ``_key``."""
    keys = [seed_group_key({"kind": k, "benchmark": b, "protocol": p, "config": c}) if c else None
            for k, b, p, c in zip(runs["kind"], runs["benchmark"], runs["protocol"], runs["config"])]
    keyed = runs.assign(_key=keys).dropna(subset=["_key"])
    return keyed[keyed.groupby("_key")["_key"].transform("size") > 1]


def seeded_run_ids(runs: pd.DataFrame) -> list[str]:
    """Runs in a seed group (another run differs from them only by seed): whose metrics seed_groups needs."""
    return _seed_keyed(runs)["run_id"].tolist()


def seed_groups(runs: pd.DataFrame, metrics: pd.DataFrame, metric: str = "ndcg@10") -> pd.DataFrame:
    """One row per (group of runs that differ only by seed, language incl. ``mean``) with two or more seeds:
    the mean and sd of the metric over seeds and a 95 % t-interval over seeds — how much a seed alone moves it."""
    from scipy import stats
    rows = []
    for key, group in _seed_keyed(runs).groupby("_key"):
        values = metrics[(metrics["run_id"].isin(group["run_id"])) & (metrics["metric"] == metric)
                         & (metrics["language"] != Language.OVERALL.value)]
        per_run = values.pivot_table(index="run_id", columns="language", values="value")
        per_run["mean"] = per_run.mean(axis=1)
        label = f"{group['name'].iloc[0]} ×{len(group)} seeds ({', '.join(map(str, sorted(json_object(c).get('seed') for c in group['config'])))})"
        for language in per_run.columns:
            v = per_run[language].dropna().to_numpy()
            if len(v) < 2:
                continue
            half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
            rows.append((label, len(v), language, v.mean(), v.std(ddof=1), v.mean() - half, v.mean() + half,
                         ", ".join(group["run_id"])))
    return pd.DataFrame(rows, columns=["group", "seeds", "language", "mean", "sd", "ci_low", "ci_high", "run_ids"])
