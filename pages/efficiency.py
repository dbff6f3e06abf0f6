"""Efficiency: score per MB and per million parameters, encode speed-up, with the Pareto front."""
import time

import streamlit as st

from backend import compare, public_view, report, views
from backend.catalog import default_store
from backend.config import settings
from backend.frames import isin
from backend.kinds import kinds_of
from backend.retrieval import speed
from backend.views.base import evaluation_choices, in_evaluation
from backend.views.efficiency import efficiency_scores
from backend.runs import supervision
from backend.vocab import METRICS
from pages.common import (EMPTY_HINT, capped, download, draw, follow, from_link, labelled, link_box, load,
                          per_version, pickable, report_downloads, to_link, view)

ALL = "all runs (mixed evaluations)"

st.title("Efficiency")
runs, names_stored = load("runs"), load("metric_names")
if runs is not None and runs.empty:
    st.info(EMPTY_HINT)
elif runs is not None and names_stored is not None:
    runs = runs[~runs["kind"].isin(kinds_of("codegen"))]  # code search models; code LMs: the Codegen page
    public = st.toggle(public_view.TOGGLE, True, key="public_models", help=public_view.TOGGLE_HELP)
    runs = public_view.shown(runs, public)
    groups, first = evaluation_choices(runs)
    left, right, lang_col = st.columns(3)
    from_link("eff_group", "evaluation", [*groups, ALL], first or ALL)
    group = groups.get(left.selectbox("Evaluated on (benchmark · protocol)", [*groups, ALL], key="eff_group"))
    shown = in_evaluation(runs, group)
    available, default = efficiency_scores(names_stored)
    from_link("eff_metric", "metric", available, default)
    metric = right.selectbox("Score", available, format_func=lambda m: METRICS[m].label, key="eff_metric")
    scored = load("metrics", None, [metric])
    languages = sorted(set(scored[isin(scored["run_id"], shown["run_id"])]["language"]))
    language = lang_col.selectbox("Language", ["mean", *languages], key="eff_language",
                                  help="the score: the mean over a run's languages, or one language's (its Pareto front)")
    evaluation = (settings().runs_dir, metric, *(group or (None, None)), None)
    chosen = (None if language == "mean" else language, public)
    eff = view(views.efficiency, *evaluation, None, group is None, *chosen)
    timed = eff.table[eff.table["encode_throughput"].notna()]
    if len(timed):
        names = per_version(compare.run_labels, shown)
        ids = timed["run_id"].tolist()
        from_link("eff_base", "base", ids, eff.base)
        base = st.selectbox("Speed-up and retention relative to", pickable(ids, names, "eff_base", [
            st.session_state["eff_base"]]), format_func=labelled(names), key="eff_base")
        eff = eff if base == eff.base else view(views.efficiency, *evaluation, base, group is None, *chosen)
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
    to_link(evaluation=st.session_state["eff_group"], metric=metric, base=eff.base)
    draw(eff.figures, columns=2, titled=True)  # two per row: the centred page is too narrow for more
    st.caption("Score: a run's published overall value if it has one, otherwise the mean over its languages "
               "(see 'basis'), with its 95 % interval over queries (bootstrap, error bars) where the run has "
               "per-query results. Encode throughput: documents per second on the benchmark's test code.")
    st.dataframe(capped(eff.table, "best score per MB first"), hide_index=True, width="stretch",
                 column_order=views.efficiency_columns(eff.table))
    download(eff.table, f"efficiency-{metric}.csv", "efficiency_csv")
    with st.container(horizontal=True):
        base_name = compare.run_names(eff.table).get(eff.base)
        report_downloads(f"Efficiency: {group[0]} · {group[1]}" if group else "Efficiency",
                         lambda: [report.efficiency_section(eff.table, metric, base_name)], f"efficiency-{metric}",
                         "efficiency_report")
        link_box()
    groups_table = per_version(compare.seed_groups, shown, load("metrics", None, [metric]), metric)
    if len(groups_table):
        st.subheader("Runs that differ only by seed")
        st.caption("Mean and sd over seeds, 95 % t-interval over seeds: how far a seed alone moves the score.")
        st.dataframe(groups_table[groups_table["language"] == "mean"], hide_index=True, width="stretch")
        download(groups_table, f"seed-groups-{metric}.csv", "seed_groups_csv")
