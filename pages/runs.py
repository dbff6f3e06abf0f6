"""Runs: filter, inspect and delete runs."""
import streamlit as st

from backend import public_view, views
from pages.parts.links import from_link, link_box, to_link
from pages.parts.outputs import capped, download
from pages.parts.reads import EMPTY_HINT, load, view
from pages.parts.runs import selected

st.title("Runs")
runs = load("runs")
if runs is not None and runs.empty:
    st.info(EMPTY_HINT)
elif runs is not None:
    text_col, kind_col, source_col, status_col = st.columns([3, 2, 2, 2])
    if "runs_text" not in st.session_state:
        st.session_state.runs_text = st.query_params.get("filter", "")
    text = text_col.text_input("Filter", placeholder="text in id, name or model", key="runs_text")
    picked = {}
    for column, field, label in ((kind_col, "kind", "Kind"), (source_col, "source", "Source"),
                                 (status_col, "status", "Status")):
        values = sorted(runs[field].dropna().unique())
        from_link(f"runs_{field}", field, values, [], multi=True)
        picked[field] = column.multiselect(label, values, key=f"runs_{field}")
    kinds, sources, statuses = picked["kind"], picked["source"], picked["status"]
    to_link(filter=text or None, **picked)
    public = st.toggle(public_view.TOGGLE, True, key="public_models", help=public_view.TOGGLE_HELP)
    matching = view(views.runs, text, tuple(kinds), tuple(sources), tuple(statuses), public).table
    shown = capped(matching, "newest first")
    st.caption(f"{len(matching):,} of {len(runs):,} runs. Select rows to see their metrics or delete them.")
    # A new key whenever the rows change (filter, delete) drops the old selection: stale row positions
    # must never point at other runs, least of all for a delete.
    version = st.session_state.setdefault("runs_table_version", 0)
    event = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row",
                         key=f"runs_table-{version}-{hash((text, *kinds, *sources, *statuses))}")
    with st.container(horizontal=True):
        download(matching, "runs.csv", "runs_csv")
        link_box()
    chosen = shown.iloc[[i for i in event.selection.rows if i < len(shown)]]["run_id"].tolist()
    if chosen:
        selected(runs, chosen, version)
