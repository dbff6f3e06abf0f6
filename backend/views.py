"""The read side: every comparison the product shows, one function each, returning a ``View`` — its table, the
cautions to show with it and its figures. The pages, ``export``, ``report`` and ``check`` all ask here, so a
page's table and its CLI export are the same table by construction.

``store`` is anything with the Store's read methods (``runs``, ``metrics``, ``query_results``,
``problem_results``): the Store itself for the CLI, a cached reader for the pages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from backend import compare, figures, public_view, report, significance
from backend.kinds import kinds_of
from backend.vocab import METRICS, PASS_METRICS

EXPORTS = ("runs", "metrics", "efficiency", "deltas", "codegen")


@dataclass(frozen=True)
class Figure:
    """A figure of a view: ``build(*args, **kwargs)``, a backend.figures function (the page adds its palette)."""
    title: str
    build: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    missing: str | None = None  # the column whose missing values leave runs out of it (named under it)
    key: str | None = None  # the page's element key, where two figures could look alike


@dataclass
class View:
    table: pd.DataFrame
    cautions: list[str] = field(default_factory=list)  # read the table with care: why
    notes: list[str] = field(default_factory=list)  # what was chosen for the reader (evaluation, base)
    figures: list[Figure] = field(default_factory=list)
    base: str | None = None  # the run the table is relative to
    measurement: dict | None = None  # efficiency: the side-by-side speed measurement used


def known_runs(store, run_ids) -> pd.DataFrame:
    """The store's runs indexed by id; an unknown id is one clear error."""
    runs = store.runs().set_index("run_id", drop=False)
    for run_id in run_ids:
        if run_id not in runs.index:
            raise ValueError(f"no run {run_id!r} in {store.path}; list them with python -m backend runs")
    return runs


def runs(store, text: str = "", kinds=(), sources=(), statuses=(), public: bool = True) -> View:
    """The Runs page's table (and ``export runs``), grouped by where runs come from (the public leaderboards'
    last); ``public``: with the public leaderboards' models."""
    every = store.runs()
    return View(public_view.grouped(compare.runs_view(public_view.shown(every, public), text, kinds, sources,
                                                      statuses), every))


def score_intervals(store, run_ids) -> pd.DataFrame:
    """Each run's per-language and mean scores with their 95 % interval (runs with per-item results only)."""
    return significance.score_interval(significance.stored_values(store, run_ids))


# -- language deltas ---------------------------------------------------------------------------------------------

def deltas(store, base: str, candidates: list[str], resampling=None) -> View:
    """Deltas with significance of candidates against a base, per language and metric (the Language deltas
    page, ``export deltas``); cautions for reference runs evaluated differently, one heatmap per candidate."""
    if not base or not candidates:
        raise ValueError("deltas need --base RUN_ID and --candidate RUN_ID (see python -m backend runs)")
    runs = known_runs(store, [base, *candidates])
    cautions = [compare.check_comparable(runs.loc[base].to_dict(), runs.loc[c].to_dict()) for c in candidates]
    resampling = resampling or significance.Resampling()
    table = significance.stored_deltas(store, base, candidates, resampling)
    names = compare.run_labels(runs)
    return View(table, [c for c in cautions if c], [f"Test: {resampling.note()}."], base=base,
                figures=[Figure(f"{names[c]}  vs  base", figures.deltas_heatmap, (table[table["candidate_id"] == c],),
                                {"title": f"{names[c]}  vs  base"}) for c in candidates])


def deltas_export(table: pd.DataFrame) -> pd.DataFrame:
    """The deltas table as shown and written (the page's table and CSV, ``export deltas``): the candidate_id
    column only when there are several candidates."""
    return table if table["candidate_id"].nunique() > 1 else table.drop(columns="candidate_id")


