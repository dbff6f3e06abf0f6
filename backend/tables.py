"""The comparison tables read from the store, for ``export`` and ``report``: the same pure functions the pages
call (compare, significance, speed), with the same filters and columns."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backend import compare, report, significance
from backend.kinds import kinds_of
from backend.store import Store

EXPORTS = ("runs", "metrics", "efficiency", "deltas", "codegen")


def known_runs(store: Store, run_ids) -> pd.DataFrame:
    """The store's runs indexed by id; an unknown id is one clear error."""
    runs = store.runs().set_index("run_id", drop=False)
    for run_id in run_ids:
        if run_id not in runs.index:
            raise ValueError(f"no run {run_id!r} in {store.path}; list them with python -m backend runs")
    return runs


def deltas(store: Store, base: str, candidates: list[str], resampling=None) -> tuple[pd.DataFrame, list[str]]:
    """(deltas with significance, cautions): the Language deltas page's table."""
    if not base or not candidates:
        raise ValueError("deltas need --base RUN_ID and --candidate RUN_ID (see python -m backend runs)")
    runs = known_runs(store, [base, *candidates])
    cautions = [compare.check_comparable(runs.loc[base].to_dict(), runs.loc[c].to_dict()) for c in candidates]
    table = significance.stored_deltas(store, base, candidates, resampling or significance.Resampling())
    return table, [c for c in cautions if c]


def efficiency(store: Store, runs_dir: Path, metric: str = "ndcg@10", bench: str | None = None,
               protocol: str | None = None, run_ids=None, speed_base: str | None = None
               ) -> tuple[pd.DataFrame, str | None, list[str]]:
    """(table, the run speed-ups are relative to, notes): the Efficiency page's table for one benchmark and
    protocol (default: the one with most runs; a Pareto front across evaluations would mean nothing)."""
    from backend.retrieval import speed
    runs = store.runs() if run_ids is None else known_runs(store, run_ids).loc[list(run_ids)].reset_index(drop=True)
    runs = runs[~runs["kind"].isin(kinds_of("codegen"))]  # code LMs have their own table (codegen)
    runs, notes = one_evaluation(runs, bench, protocol, "efficiency", "the Pareto front")
    intervals = significance.score_interval(significance.stored_values(store, runs["run_id"]))
    eff = compare.efficiency(runs, store.metrics(names=[metric]), metric, intervals)  # one metric, as the page
    base = speed_base or compare.speed_base(eff)
    if speed_base and speed_base not in set(eff["run_id"]):
        raise ValueError(f"run {speed_base!r} is not in this evaluation's efficiency table (no {metric} score, "
                         "or another benchmark/protocol)")
    measurement = speed.latest(runs_dir, base) if base else None
    if base and not measurement:
        notes.append("speed-ups divide per-run throughputs recorded at different times; measure them side by "
                     f"side with: python -m backend speed --base {base} RUN...")
    return compare.against_base(eff, base, measurement), base, notes


def one_evaluation(runs: pd.DataFrame, bench: str | None, protocol: str | None, what: str,
                   why: str) -> tuple[pd.DataFrame, list[str]]:
    """The runs of one benchmark and protocol (default: the one with most runs, said in a note)."""
    notes = []
    groups = compare.evaluation_groups(runs)
    if (bench is None or protocol is None) and len(groups) > 1:
        bench, protocol = (bench, protocol) if bench is not None and protocol is not None else groups[0]
        notes.append(f"{what} for benchmark {bench!r}, protocol {protocol!r} ({why} only means something within "
                     f"one evaluation); others: --bench/--protocol from "
                     f"{', '.join(f'{b}·{p}' for b, p in groups[1:4])}")
    if bench is not None:
        runs = runs[runs["benchmark"].fillna("") == bench]
    if protocol is not None:
        runs = runs[runs["protocol"].fillna("") == protocol]
    return runs, notes


