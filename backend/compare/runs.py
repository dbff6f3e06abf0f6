"""What is shown of runs: names and labels, the runs table and its filter, metrics per language, the default
pair, config and provenance flattened, and what differs between runs."""
from __future__ import annotations

import json
import math

import pandas as pd

from backend.vocab import (
    CODE_LANGUAGES,
    METRICS,
    Language,
)

LANGUAGE_ORDER = CODE_LANGUAGES + [Language.OVERALL.value]
RUNS_COLUMNS = ["run_id", "name", "kind", "status", "source", "benchmark", "protocol", "params", "disk_mb",
                "languages", "created_at", "error"]


def run_names(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> the run's name (its id when it has none): how reports and titles name runs."""
    return dict(zip(runs["run_id"].tolist(), runs["name"].fillna(runs["run_id"]).tolist()))  # lists: 10x faster


def run_labels(runs: pd.DataFrame) -> dict[str, str]:
    """run_id -> 'name · protocol · source · run_id' for pickers and figure titles (a run and its csn-1000 twin
    differ)."""
    def label(run_id, name, protocol, source) -> str:
        if type(name) is str and type(protocol) is str and type(source) is str and name and protocol and source:
            return f"{name} · {protocol} · {source} · {run_id}"  # the usual run, without a generator per run
        return " · ".join(str(x) for x in (name, protocol, source, run_id) if x == x and x)
    return {run_id: label(run_id, *parts) for run_id, *parts in
            zip(*(runs[c].tolist() for c in ("run_id", "name", "protocol", "source")))}


def runs_view(runs: pd.DataFrame, text: str = "", kinds=(), sources=(), statuses=()) -> pd.DataFrame:
    """The runs table as the Runs page shows it and ``export runs`` / ``runs`` print it: same columns, same
    filters."""
    return filter_runs(runs, text, list(kinds), list(sources), list(statuses))[RUNS_COLUMNS]


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
