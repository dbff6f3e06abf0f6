"""What every view is: a ``View`` (table, cautions, notes, figures), the runs table, run lookup, score intervals,
and the choice of one evaluation."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from backend import compare, public_view, significance


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


class Snapshot:
    """The store's reads for one read-only command, each read once: a report asks for the runs table four times,
    and every read opens the DB (a DuckDB instance's start, about 14 ms here). A read returns a copy, so a view
    may change what it got. Anything else (the path, writes) is the store's own. (The pages' counterpart,
    ``pages.parts.reads.CachedReads``, keeps reads across reruns, per version of the DB.)"""
    READS = ("runs", "metrics", "metric_by_language", "metric_names", "query_results", "problem_results",
             "relevant_ranks")

    def __init__(self, store):
        self.store, self._got = store, {}

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if name not in self.READS:
            return attr

        def read(*args, **kwargs):
            key = (name, repr(args), repr(sorted(kwargs.items())))
            if key not in self._got:
                self._got[key] = attr(*args, **kwargs)
            got = self._got[key]
            return got.copy() if hasattr(got, "copy") else got
        return read


def columns_first(table: pd.DataFrame, first) -> list[str]:
    """A grid's column order: ``first`` (those the table has), then the rest as the export writes them. The grid
    leads with what a user opened the page for; the CSV keeps the export's order."""
    lead = [c for c in first if c in table]
    return lead + [c for c in table if c not in lead]


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


def evaluation_choices(runs: pd.DataFrame) -> tuple[dict[str, tuple[str, str]], str | None]:
    """The retrieval evaluations of these runs as "benchmark · protocol" labels, and the one a page opens on
    (public_view.default_group: the views' own default)."""
    groups = {f"{b} · {p}": (b, p) for b, p in compare.evaluation_groups(runs)}
    first = public_view.default_group(list(groups.values()), runs)
    return groups, f"{first[0]} · {first[1]}" if first else None


def in_evaluation(runs: pd.DataFrame, group: tuple[str, str] | None) -> pd.DataFrame:
    """The runs of one (benchmark, protocol) group; all of them for None."""
    if group is None:
        return runs
    return runs[(runs["benchmark"].fillna("") == group[0]) & (runs["protocol"].fillna("") == group[1])]