def leaderboard(store: Store, runs_dir: Path, metric: str | None = None, bench: str | None = None,
                protocol: str | None = None, budget=None, resampling=None, languages=None, public: bool = True,
                codegen: bool = False, codegen_set: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """(table, notes): the Leaderboard page's table and ``leaderboard``'s CSV — every run of one retrieval
    evaluation (or one codegen problem set) ranked per language and on the mean (backend.leaderboard).
    ``public``: include published and imported runs (source other than local)."""
    from backend import leaderboard as lb
    budget = budget or lb.Budget()
    resampling = resampling or significance.Resampling(resamples=1000)
    runs = store.runs()
    runs = runs[runs["status"] == "finished"]
    if not public:
        runs = runs[runs["source"] == "local"]
    family = runs["kind"].isin(kinds_of("codegen"))
    if codegen:
        metric = metric or "pass@1"
        runs, metrics, items, notes = _codegen_field(store, runs[family], metric, codegen_set)
    else:
        metric = metric or "ndcg@10"
        groups = compare.evaluation_groups(runs[~family])
        runs, notes = one_evaluation(runs[~family], bench, protocol, "leaderboard", "a rank")
        if runs.empty and groups:
            raise ValueError(f"no finished retrieval run evaluated on benchmark {bench!r}, protocol {protocol!r}; "
                             f"pick --bench/--protocol from {', '.join(f'{b}·{p}' for b, p in groups[:5])}")
        metrics = store.metrics(list(runs["run_id"]), [metric])
        runs = _with_budget_columns(runs, metrics, runs_dir, metric)
        items = _query_items(store, runs["run_id"], metric)
    table, more = lb.leaderboard(runs, metrics, items, metric, languages, budget, resampling)
    if metrics.empty:
        more.append(f"no {'codegen' if codegen else 'retrieval'} run here has {metric}"
                    + (" (published codegen figures may give pass@100 only: try --metric pass@100)" if codegen else ""))
    return table, notes + more


def _with_budget_columns(runs: pd.DataFrame, metrics: pd.DataFrame, runs_dir: Path, metric: str) -> pd.DataFrame:
    """Retrieval runs with memory_mb and speedup where measured side by side (the Efficiency page's)."""
    from backend.retrieval import speed
    eff = compare.efficiency(runs, metrics, metric)
    base = compare.speed_base(eff)
    measured = compare.against_base(eff, base, speed.latest(runs_dir, base) if base else None)
    side = measured[measured["speedup_basis"] == "side by side"].set_index("run_id")
    out = runs.copy()
    out["speedup"] = out["run_id"].map(side["speedup"]) if len(side) else float("nan")
    out["memory_mb"] = out["run_id"].map(side["inference_mb"]) if "inference_mb" in side else float("nan")
    return out


def _query_items(store: Store, run_ids, metric: str) -> pd.DataFrame:
    """Per-query values of ``metric`` from the stored gold ranks (none for a metric that is not a mean over
    queries, e.g. the median rank)."""
    queries = store.query_results(list(run_ids))
    values = significance.query_values(queries["gold_rank"].to_numpy(), metric) if len(queries) else None
    if values is None:
        return pd.DataFrame(columns=["run_id", "language", "item_id", "value"])
    return pd.DataFrame({"run_id": queries["run_id"], "language": queries["language"],
                         "item_id": queries["query_id"], "value": values})


def _codegen_field(store: Store, runs: pd.DataFrame, metric: str, codegen_set: str | None):
    """(runs, metric rows and per-problem pass@k of the runs over one problem set per language, notes naming
    the refused ones)."""
    from backend.codegen.passk import pass_at_k
    if not metric.startswith("pass@"):
        raise ValueError(f"codegen runs are ranked by pass@k (pass@1, pass@5, ...), not {metric!r}")
    k = int(metric.split("@")[1])
    coverage = {(row["run_id"], lang): sets for row in runs.to_dict("records")
                for lang, sets in (compare.problem_sets(row) or {}).items()}
    metrics = store.metrics(list(runs["run_id"]), [metric])
    metrics = metrics.assign(cover=[coverage.get((r, lang)) or b or "unknown problems" for r, lang, b in zip(
        metrics["run_id"], metrics["language"], metrics["run_id"].map(runs.set_index("run_id")["benchmark"]))])
    keep, notes = set(), []
    for language, group in metrics.groupby("language"):
        chosen = codegen_set if codegen_set in set(group["cover"]) else group["cover"].value_counts().index[0]
        keep |= {(r, language) for r in group.loc[group["cover"] == chosen, "run_id"]}
        for r, cover in zip(group["run_id"], group["cover"]):
            if cover != chosen:
                notes.append(f"refused: {r} in {language} covers problems {cover!r}, not {chosen!r} (pass@k over "
                             "other problems is not comparable; pick it with --codegen-set)")
    problems = store.problem_results(list(runs["run_id"]))
    if len(problems):
        counts = (problems.assign(passed=problems["status"] == "PASS")
                  .groupby(["run_id", "language", "problem_id"])["passed"].agg(["size", "sum"]).reset_index())
        counts = counts[counts["size"] >= k]  # pass@k needs k samples of the problem
        items = pd.DataFrame({"run_id": counts["run_id"], "language": counts["language"],
                              "item_id": counts["problem_id"],
                              "value": [pass_at_k(int(n), int(c), k) for n, c in zip(counts["size"], counts["sum"])]})
    else:
        items = pd.DataFrame(columns=["run_id", "language", "item_id", "value"])
    items = items[np.array([key in keep for key in zip(items["run_id"], items["language"])], dtype=bool)]
    metrics = metrics[np.array([key in keep for key in zip(metrics["run_id"], metrics["language"])], dtype=bool)]
    metrics = metrics.drop(columns="cover")
    runs = runs[runs["run_id"].isin({r for r, _ in keep})]
    return runs.assign(memory_mb=runs["peak_memory_mb"], speedup=float("nan")), metrics, items, notes


def codegen(store: Store, run_ids=None) -> pd.DataFrame:
    """The Codegen page's per-language table of finished codegen runs."""
    runs = store.runs()
    runs = runs[runs["kind"].isin(kinds_of("codegen")) & (runs["status"] == "finished")]
    if run_ids is not None:
        runs = runs[runs["run_id"].isin(list(run_ids))]
    return compare.codegen_table(runs, store.metrics())


def export(what: str, store: Store, runs_dir: Path, base=None, candidates=None, metric="ndcg@10",
           evaluation=(None, None)) -> tuple[pd.DataFrame, str | None]:
    """(table, caution or None) for ``python -m backend export WHAT``."""
    if what == "runs":
        return compare.runs_view(store.runs()), None
    if what == "metrics":
        return store.metrics(), None
    if what == "codegen":
        return codegen(store), None
    if what == "efficiency":
        eff, _, notes = efficiency(store, runs_dir, metric, *evaluation, speed_base=base)
        return eff, " ".join(notes) or None
    table, cautions = deltas(store, base, candidates)
    return (table if len(candidates) > 1 else table.drop(columns="candidate_id")), " ".join(cautions) or None


def comparison_report(store: Store, runs_dir: Path, base: str | None = None, candidates=(), metric="ndcg@10",
                      evaluation=(None, None), resampling=None) -> report.Report:
    """A report of one comparison: deltas (base vs candidates), efficiency of those runs' evaluation and, for
    codegen runs, pass@k. Without a base: efficiency and the leaderboard of the evaluation with most runs, and
    every codegen run."""
    runs = store.runs()
    names = compare.run_names(runs)
    chosen = [base, *candidates] if base else None
    sections = []
    if base and candidates:
        resampling = resampling or significance.Resampling()
        table, cautions = deltas(store, base, list(candidates), resampling)
        sections.append(report.deltas_section(table, names, base, resampling.note(), cautions))
    codegen_ids = set(runs[runs["kind"].isin(kinds_of("codegen"))]["run_id"])
    retrieval_ids = None if chosen is None else [r for r in chosen if r not in codegen_ids]
    if retrieval_ids is None or retrieval_ids:
        if chosen is not None and evaluation == (None, None):
            first = known_runs(store, chosen).loc[retrieval_ids[0]]
            evaluation = (first["benchmark"] or "", first["protocol"] or "")
        eff, speed_base, notes = efficiency(store, runs_dir, metric, *evaluation, run_ids=retrieval_ids,
                                            speed_base=base if base in (retrieval_ids or []) else None)
        if len(eff):
            sections.append(report.efficiency_section(eff, metric, names.get(speed_base), notes))
        if chosen is None:  # the overview report: who is ahead in that evaluation
            board, board_notes = leaderboard(store, runs_dir, metric, *evaluation)
            if len(board):
                sections.append(report.leaderboard_section(board, metric, board_notes))
    table = codegen(store, None if chosen is None else [r for r in chosen if r in codegen_ids])
    if len(table):
        sections.append(report.codegen_section(table))
    if not sections:
        raise ValueError("nothing to report: no runs with scores (import or launch some first)")
    title = (f"{names.get(base, base)} vs {', '.join(names.get(c, c) for c in candidates)}" if base and candidates
             else "Code-model comparison")
    return report.Report(title, sections, report.made_from(store.path))
