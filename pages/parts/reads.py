"""The store's tables for a page, read once per version of the DB, and views over them computed once per version
and arguments; a DB problem is shown, not raised."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from backend.catalog import default_store
from backend.config import settings
from backend.runs.supervision import reap_interrupted
from backend.store import StoreError


EMPTY_HINT = ("No runs yet. Import the published reference runs with "
              "`python -m backend import runs/reference/*` (or start with `python -m backend serve`, "
              "which does it on first start), or import your own run.json / CSV / MTEB results.")


def load(what: str, *args) -> pd.DataFrame | None:
    """``store.runs()`` / ``store.metrics()`` / ...; on a DB problem show the message and return None.

    Read once per version of the DB (any write, by any process, makes a new one), so a page's reruns cost
    what they show, not what is stored. Runs still 'running' whose process died become interrupted here, so
    none stays "running" forever.
    """
    store = default_store(settings())
    try:
        found = _read(str(store.path), store.version(), what, _key(args), args)
        if what == "runs" and (found["status"] == "running").any() and reap_interrupted(
                store, settings().runs_dir, found):
            found = _read(str(store.path), store.version(), what, _key(args), args)
        return found
    except StoreError as e:
        st.error(f"The run database cannot be read: {e}")
        return None


def _read(path: str, version: tuple, what: str, key: tuple, args: tuple) -> pd.DataFrame:
    return _shielded(_read_once(path, version, what, key, args))


# Kept as objects (st.cache_resource), not pickled (st.cache_data): pickling the leaderboard of 100k runs and its
# reads was a second of the first load after a write, and unpickling them part of every later one. Each caller
# gets its own shallow copy (copy-on-write: what it changes never reaches the cache).
@st.cache_resource(max_entries=64, show_spinner=False)
def _read_once(path: str, version: tuple, what: str, key: tuple, _args: tuple) -> pd.DataFrame:  # key: ``_args``
    return getattr(default_store(settings()), what)(*_args)


def _shielded(value):
    """``value`` as a cached read or view hands it out: frames (in a View or tuple too) as shallow copies."""
    import dataclasses
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=False)
    if isinstance(value, tuple):
        return tuple(_shielded(v) for v in value)
    if isinstance(value, list):
        return [_shielded(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _shielded(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value


class CachedReads:
    """The store's read methods the views call, each read once per DB version (``load``'s cache)."""

    def __init__(self):
        store = default_store(settings())
        self.path, self._version = store.path, store.version()

    def _get(self, what: str, *args):
        return _read(str(self.path), self._version, what, _key(args), args)

    def runs(self):
        return self._get("runs")

    def metrics(self, run_ids=None, names=None):
        return self._get("metrics", None if run_ids is None else tuple(run_ids), None if names is None else tuple(names))

    def metric_by_language(self, metric, run_ids=None):  # load("metric_by_language", metric): the same read
        return self._get("metric_by_language", metric) if run_ids is None else \
            self._get("metric_by_language", metric, tuple(run_ids))

    def metric_names(self):
        return self._get("metric_names")

    def query_results(self, run_ids):
        return self._get("query_results", run_ids if isinstance(run_ids, str) else tuple(run_ids))

    def problem_results(self, run_ids):
        return self._get("problem_results", tuple(run_ids))

    def relevant_ranks(self, run_ids):
        return self._get("relevant_ranks", tuple(run_ids))


def view(fn, *args):
    """``fn(store, *args)``, a backend.views function, over the cached reads: computed once per DB version, side-
    by-side speed measurement (they live in runs/.speed, not in the DB) and arguments (a page's rerun for another
    widget does not redo it)."""
    from backend.retrieval import speed
    version = (default_store(settings()).version(), speed.version(settings().runs_dir))
    return _per_version(version, f"{fn.__module__}.{fn.__qualname__}", _key(args), fn, (CachedReads(), *args))


def per_version(fn, *args):
    """``fn(*args)``, a pure backend function of tables read from the store, computed once per DB version
    and arguments (a page's rerun for another widget does not redo it)."""
    return _per_version(default_store(settings()).version(), f"{fn.__module__}.{fn.__qualname__}", _key(args),
                        fn, args)


def _key(args: tuple) -> tuple:
    """Stands for a cached function's arguments: Streamlit's own hashing of a 100k-row table or a tuple of 100k
    run ids took most of a rerun at 100k runs. Within one DB version a table read or derived from the store
    is known by its columns and its runs."""
    import hashlib
    out = []
    for a in args:
        if isinstance(a, pd.DataFrame):
            rows = a["run_id"] if "run_id" in a else a
            a = ("table", tuple(a.columns), len(a), int(pd.util.hash_pandas_object(rows, index=False).sum()))
        elif isinstance(a, (tuple, list)) and len(a) > 100 and isinstance(a[0], str):
            try:  # join refuses anything but text: no second pass over 100k ids to check
                a = ("ids", len(a), hashlib.sha256("\0".join(a).encode()).hexdigest())
            except TypeError:
                a = tuple(a)
        elif isinstance(a, list):
            a = tuple(a)  # load("metrics", None, [metric]) and a view's metrics(names=(metric,)): one read
        out.append(a)
    return tuple(out)


def _per_version(version: tuple, name: str, key: tuple, fn, args: tuple):
    return _shielded(_computed_once(version, name, key, fn, args))


@st.cache_resource(max_entries=32, show_spinner=False)  # objects, not pickles: see _read_once
def _computed_once(version: tuple, name: str, key: tuple, _fn, _args: tuple):  # _fn, _args: ``name``, ``key``
    return _fn(*_args)


@st.cache_data(ttl=60)
def bench_manifests(bench_dir) -> dict[str, dict]:
    """Built benchmarks' manifests by id (what each was mined from)."""
    import json

    from backend.bench.dataset import manifests
    out = {}
    for path in manifests(bench_dir):
        try:
            out[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return out


def score_intervals(run_ids: tuple[str, ...]):
    """Each run's per-language and mean scores with their 95 % interval (runs with per-item results only)."""
    from backend import views
    return view(views.score_intervals, tuple(run_ids))