def check(store, base: str, candidates: list[str], metrics=None, languages=None, max_drop: float = 0.0,
          resampling=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The CI gate: (the checked cells with p-values adjusted within them, the cells significantly worse by more
    than ``max_drop``, the cells whose significance is unknown). Runs evaluated differently are refused."""
    runs = known_runs(store, [base, *candidates])
    for candidate in candidates:
        compare.check_comparable(runs.loc[base].to_dict(), runs.loc[candidate].to_dict())
    resampling = resampling or significance.Resampling()
    table = significance.stored_deltas(store, base, candidates, resampling)
    keep = table["metric"].isin(metrics or ["ndcg@10"])
    if languages:
        keep &= table["language"].isin(languages)
    table = table[keep].copy()
    # The family is the cells checked, not every cell the deltas table holds.
    table["p_adjusted"] = significance.adjust(table["p_value"].to_numpy(), resampling.correction)
    table["verdict"] = [significance.verdict(d, p, m) for d, p, m in zip(table["delta"], table["p_adjusted"],
                                                                          table["metric"])]
    unknown = table[table["verdict"].str.startswith("significance unknown")]
    return table, significance.gate(table, max_drop), unknown


def seed_groups_of(store, runs: pd.DataFrame, chosen: list[str]) -> pd.DataFrame:
    """Groups of runs of the chosen runs' kinds that differ only by seed and include one of ``chosen``: NDCG@10
    mean and sd over seeds (the Language deltas page)."""
    picked = runs[runs["run_id"].isin(chosen)]
    kin = runs[runs["kind"].isin(picked["kind"])]
    seeded = compare.seeded_run_ids(kin)
    grouped = compare.seed_groups(kin[kin["run_id"].isin(seeded)], store.metrics(seeded, ["ndcg@10"]))
    return grouped[grouped["run_ids"].apply(lambda ids: bool(set(ids.split(", ")) & set(chosen)))]


def query_moves(store, bench_dir: Path, base: str, candidate: str, bench_id: str):
    """The queries that moved most between two runs, and win/tie/loss per language (significance.query_moves),
    with the query text and gold function from the benchmark when it is built here."""
    from backend.bench import dataset
    texts = {}
    try:
        bench = dataset.load(bench_id, bench_dir)
        texts = {p["id"]: p for lang in bench.languages for p in bench.pairs(lang, "test")}
    except (dataset.BenchmarkError, OSError):
        pass
    return significance.query_moves(store.query_results(base), store.query_results(candidate), texts)


# -- efficiency -------------------------------------------------------------------------------------------------

def efficiency(store, runs_dir: Path, metric: str = "ndcg@10", bench: str | None = None,
               protocol: str | None = None, run_ids=None, speed_base: str | None = None,
               mixed: bool = False, language: str | None = None, public: bool = True) -> View:
    """Score per MB and per million params with speed-ups and retention against a base (the Efficiency page,
    ``export efficiency``) for one benchmark and protocol (default: the one with most runs; a Pareto front across
    evaluations would mean nothing) — or, ``mixed``, every retrieval run. ``base``: the run speed-ups are
    relative to (default: the teacher). ``language``: that language's score (and its Pareto front) instead of
    the mean; ``public``: with the public leaderboards' models."""
    from backend.retrieval import speed
    runs = store.runs() if run_ids is None else known_runs(store, run_ids).loc[list(run_ids)].reset_index(drop=True)
    runs = public_view.shown(runs[~runs["kind"].isin(kinds_of("codegen"))], public)  # code LMs: codegen
    notes = []
    if speed_base and bench is None and protocol is None and speed_base in set(runs["run_id"]):
        based = runs.set_index("run_id").loc[speed_base]  # the base's own evaluation
        bench, protocol = based["benchmark"] or "", based["protocol"] or ""
    if not mixed:
        runs, notes = one_evaluation(runs, bench, protocol, "efficiency", "the Pareto front")
    intervals = score_intervals(store, runs["run_id"])
    eff = compare.efficiency(runs, store.metrics(names=[metric]), metric, intervals, language)  # one metric
    base = speed_base or compare.speed_base(eff)
    if speed_base and speed_base not in set(eff["run_id"]):
        raise ValueError(f"run {speed_base!r} is not in this evaluation's efficiency table (no {metric} score, "
                         "or another benchmark/protocol)")
    measurement = speed.latest(runs_dir, base) if base else None
    if base and not measurement:
        notes.append("speed-ups divide per-run throughputs recorded at different times; measure them side by "
                     f"side with: python -m backend speed --base {base} RUN...")
    table = compare.against_base(eff, base, measurement)
    return View(table, notes=notes, base=base, measurement=measurement, figures=_efficiency_figures(table, metric, base))


def _efficiency_figures(eff: pd.DataFrame, metric: str, base: str | None) -> list[Figure]:
    """The Efficiency page's panels: score against disk, params, inference memory and trainable share where
    runs have them, and retention against speed-up when two or more runs have both."""
    label = METRICS[metric].label if metric in METRICS else metric
    base_name = eff.loc[eff["run_id"] == base, "name"].iloc[0] if base and (eff["run_id"] == base).any() else None
    panels = [(f"{label} vs disk MB", "disk_mb", "disk MB"), (f"{label} vs params", "params_m", "params (millions)")]
    if "inference_mb" in eff and eff["inference_mb"].notna().sum() > 1:  # measured side by side, a process each
        panels.append((f"{label} vs inference memory", "inference_mb", "peak RSS while encoding, MB"))
    if eff["trainable_pct"].notna().any():  # PEFT methods: score against the share of the model they train
        panels.append((f"{label} vs trainable share", "trainable_pct", "trainable params (% of the model, log)"))
    out = []
    for title, size, size_label in panels:
        # The base (the untrained teacher by default) as a line: what training has to beat.
        reference = (base_name, eff.loc[eff["run_id"] == base, "score"].iloc[0]) \
            if size == "trainable_pct" and base_name else None
        out.append(Figure(title, figures.efficiency_scatter, (eff, size, size_label, label), {"reference": reference},
                          missing=size))
    if base and eff[["speedup", "retention"]].notna().all(axis=1).sum() > 1:
        out.append(Figure("Retention vs encode speed-up (marker size: disk MB)", figures.retention_scatter,
                          (eff, base_name, label)))
    return out


def one_evaluation(runs: pd.DataFrame, bench: str | None, protocol: str | None, what: str,
                   why: str) -> tuple[pd.DataFrame, list[str]]:
    """The runs of one benchmark and protocol (default: the one with most runs, said in a note)."""
    notes = []
    groups = compare.evaluation_groups(runs)
    if (bench is None or protocol is None) and len(groups) > 1:
        # The largest evaluation with a run made or imported here: the public leaderboards' (MTEB's 40
        # embedders on CosQA) would otherwise outnumber the user's own.
        bench, protocol = (bench, protocol) if bench is not None and protocol is not None else \
            public_view.default_group(groups, runs)
        notes.append(f"{what} for benchmark {bench!r}, protocol {protocol!r} ({why} only means something within "
                     f"one evaluation); others: --bench/--protocol from "
                     f"{', '.join([f'{b}·{p}' for b, p in groups if (b, p) != (bench, protocol)][:3])}")
    if bench is not None:
        runs = runs[runs["benchmark"].fillna("") == bench]
    if protocol is not None:
        runs = runs[runs["protocol"].fillna("") == protocol]
    return runs, notes


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
    return View(table, notes=notes + more)


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


def _query_items(store, run_ids, metric: str) -> pd.DataFrame:
    """Per-query values of ``metric`` from the stored gold ranks (none for a metric that is not a mean over
    queries, e.g. the median rank)."""
    queries = store.query_results(list(run_ids))
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


# -- codegen ----------------------------------------------------------------------------------------------------

def codegen(store, run_ids=None, public: bool = True) -> View:
    """The Codegen page's per-language table of finished codegen runs (``export codegen``), with its pass@k
    against params and peak memory figures."""
    runs = store.runs()
    runs = runs[runs["kind"].isin(kinds_of("codegen")) & (runs["status"] == "finished")]
    if run_ids is not None:
        runs = runs[runs["run_id"].isin(list(run_ids))]
    table = compare.codegen_table(public_view.shown(runs, public), store.metrics())
    return View(table, cautions=public_view.decoding_cautions(table))


def codegen_figures(table: pd.DataFrame, metric: str) -> list[Figure]:
    """``metric`` against params and against peak memory, a facet per language."""
    return [Figure(f"{metric} vs {x_label.split(' (')[0]}", figures.passk_scatter, (table, x, x_label, metric),
                   missing=x) for x, x_label in (("params_m", "params (millions, log)"),
                                                 ("peak_memory_mb", "peak memory MB (log)"))]


def flipped(store, run_a: str, run_b: str) -> View:
    """Problems whose pass rate differs between two codegen runs; refused (ComparisonError) when the runs did not
    solve the same problems."""
    runs = known_runs(store, [run_a, run_b])
    compare.check_comparable(runs.loc[run_a].to_dict(), runs.loc[run_b].to_dict())
    return View(compare.flipped_problems(store.problem_results([run_a, run_b]), run_a, run_b))


# -- recipes ----------------------------------------------------------------------------------------------------

@dataclass
class RecipeView(View):
    headline: pd.DataFrame | None = None
    measured: list[str] = field(default_factory=list)  # the recipe's finished runs here
    total: int = 0  # runs the recipe has


def recipe(store, runs_dir: Path, bench_dir: Path, name: str) -> RecipeView:
    """A recipe's published figures beside those measured here (the Recipes page, ``recipe show``)."""
    from backend import recipes
    r = recipes.get(name)
    measured, total = recipes.measured_ids(r, runs_dir, bench_dir)
    table = recipes.comparison(r, store.runs(), store.metrics(), measured, runs_dir)
    out = RecipeView(table, headline=recipes.headline_table(r, table), measured=measured, total=total)
    if "language" in table:  # codegen: pass@k against params, a facet per language, both sides
        out.figures = [Figure(f"{m} vs params", figures.passk_scatter,
                              (table.assign(facet=table["language"] + " · " + table["side"]), "params_m",
                               "params (millions, log)", m), key=f"recipe_{m}") for m in PASS_METRICS if m in table and table[m].notna().any()]
    elif len(table):
        shown, reference, timed, note = recipes.charted(r, table)
        size, size_label = r.size
        out.figures = [Figure(f"Score vs {size_label.split(' (')[0]}", figures.efficiency_scatter,
                              (shown, size, size_label, r.metric, reference))]
        if len(timed) > 1:
            out.figures.append(Figure("Retention vs encode speed-up", figures.retention_scatter,
                                      (timed, "the teacher", r.metric)))
        out.notes = [note] if note else []
    return out


# -- exports and reports ----------------------------------------------------------------------------------------

def export(what: str, store, runs_dir: Path, base=None, candidates=None, metric="ndcg@10",
           evaluation=(None, None)) -> tuple[pd.DataFrame, str | None]:
    """(table, caution or None) for ``python -m backend export WHAT``."""
    if what == "runs":
        return runs(store).table, None
    if what == "metrics":
        return store.metrics(), None
    if what == "codegen":
        return codegen(store).table, None
    if what == "efficiency":
        view = efficiency(store, runs_dir, metric, *evaluation, speed_base=base)
        return view.table, " ".join(view.notes) or None
    view = deltas(store, base, candidates)
    return deltas_export(view.table), " ".join(view.cautions) or None


def comparison_report(store, runs_dir: Path, base: str | None = None, candidates=(), metric="ndcg@10",
                      evaluation=(None, None), resampling=None) -> report.Report:
    """A report of one comparison: deltas (base vs candidates), efficiency of those runs' evaluation and, for
    codegen runs, pass@k. Without a base: efficiency and the leaderboard of the evaluation with most runs, and
    every codegen run."""
    all_runs = store.runs()
    names = compare.run_names(all_runs)
    chosen = [base, *candidates] if base else None
    sections = []
    if base and candidates:
        resampling = resampling or significance.Resampling()
        view = deltas(store, base, list(candidates), resampling)
        sections.append(report.deltas_section(view.table, names, base, resampling.note(), view.cautions))
    codegen_ids = set(all_runs[all_runs["kind"].isin(kinds_of("codegen"))]["run_id"])
    retrieval_ids = None if chosen is None else [r for r in chosen if r not in codegen_ids]
    if retrieval_ids is None or retrieval_ids:
        if chosen is not None and evaluation == (None, None):
            first = known_runs(store, chosen).loc[retrieval_ids[0]]
            evaluation = (first["benchmark"] or "", first["protocol"] or "")
        view = efficiency(store, runs_dir, metric, *evaluation, run_ids=retrieval_ids,
                          speed_base=base if base in (retrieval_ids or []) else None)
        if len(view.table):
            sections.append(report.efficiency_section(view.table, metric, names.get(view.base), view.notes))
        if chosen is None:  # the overview report: who is ahead in that evaluation
            board = leaderboard(store, runs_dir, metric, *evaluation)
            if len(board.table):
                sections.append(report.leaderboard_section(board.table, metric, board.notes))
    table = codegen(store, None if chosen is None else [r for r in chosen if r in codegen_ids]).table
    if len(table):
        sections.append(report.codegen_section(table))
    if not sections:
        raise ValueError("nothing to report: no runs with scores (import or launch some first)")
    title = (f"{names.get(base, base)} vs {', '.join(names.get(c, c) for c in candidates)}" if base and candidates
             else "Code-model comparison")
    return report.Report(title, sections, report.made_from(store.path))
