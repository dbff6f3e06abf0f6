"""Leaderboard: every run of one evaluation ranked per language and on the mean, with 95 % rank intervals,
tiers of runs not significantly different, budget filters and the Pareto front (``leaderboard``'s table)."""
import streamlit as st

from backend import figures, report, significance, views
from backend.config import settings
from backend.views.leaderboard import choices, how_to_read
from backend.vocab import METRICS
from pages.parts.leaderboard import best_under, budget_inputs, family_picker, field_picker
from pages.parts.links import from_link, to_link
from pages.parts.outputs import capped, chart, download, share
from pages.parts.reads import EMPTY_HINT, load, view

RESAMPLING = significance.Resampling(resamples=1000, seed=0)  # the CLI's defaults: the same table

st.title("Leaderboard")
runs, stored = load("runs"), load("metric_names")
if runs is not None and runs.empty:
    st.info(EMPTY_HINT)
elif runs is not None and stored is not None:
    offer = choices(runs)
    family = family_picker(offer)
    left, right = st.columns(2)
    bench, protocol, codegen_set = field_picker(offer, family, left)
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
        best_under(table, budget)
    st.caption(how_to_read(RESAMPLING))
    st.subheader("All runs" + (" within the budget" if budget.active() else ""))
    chart(figures.rank_intervals, table)
    st.dataframe(capped(table, "per language, best rank first"), hide_index=True, width="stretch")
    download(table, f"leaderboard-{metric}.csv", "leaderboard_csv")
    title = f"Leaderboard: {bench} · {protocol}" if family == "retrieval" else "Leaderboard: codegen"
    share(title, lambda: [report.leaderboard_section(table, metric, board.notes)], f"leaderboard-{metric}",
          "leaderboard_report")
