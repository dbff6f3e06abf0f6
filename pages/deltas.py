"""Language deltas: one base run against one or more candidates, per language and metric."""
import functools

import streamlit as st

from backend import compare, report, significance, views
from pages.parts.deltas import moved_queries, seed_groups
from pages.parts.links import from_link, to_link
from pages.parts.outputs import download, draw, share
from pages.parts.pickers import labelled, pickable
from pages.parts.reads import EMPTY_HINT, load, per_version, view

st.title("Language deltas")
runs = load("runs")
if runs is not None and len(runs) < 2:
    st.info(EMPTY_HINT if runs.empty else "Import a second run to compare against.")
elif runs is not None:
    names = per_version(compare.run_labels, runs)
    ids, label = list(names), labelled(names)
    base_default, candidate_default = compare.default_pair(runs)
    from_link("deltas_base", "base", ids, base_default)
    base = st.selectbox("Base run", pickable(ids, names, "deltas_base", [st.session_state["deltas_base"]]),
                        format_func=label, key="deltas_base")
    options = compare.comparable_candidates(runs, base)
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
    short = compare.run_names(runs)  # the labels without the ids
    share(f"{short[base]} vs {', '.join(short[c] for c in candidates)}",
          lambda: [report.deltas_section(deltas.table, short, base, resampling.note(), deltas.cautions)],
          "deltas", "deltas_report")

    seed_groups(runs, [base, *candidates])
    moved_queries(runs, deltas.table, base, candidates, label)
