"""The Efficiency page's parts: the base of the speed-ups and the button that measures them side by side, and
the runs that differ only by seed."""
import time

import streamlit as st

from backend import compare
from backend.catalog import default_store
from backend.config import settings
from backend.retrieval import speed
from backend.runs import supervision
from pages.parts.links import from_link
from pages.parts.navigation import follow
from pages.parts.outputs import download
from pages.parts.pickers import labelled, pickable
from pages.parts.reads import load, per_version


def speedups(eff, shown, again):
    """Pick the base of the speed-ups among the timed runs, say how they were measured, and offer to measure
    them side by side; returns the view for the picked base (``again(base)`` makes it when it is another)."""
    timed = eff.table[eff.table["encode_throughput"].notna()]
    if not len(timed):
        return eff
    names = per_version(compare.run_labels, shown)
    ids = timed["run_id"].tolist()
    from_link("eff_base", "base", ids, eff.base)
    base = st.selectbox("Speed-up and retention relative to", pickable(ids, names, "eff_base", [
        st.session_state["eff_base"]]), format_func=labelled(names), key="eff_base")
    eff = eff if base == eff.base else again(base)
    if eff.measurement:
        st.caption(f"Speed-ups: {speed.describe(eff.measurement)} (runs not in it: per-run throughputs).")
    else:
        st.warning("Speed-ups divide throughputs each run recorded when it ran, at different times on a shared "
                   "machine: measure them side by side for ratios you can trust.")
    if st.button("Measure speed side by side", help="encode the same benchmark code with each timed run's "
                 "model, interleaved in rounds, in a process of its own (a teacher takes about a minute)"):
        pid, log = supervision.spawn_speed(base, ids, settings().runs_dir, default_store(settings()).path)
        st.session_state.speed_job = (pid, log, time.time())
        st.success(f"Measuring in the background (process {pid}); its output goes to `{log}`. The speed-ups "
                   "here change to side by side when it has ended.")
    follow("speed_job", "Measuring speed side by side")
    if (last := st.session_state.pop("speed_job_last", None)) is not None:
        (st.error if last.startswith("error") else st.caption)(f"Speed measurement ended: {last}")
    return eff


def seed_groups(shown, metric: str):
    """Mean, sd and t-interval over seeds of the runs that differ only by seed."""
    seeded = per_version(compare.seeded_run_ids, shown)
    if not seeded:  # none (100k imported runs: no metric read for them)
        return
    groups_table = per_version(compare.seed_groups, shown, load("metrics", seeded, [metric]), metric)
    if len(groups_table):
        st.subheader("Runs that differ only by seed")
        st.caption("Mean and sd over seeds, 95 % t-interval over seeds: how far a seed alone moves the score.")
        st.dataframe(groups_table[groups_table["language"] == "mean"], hide_index=True, width="stretch")
        download(groups_table, f"seed-groups-{metric}.csv", "seed_groups_csv")
