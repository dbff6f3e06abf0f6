"""The leaderboard of one evaluation or codegen problem set (the Leaderboard page, ``leaderboard``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backend import compare, significance
from backend.frames import by_language
from backend.kinds import kinds_of
from backend.views.base import View, evaluation_choices, one_evaluation
from backend.vocab import METRICS, PASS_METRICS

MOST_RUNS = "most runs"  # the codegen problem set most runs cover


@dataclass(frozen=True)
class Choices:
    """What the Leaderboard page offers for a store's runs: the families present, the retrieval evaluations
    ("benchmark · protocol" labels, the default as ``leaderboard``'s), the codegen problem sets."""
    families: list[str]
    groups: dict[str, tuple[str, str]]
    default_group: str | None
    problem_sets: list[str]

    def scores(self, family: str, stored) -> tuple[list[str], str | None]:
        """(scores a family can be ranked by among the stored metric names, the default one)."""
        if family == "codegen":
            options = [m for m in PASS_METRICS if m in set(stored)]
            return options, "pass@1" if "pass@1" in options else (options or [None])[0]
        options = [m for m in METRICS if m in set(stored) and not m.startswith(("pass@", "perplexity", "base_"))]
        return options, "ndcg@10" if "ndcg@10" in options else (options or [None])[0]


def choices(runs: pd.DataFrame) -> Choices:
    """The Leaderboard page's choices among these runs (the finished ones)."""
    runs = runs[runs["status"] == "finished"]
    is_codegen = runs["kind"].isin(kinds_of("codegen"))
    families = [f for f, present in (("retrieval", (~is_codegen).any()), ("codegen", is_codegen.any())) if present]
    groups, first = evaluation_choices(runs[~is_codegen])
    sets = sorted({s for run in runs[is_codegen].to_dict("records") for s in compare.problem_sets(run).values()})
    return Choices(families, groups, first, [MOST_RUNS, *sets])


def how_to_read(resampling) -> str:
    """The caption under the Leaderboard page's table: what rank, interval, tier and Pareto mean."""
    return ("Rank: by value (ties share the better rank). Rank interval: 95 % over a paired bootstrap of the "
            f"items ({resampling.resamples:,} resamples, seed {resampling.seed}), the same resampled queries "
            "(problems) for every run. Tier 1: the best run and every run not significantly different from it "
            "(paired sign-flip test, Holm-adjusted across runs), tier 2 the same among the rest. Runs without "
            "per-item results are ranked by value, without interval or tier. The mean is ranked over runs with "
            "every language. Pareto: no run is better and smaller (disk MB).")


def leaderboard(store, runs_dir: Path, metric: str | None = None, bench: str | None = None,
                protocol: str | None = None, budget=None, resampling=None, languages=None, public: bool = True,
                codegen: bool = False, codegen_set: str | None = None) -> View:
    """The Leaderboard page's table and ``leaderboard``'s CSV — every run of one retrieval
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
        values = by_language(metrics)
    else:
        metric = metric or "ndcg@10"
        groups = compare.evaluation_groups(runs[~family])
        runs, notes = one_evaluation(runs[~family], bench, protocol, "leaderboard", "a rank")
        if runs.empty and groups:
            raise ValueError(f"no finished retrieval run evaluated on benchmark {bench!r}, protocol {protocol!r}; "
                             f"pick --bench/--protocol from {', '.join(f'{b}·{p}' for b, p in groups[:5])}")
        values = store.metric_by_language(metric, runs["run_id"].tolist())
        runs = _with_budget_columns(runs, values, runs_dir, metric)
        items = _query_items(store, runs["run_id"], metric)
    table, more = lb.leaderboard(runs, values, items, metric, languages, budget, resampling)
    if values.empty:
        more.append(f"no {'codegen' if codegen else 'retrieval'} run here has {metric}"
                    + (" (published codegen figures may give pass@100 only: try --metric pass@100)" if codegen else ""))
    return View(table, notes=notes + more)


def _with_budget_columns(runs: pd.DataFrame, values: pd.DataFrame, runs_dir: Path, metric: str) -> pd.DataFrame:
    """Retrieval runs with memory_mb and speedup where measured side by side (the Efficiency page's)."""
    from backend.retrieval import speed
    if not speed.bases(runs_dir) & set(runs["run_id"].tolist()):  # no measurement relative to any of them:
        return runs.assign(speedup=float("nan"), memory_mb=float("nan"))  # not the efficiency table of 100k runs
    eff = compare.efficiency(runs, values, metric)
    base = compare.speed_base(eff)
    measured = compare.against_base(eff, base, speed.latest(runs_dir, base) if base else None)
    side = measured[measured["speedup_basis"] == "side by side"].set_index("run_id")
    out = runs.copy()
    out["speedup"] = out["run_id"].map(side["speedup"]) if len(side) else float("nan")
    out["memory_mb"] = out["run_id"].map(side["inference_mb"]) if "inference_mb" in side else float("nan")
    return out


def _query_items(store, run_ids, metric: str) -> pd.DataFrame:
    """Per-query values of ``metric`` from the stored gold ranks (none for a metric that is not a mean over
    queries, e.g. the median rank)."""
    queries = store.query_results(run_ids.tolist() if hasattr(run_ids, "tolist") else list(run_ids))
    values = significance.query_values(queries["gold_rank"].to_numpy(), metric) if len(queries) else None
    if values is None:
        return pd.DataFrame(columns=["run_id", "language", "item_id", "value"])
    return pd.DataFrame({"run_id": queries["run_id"], "language": queries["language"],
                         "item_id": queries["query_id"], "value": values})


def _codegen_field(store, runs: pd.DataFrame, metric: str, codegen_set: str | None):
    """(runs, metric rows and per-problem pass@k of the runs over one problem set per language, notes naming
    the refused ones)."""
    from backend.codegen.passk import pass_at_k
    if not metric.startswith("pass@"):
        raise ValueError(f"codegen runs are ranked by pass@k (pass@1, pass@5, ...), not {metric!r}")
    k = int(metric.split("@")[1])
    coverage = {(row["run_id"], lang): sets for row in runs.to_dict("records")
                for lang, sets in (compare.problem_sets(row) or {}).items()}
    metrics = store.metrics(runs["run_id"].tolist(), [metric])
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
