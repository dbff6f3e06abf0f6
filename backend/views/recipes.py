"""A research recipe: published figures beside the runs measured here (the Recipes page, ``recipe show``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from backend import figures
from backend.views.base import Figure, View
from backend.vocab import PASS_METRICS


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
