"""Runs: filter, inspect and delete runs."""
import streamlit as st

from backend import catalog, compare, figures, public_view, rundirs, views
from backend.catalog import default_store
from backend.config import settings
from pages.common import (EMPTY_HINT, bench_manifests, capped, chart, download, from_link, link_box, load,
                          score_intervals, to_link, view)

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
        metrics = load("metrics")
        for run_id in chosen[:5]:
            st.subheader(run_id)
            table = compare.metrics_table(metrics, run_id)
            st.dataframe(table, hide_index=True)
            ci = score_intervals((run_id,))
            for row in ci[(ci["language"] == "mean") & ci["metric"].isin(["ndcg@10", "pass@1"])].itertuples():
                st.caption(f"{row.metric} over its languages: {row.value:.4f}, 95 % interval [{row.ci_low:.4f}, "
                           f"{row.ci_high:.4f}] (bootstrap over its {'problems' if row.metric.startswith('pass') else 'queries'})")
            download(table, f"{run_id}-metrics.csv", f"metrics_{run_id}")
            curve = rundirs.losses(settings().runs_dir, run_id)
            if curve:
                st.caption(f"Training loss, {len(curve)} steps")
                chart(figures.loss_curve, curve, key=f"loss_{run_id}")
        picked = runs[runs["run_id"].isin(chosen)]
        if len(chosen) == 1:
            with st.expander("How this run was made (config, provenance)", expanded=True):
                st.json({part: compare.json_object(picked[part].iloc[0]) or "none recorded"
                         for part in ("config", "provenance")})
        else:
            st.subheader(f"What differs between the {len(chosen)} selected runs")
            diff = compare.config_diff(picked, bench_manifests(settings().bench_dir))
            if diff.empty:
                st.caption("Nothing: same config, provenance and benchmark.")
            else:
                st.dataframe(diff, hide_index=True, width="stretch")
                download(diff, "config-diff.csv", "config_diff_csv")
        with st.expander(f"Delete {len(chosen)} selected run(s)"):
            st.write("Their folders move to `runs/.trash/`, so a delete can be undone by moving them back and "
                     "running `python -m backend rebuild`.")
            if st.button("Delete", type="primary", key="delete"):
                catalog.delete_runs(chosen, default_store(settings()))
                st.session_state["runs_table_version"] = version + 1
                st.rerun()
