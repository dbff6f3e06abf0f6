"""The Language deltas page's parts: the seed groups of the compared runs and the queries that moved most."""
import streamlit as st

from backend import views
from backend.config import settings
from pages.parts.outputs import download
from pages.parts.reads import view


def seed_groups(runs, ids: list[str]):
    """NDCG@10 over seeds of the compared runs that differ only by seed."""
    grouped = view(views.seed_groups_of, runs, ids)
    if len(grouped):
        st.subheader("Seed groups of these runs")
        st.caption("Runs that differ only by seed: NDCG@10 mean ± sd over seeds with a 95 % t-interval, per "
                   "language — a delta smaller than the seed-to-seed spread is not a method's effect.")
        st.dataframe(grouped, hide_index=True, width="stretch")
        download(grouped, "seed-groups.csv", "seed_groups_deltas_csv")


def moved_queries(runs, table, base: str, candidates: list[str], label):
    """The queries whose gold rank moved most between the base and a candidate with per-query results."""
    st.subheader("Queries that moved most")
    with_queries = [c for c in candidates if (table[table["candidate_id"] == c]["n_pairs"] > 0).any()]
    if not with_queries:
        st.caption("Needs per-query results in both runs (runs made here keep every query's gold rank).")
        return
    pick = st.selectbox("Candidate", with_queries, format_func=label) if len(with_queries) > 1 else with_queries[0]
    bench_id = str(runs.set_index("run_id").loc[base, "benchmark"])
    moved, counts = view(views.query_moves, settings().bench_dir, base, pick, bench_id)
    st.caption("Win: the candidate ranks the gold document higher than the base; loss: lower.")
    st.dataframe(counts, hide_index=True)
    st.dataframe(moved, hide_index=True, width="stretch")
    download(moved, "moved-queries.csv", "moved_csv")
