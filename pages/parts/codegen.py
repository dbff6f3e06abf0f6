"""The Codegen page's part: the problems that flipped between two runs with per-problem results."""
import streamlit as st

from backend import compare, views
from backend.kinds import kinds_of
from pages.parts.links import from_link
from pages.parts.outputs import download
from pages.parts.pickers import labelled
from pages.parts.reads import load, per_version, view


def flipped_problems(runs) -> tuple[str | None, str | None]:
    """Pick runs A and B and list the problems whose pass rate changed; returns (A, B), None when not offered."""
    st.subheader("Problems that flipped between two runs")
    finished = runs[runs["kind"].isin(kinds_of("codegen")) & (runs["status"] == "finished")]["run_id"].tolist()
    with_problems = [r for r in finished if r in set(load("problem_results", finished)["run_id"])]
    if len(with_problems) < 2:
        st.caption("Needs two runs with per-problem results (runs made here, or imported samples).")
        return None, None
    names = per_version(compare.run_labels, runs)
    a_col, b_col = st.columns(2)
    from_link("codegen_a", "a", with_problems, with_problems[0])
    from_link("codegen_b", "b", with_problems, with_problems[1])
    run_a = a_col.selectbox("Run A", with_problems, format_func=labelled(names), key="codegen_a")
    run_b = b_col.selectbox("Run B", with_problems, format_func=labelled(names), key="codegen_b")
    try:
        flipped = view(views.flipped, run_a, run_b).table
    except compare.ComparisonError as e:
        st.warning(f"Not compared: {e}")
    else:
        gained, lost = (flipped["change"] > 0).sum(), (flipped["change"] < 0).sum()
        st.caption(f"{gained} problem(s) pass more often in B, {lost} less often (pass rate over samples).")
        st.dataframe(flipped, hide_index=True, width="stretch")
        download(flipped, "flipped-problems.csv", "flipped_csv")
    return run_a, run_b
