"""Language deltas: one base run against one or more candidates, per language and metric."""
import functools

import streamlit as st

from backend import compare, report, significance, views
from backend.config import settings
from pages.common import (EMPTY_HINT, download, draw, from_link, labelled, link_box, load, per_version,
                          pickable, report_downloads, to_link, view)

st.title("Language deltas")
runs = load("runs")
if runs is not None and len(runs) < 2:
    st.info(EMPTY_HINT if runs.empty else "Import a second run to compare against.")
elif runs is not None:
    names = per_version(compare.run_labels, runs)
    ids, label = list(names), labelled(names)
    base_default, candidate_default = per_version(compare.default_pair, runs)
    from_link("deltas_base", "base", ids, base_default)
    base = st.selectbox("Base run", pickable(ids, names, "deltas_base", [st.session_state["deltas_base"]]),
                        format_func=label, key="deltas_base")
    options = per_version(compare.comparable_candidates, runs, base)
    # A new base keeps the candidates, each as its protocol twin where the base is scored under another protocol.
    twins = functools.partial(compare.with_twins, runs, options=options)
    from_link("deltas_candidates", "candidate", options, twins([candidate_default]), multi=True, remap=twins)
    candidates = st.multiselect("Candidate run(s)", pickable(options, names, "deltas_candidates",
                                                             st.session_state["deltas_candidates"]),
                                format_func=label, key="deltas_candidates")
    from_link("deltas_bh", "bh", [False, True], False)
    to_link(base=base, candidate=candidates, bh=st.session_state["deltas_bh"] or None)
    if len(options) < len(ids) - 1:
        st.caption(f"{len(ids) - 1 - len(options)} run(s) evaluated on another benchmark or protocol than the base "
                   "are not offered (their deltas would not mean anything).")
    if not candidates:
        st.info("Pick at least one candidate run.")
        st.stop()
    resampling = significance.Resampling(correction="bh" if st.toggle(
        "Benjamini-Hochberg (false discovery rate) instead of Holm (family-wise) adjustment", key="deltas_bh")
        else "holm")
    with st.spinner("Testing the differences…"):
        deltas = view(views.deltas, base, tuple(candidates), resampling)
    for caution in deltas.cautions:
        st.warning(caution)
    draw(deltas.figures)
    st.caption("Colour: green = significantly better, red = significantly worse, taking each metric's direction "
               "into account (a lower mean rank is better); no colour = n.s. (not significant after adjustment); "
               "grey with '?' = not tested, never a verdict: no per-query results (published or imported runs), or "
               "not a mean over the stored items (a median rank, pass@k for k > 1) — the reason shows on hover. "
               f"Labels: relative change of the raw value. {deltas.notes[0]}")
    shown = views.deltas_export(deltas.table)  # as ``export deltas`` writes it
    st.dataframe(shown, hide_index=True, width="stretch")
    download(shown, "deltas.csv", "deltas_csv")
    with st.container(horizontal=True):
        short = compare.run_names(runs)  # the labels without the ids
        report_downloads(f"{short[base]} vs {', '.join(short[c] for c in candidates)}",
                         lambda: [report.deltas_section(deltas.table, short, base, resampling.note(), deltas.cautions)],
                         "deltas", "deltas_report")
        link_box()

    grouped = view(views.seed_groups_of, runs, [base, *candidates])
    if len(grouped):
        st.subheader("Seed groups of these runs")
        st.caption("Runs that differ only by seed: NDCG@10 mean ± sd over seeds with a 95 % t-interval, per "
                   "language — a delta smaller than the seed-to-seed spread is not a method's effect.")
        st.dataframe(grouped, hide_index=True, width="stretch")
        download(grouped, "seed-groups.csv", "seed_groups_deltas_csv")

    st.subheader("Queries that moved most")
    table = deltas.table
    with_queries = [c for c in candidates if (table[table["candidate_id"] == c]["n_pairs"] > 0).any()]
    if not with_queries:
        st.caption("Needs per-query results in both runs (runs made here keep every query's gold rank).")
    else:
        pick = st.selectbox("Candidate", with_queries, format_func=label) if len(with_queries) > 1 else with_queries[0]
        bench_id = str(runs.set_index("run_id").loc[base, "benchmark"])
        moved, counts = view(views.query_moves, settings().bench_dir, base, pick, bench_id)
        st.caption("Win: the candidate ranks the gold document higher than the base; loss: lower.")
        st.dataframe(counts, hide_index=True)
        st.dataframe(moved, hide_index=True, width="stretch")
        download(moved, "moved-queries.csv", "moved_csv")
