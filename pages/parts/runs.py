"""The Runs page's parts: what the selected runs are (metrics with intervals, loss curve, config and provenance,
or what differs between them) and their delete."""
import streamlit as st

from backend import catalog, compare, figures, rundirs
from backend.catalog import default_store
from backend.config import settings
from pages.parts.outputs import chart, download
from pages.parts.reads import bench_manifests, load, score_intervals


def metrics_of(run_id: str, metrics):
    """One run's metrics, its mean scores' intervals and its training loss."""
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


def selected(runs, chosen: list[str], version: int):
    """The selected runs: the first five's metrics, how one was made or what differs between several, and
    their delete (which bumps the table's ``version`` so no stale selection survives it)."""
    metrics = load("metrics")
    for run_id in chosen[:5]:
        metrics_of(run_id, metrics)
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
