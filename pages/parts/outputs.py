"""What a page shows of a view: capped tables, CSV downloads, charts in the viewer's theme, report downloads."""
from __future__ import annotations

import contextlib

import pandas as pd
import streamlit as st

from backend import csvexport, figures
from backend.catalog import default_store
from backend.config import settings

# A table of 100,000 runs is 100,000 rows sent to the browser on every rerun: tables show at most this many
# (the CSV has them all).
TABLE_ROWS = 1000


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


def share(title: str, sections, stem: str, key: str):
    """The report downloads (``report_downloads``) and the page's link, side by side."""
    from pages.parts.links import link_box
    with st.container(horizontal=True):
        report_downloads(title, sections, stem, key)
        link_box()
