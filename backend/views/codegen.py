"""Codegen pass@k tables and figures, and the problems that flipped (the Codegen page, ``export codegen``)."""
from __future__ import annotations

import pandas as pd

from backend import compare, figures, public_view
from backend.kinds import kinds_of
from backend.views.base import Figure, View, columns_first, known_runs
from backend.vocab import PASS_METRICS


def codegen_columns(table: pd.DataFrame) -> list[str]:
    """The Codegen grid's column order: the run, its language and pass@k first (``export codegen`` keeps its own)."""
    return columns_first(table, ("name", "language", *PASS_METRICS, "problems", "params_m", "peak_memory_mb",
                                 "method", "tokens_per_s"))


def codegen(store, run_ids=None, public: bool = True) -> View:
    """The Codegen page's per-language table of finished codegen runs (``export codegen``), with its pass@k
    against params and peak memory figures."""
    runs = store.runs()
    runs = runs[runs["kind"].isin(kinds_of("codegen")) & (runs["status"] == "finished")]
    if run_ids is not None:
        runs = runs[runs["run_id"].isin(list(run_ids))]
    # The pass@k rows only (every run's: they make the table's columns), not 100k retrieval runs' scores.
    passk = store.metrics(names=[m for m in store.metric_names() if m.startswith("pass@")])
    table = compare.codegen_table(public_view.shown(runs, public), passk)
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
