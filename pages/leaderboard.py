"""Leaderboard: every run of one evaluation ranked per language and on the mean, with 95 % rank intervals,
tiers of runs not significantly different, budget filters and the Pareto front (``leaderboard``'s table)."""
import streamlit as st

from backend import figures, report, significance, views
from backend.config import settings
from backend.leaderboard import Budget
from backend.views.leaderboard import MOST_RUNS, choices, how_to_read
from backend.vocab import METRICS
from pages.common import (EMPTY_HINT, capped, chart, download, from_link, link_box, load, per_version,
                          report_downloads, to_link, view)

RESAMPLING = significance.Resampling(resamples=1000, seed=0)  # the CLI's defaults: the same table
LIMITS = [("lb_disk", "max disk MB", "disk"), ("lb_params", "max params (millions)", "params"),
          ("lb_memory", "max inference memory MB", "memory"), ("lb_speedup", "min side-by-side speed-up", "speedup")]


def budget_inputs() -> Budget:
    with st.expander("Budget: list only the runs within it (ranks stay those of the whole field)"):
        values = []
        for col, (key, label, param) in zip(st.columns(4), LIMITS):
            if key not in st.session_state:  # a linked view's budget
                linked = st.query_params.get(param)
                st.session_state[key] = float(linked) if linked and linked.replace(".", "", 1).isdigit() else None
            values.append(col.number_input(label, min_value=0.0, value=None, key=key))
    disk, params, memory, speedup = values
    return Budget(disk, params * 1e6 if params is not None else None, memory, speedup)


st.title("Leaderboard")
runs, stored = load("runs"), load("metric_names")
if runs is not None and runs.empty:
    st.info(EMPTY_HINT)
elif runs is not None and stored is not None:
    offer = per_version(choices, runs)
    from_link("lb_family", "runs", offer.families, offer.families[0])
    family = st.radio("Runs", offer.families, horizontal=True, key="lb_family") if len(offer.families) > 1 \
        else offer.families[0]
    left, right = st.columns(2)
    bench = protocol = codegen_set = None
    if family == "retrieval":
        from_link("lb_group", "evaluation", list(offer.groups), offer.default_group)
        bench, protocol = offer.groups[left.selectbox("Evaluated on (benchmark · protocol)", list(offer.groups),
                                                      key="lb_group")]
    else:
        from_link("lb_set", "problems", offer.problem_sets, MOST_RUNS)
        chosen = left.selectbox("Problem set", offer.problem_sets, key="lb_set")
        codegen_set = None if chosen == MOST_RUNS else chosen
    options, default = offer.scores(family, stored)
    if not options:
        st.info("These runs have no score to rank by.")
        st.stop()
    from_link("lb_metric", "metric", options, default)
    metric = right.selectbox("Rank by", options, format_func=lambda m: METRICS[m].label, key="lb_metric")
    public = True
    if (runs["source"] != "local").any():
        from_link("lb_public", "public", [True, False], True)
        public = st.toggle("Public models: include published and imported runs (ranked by value, no interval)",
                           key="lb_public")
    budget = budget_inputs()
    to_link(runs=family, evaluation=st.session_state.get("lb_group") if family == "retrieval" else None,
            problems=codegen_set, metric=metric, public=None if public else False, disk=budget.max_disk_mb,
            params=budget.max_params / 1e6 if budget.max_params is not None else None, memory=budget.max_memory_mb,
            speedup=budget.min_speedup)
    try:
        with st.spinner("Ranking the runs…"):
            board = view(views.leaderboard, settings().runs_dir, metric, bench, protocol, budget, RESAMPLING, None,
                         public, family == "codegen", codegen_set)
    except ValueError as e:
        st.error(str(e))
        st.stop()
    table = board.table
    for note in board.notes:
        if not note.startswith("best under budget"):  # those are the table below
            st.caption(f"note: {note}")
    if table.empty:
        st.info("No run to rank here: pick another score, evaluation or budget.")
        st.stop()
    if budget.active():
        st.subheader(f"Best under the budget ({budget.describe()})")
        st.dataframe(table[table["best_under_budget"]][["language", "name", "value", "rank", "rank_low", "rank_high",
                                                        "tier", "disk_mb", "params_m", "run_id"]],
                     hide_index=True, width="stretch")
        st.caption("Rank and tier in the whole field: tier 1 means statistically tied with the best run overall.")
    st.caption(how_to_read(RESAMPLING))
    st.subheader("All runs" + (" within the budget" if budget.active() else ""))
    chart(figures.rank_intervals, table)
    st.dataframe(capped(table, "per language, best rank first"), hide_index=True, width="stretch")
    download(table, f"leaderboard-{metric}.csv", "leaderboard_csv")
    with st.container(horizontal=True):
        title = f"Leaderboard: {bench} · {protocol}" if family == "retrieval" else "Leaderboard: codegen"
        report_downloads(title, lambda: [report.leaderboard_section(table, metric, board.notes)],
                         f"leaderboard-{metric}", "leaderboard_report")
        link_box()
