"""Language deltas with significance (the Deltas page, ``export deltas``, ``check``), seed groups, query moves."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backend import compare, figures, significance
from backend.views.base import Figure, View, known_runs


def deltas(store, base: str, candidates: list[str], resampling=None) -> View:
    """Deltas with significance of candidates against a base, per language and metric (the Language deltas
    page, ``export deltas``); cautions for reference runs evaluated differently, one heatmap per candidate."""
    if not base or not candidates:
        raise ValueError("deltas need --base RUN_ID and --candidate RUN_ID (see python -m backend runs)")
    runs = known_runs(store, [base, *candidates])
    cautions = [compare.check_comparable(runs.loc[base].to_dict(), runs.loc[c].to_dict()) for c in candidates]
    resampling = resampling or significance.Resampling()
    table = significance.stored_deltas(store, base, candidates, resampling)
    names = compare.run_labels(runs.loc[[base, *candidates]])  # theirs only: not 100k labels
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
    if max_drop < 0:
        raise ValueError(f"--max-drop {max_drop:g} is negative; it is the drop allowed, e.g. 0.01 (0: none)")
    resampling = resampling or significance.Resampling()
    table = significance.stored_deltas(store, base, candidates, resampling)
    # A cell asked for that the runs do not have is a usage error, never a gate that checked nothing.
    for asked, column, what in ((metrics or ["ndcg@10"], "metric", "--metric"), (languages or [], "language",
                                                                                "--languages")):
        missing = sorted(set(asked) - set(table[column]))
        if missing:
            raise ValueError(f"{what} {', '.join(missing)}: not scored by both runs; they share "
                             f"{', '.join(sorted(set(table[column]))) or 'nothing'}")
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
