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


@dataclass
class RecipeLaunch:
    """What starting a recipe's missing runs costs, what it needs, and whether it can start now."""
    todo: int  # runs still to make
    cost: str  # time and disk, one line
    missing: list  # recipes.Missing: models to install first, each with its install line
    blocked: str  # why it cannot start now ("" if it can)
    confirm: str  # the confirmation the user ticks before starting


def recipe_launch(runs_dir: Path, bench_dir: Path, cache_dir: Path, name: str, running: bool,
                  first_start: bool) -> RecipeLaunch:
    """The Recipes page's start box: time, disk and missing models stated before anything starts."""
    from backend import recipes
    r = recipes.get(name)
    planned, todo = recipes.missing(r, runs_dir, bench_dir)
    minutes = r.minutes * len(todo) / len(planned) if planned else 0
    cost = (f"{len(todo)} of {len(planned)} run(s) to make: about {_hours(minutes)} on a 2-core CPU machine and "
            f"up to {r.disk_mb:,.0f} MB on disk ({r.disk})")
    missing = recipes.missing_models(r, cache_dir)
    blocked = ("all its runs are done" if not todo else
               "it is running now" if running else
               "the first start is still making the default runs (progress on the Launch page); start a recipe "
               "when it is done" if first_start else
               f"it needs {', '.join(m.model for m in missing)}, not installed here: install it first (the line above)" if missing
               else "")
    confirm = f"Start {len(todo)} run(s): about {_hours(minutes)} of full CPU and {r.disk_mb:,.0f} MB on disk"
    return RecipeLaunch(len(todo), cost, missing, blocked, confirm)


def _hours(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"
