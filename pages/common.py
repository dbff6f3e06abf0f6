"""Small helpers shared by the pages: the store (cached per DB version), run labels and pickers, CSV and report
downloads, deep links, error display."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st

from backend import csvexport, figures
from backend.catalog import default_store
from backend.config import settings
from backend.runs.supervision import reap_interrupted
from backend.store import StoreError
from pages import APP_RAN


def _through_the_app():
    """Until some session of this server process has run app.py's st.navigation, Streamlit runs a file of
    pages/ opened by its URL on its own (Streamlit's old pages-folder mode: no sidebar, no wide layout, no
    first-start banner) — what a bookmarked link gets first thing after a start. Declaring a navigation (the
    public st.navigation, which ends that mode for the process) and rerunning hands the URL to app.py, once."""
    if not st.session_state.get(APP_RAN):
        st.session_state[APP_RAN] = True  # once per session, whatever runs the page (AppTest runs it alone)
        # A page is known by its URL path (a file's name in that mode): stand-ins under every page file's name
        # keep the rerun on the linked page.
        st.navigation([st.Page(lambda: None, title=f.stem, url_path=f.stem)
                       for f in sorted(Path(__file__).parent.glob("[!_]*.py"))], position="hidden")
        st.rerun()


_through_the_app()

@st.fragment(run_every=2)
def follow(key: str, what: str):
    """A background process this session started (``st.session_state[key]`` = (pid, log, started)): its last
    output line while it runs; when it has ended, that line is kept in ``key + '_last'`` and the page reruns
    (to show what it made)."""
    import time

    from backend.processes import alive, last_line
    from backend.progress import clock
    job = st.session_state.get(key)
    if not job:
        return
    pid, log, started = job
    if alive(pid):
        st.info(f"{what} (process {pid}, {clock(time.time() - started)}): {last_line(log) or 'starting'}",
                icon=":material/hourglass_top:")
        return
    st.session_state[key + "_last"] = last_line(log)
    del st.session_state[key]
    st.rerun()


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


# A select box or table of 100,000 runs is 100,000 rows sent to the browser on every rerun: pickers offer at
# most this many (a filter finds the others), tables show at most TABLE_ROWS (the CSV has them all).
PICK_LIMIT = 300
TABLE_ROWS = 1000


def labelled(names: dict) -> Callable[[object], str]:
    """A run picker's ``format_func``: the run's label, or the value itself for one that is not (or no longer) a
    run. The browser can send a stale value while the page reruns (a base switched, then a toggle clicked); a
    label of None would crash the widget (protobuf refuses it)."""
    return lambda run_id: names.get(run_id, str(run_id))


def pickable(ids: list[str], names: dict[str, str], key: str, keep=()) -> list[str]:
    """A run picker's options: all ``ids`` up to PICK_LIMIT; beyond that the first PICK_LIMIT matching a text
    filter (in the given order), plus the runs already chosen (``keep``)."""
    if len(ids) <= PICK_LIMIT:
        return ids
    text = st.text_input(f"Find a run among {len(ids):,} (part of its name or id)", key=f"{key}_find").lower()
    matching = [i for i in ids if text in names[i].lower()] if text else ids
    st.caption(f"{min(len(matching), PICK_LIMIT):,} of {len(matching):,} matching runs offered")
    return list(dict.fromkeys([*[k for k in keep if k in names], *matching[:PICK_LIMIT]]))


def capped(table: pd.DataFrame, order: str) -> pd.DataFrame:
    """The first TABLE_ROWS rows of ``table`` to show, saying so when there are more."""
    if len(table) > TABLE_ROWS:
        st.caption(f"Showing the first {TABLE_ROWS:,} of {len(table):,} rows ({order}); the CSV download has all.")
    return table.head(TABLE_ROWS)


def download(df: pd.DataFrame, file_name: str, key: str):
    """The table as CSV. A large one is written when the button is clicked (at 100k runs writing it on every
    rerun was most of the Efficiency page's time); a small one at once, because a click that lands while the
    page reruns loses a deferred download (seen in the browser tests) but never a ready one."""
    data = (lambda: csvexport.to_csv(df).encode()) if len(df) > DEFERRED_ROWS else csvexport.to_csv(df).encode()
    st.download_button(f"Download CSV ({len(df):,} rows)", data, file_name=file_name, mime="text/csv", key=key)


DEFERRED_ROWS = 5000


def chart(build, *args, key: str | None = None, **kwargs):
    """Draw ``build(*args)`` (a backend.figures function) in the colours of the viewer's theme (light or dark);
    a plotting failure becomes a warning, not a crash."""
    fig, problem = figures.safe(build, *args, palette=figures.palette(st.context.theme.type), **kwargs)
    if fig:
        st.plotly_chart(fig, width="stretch", key=key)
    else:
        st.warning(problem)


def draw(figures_: list, columns: int = 1, titled: bool = False):
    """A view's figures (backend.views.Figure), ``columns`` per row, each under its title when ``titled``, with
    the runs it leaves out named under it."""
    for row in range(0, len(figures_), columns):
        slots = st.columns(columns) if columns > 1 else [None]
        for slot, fig in zip(slots, figures_[row:row + columns]):
            with slot if slot is not None else contextlib.nullcontext():
                if titled:
                    st.subheader(fig.title)
                chart(fig.build, *fig.args, key=fig.key, **fig.kwargs)
                if fig.missing:
                    not_drawn(fig.args[0], fig.missing, fig.args[2].split(" (")[0])


def not_drawn(frame: pd.DataFrame, column: str, what: str):
    """Name the runs a chart leaves out because ``column`` is missing."""
    gone = frame[frame[column].isna()]
    public = gone["source"].eq("reference") if "source" in gone else gone["name"].map(lambda _: False)
    missing = list(dict.fromkeys(gone.assign(_public=public).sort_values(["_public", "name"])["name"]))  # yours first
    if missing:  # a dozen names, then a count: the public leaderboards alone lack it for a hundred runs
        more = f" and {len(missing) - 12} more (the table lists them)" if len(missing) > 12 else ""
        st.caption(f"Not drawn (no {what} recorded): {', '.join(missing[:12])}{more}")


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


# ---- deep links: a page's selections live in its URL, so a link opens the page as its sender saw it ----

def from_link(key: str, param: str, options: list, default, multi: bool = False, remap=None):
    """Seed widget ``key``'s value before the widget is drawn: from the URL's ``param`` on a fresh session (an
    opened link; values that are not among ``options`` are dropped), else ``default``; a value no longer among
    ``options`` (another benchmark, a deleted run) falls back to ``default`` too. Chosen values survive related
    changes (a new base keeps the candidates still comparable with it; ``remap(values)``, for a multi-select,
    maps them onto ``options`` instead, e.g. to their protocol twins)."""
    by_text = {str(o): o for o in options}
    if key not in st.session_state:
        linked = [by_text[v] for v in st.query_params.get_all(param) if v in by_text]
        st.session_state[key] = linked if multi and linked else linked[0] if linked else default
    elif multi:  # keep (or remap) the choices still offered; when none is left, the default
        now = st.session_state[key]
        now = list(now) if isinstance(now, (list, tuple)) else []  # a stale browser value may be anything
        kept = remap(now) if remap else [v for v in now if v in options]
        if kept != st.session_state[key]:
            st.session_state[key] = kept or default
    elif st.session_state[key] not in options:
        st.session_state[key] = default


def to_link(**params):
    """Write the page's current selections to its URL (lists as repeated parameters; None or [] left out)."""
    st.query_params.from_dict({k: ([str(x) for x in v] if isinstance(v, list) else str(v))
                               for k, v in params.items() if v is not None and v != []})


def link_box():
    """The page's link with its selections, in a box with a copy button."""
    import urllib.parse
    url = (st.context.url or "").split("?")[0]
    query = urllib.parse.urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    with st.popover(":material/link: Link to this view"):
        st.caption("Opens this page with the same selections (copy with the button on the right).")
        st.code(f"{url}?{query}" if query else url, language=None)


def report_downloads(title: str, sections, stem: str, key: str):
    """Download buttons for a report of what the page shows: HTML (figures, opens offline), Markdown, LaTeX.
    ``sections()`` makes its backend.report sections; it runs only when a button is pressed."""
    from backend import report

    def build():
        return report.Report(title, sections(), report.made_from(default_store(settings()).path))
    with st.popover(":material/description: Report"):
        st.caption("This comparison as one file: HTML with the interactive figures (plotly's JavaScript inside, "
                   "so it opens offline), or the tables as Markdown or LaTeX (booktabs).")
        for suffix, label, mime in ((".html", "HTML", "text/html"), (".md", "Markdown", "text/markdown"),
                                    (".tex", "LaTeX", "application/x-tex")):
            st.download_button(label, lambda render=report.FORMATS[suffix]: render(build()), file_name=stem + suffix,
                               mime=mime, key=f"{key}_{suffix}", on_click="ignore")


def config_form(config_cls, key: str, submit: str) -> tuple[bool, dict]:
    """A form made from a run kind's config dataclass, a widget per field: (submitted, the widgets' values)."""
    import dataclasses

    from backend.options import field_type
    values = {}
    with st.form(key):
        for f in dataclasses.fields(config_cls):
            label, help_text, kind_of = f.name.replace("_", " "), f.metadata.get("help"), field_type(config_cls, f)
            if f.metadata.get("choices"):
                allowed = list(f.metadata["choices"])
                values[f.name] = st.selectbox(label, allowed, index=allowed.index(f.default), help=help_text)
            elif kind_of is int:
                values[f.name] = st.number_input(label, value=f.default, step=1, help=help_text)
            elif kind_of is float:
                values[f.name] = st.number_input(label, value=float(f.default), format="%g", help=help_text)
            else:
                values[f.name] = st.text_input(label, value=str(f.default), help=help_text)
        return st.form_submit_button(submit, type="primary"), values
