"""``export`` and ``report``: the same views, as CSV tables and one report file."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backend import compare, report, significance
from backend.kinds import kinds_of
from backend.views.base import known_runs, runs
from backend.views.codegen import codegen
from backend.views.deltas import deltas, deltas_export
from backend.views.efficiency import efficiency
from backend.views.leaderboard import leaderboard

EXPORTS = ("runs", "metrics", "efficiency", "deltas", "codegen")


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
