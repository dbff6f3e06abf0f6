"""Efficiency: score per MB and per million parameters, with the Pareto front."""
import streamlit as st

from backend import compare, figures
from backend.vocab import METRICS
from pages.common import EMPTY_HINT, download, load

st.title("Efficiency")
runs, metrics = load("runs"), load("metrics")
if runs is not None and runs.empty:
    st.info(EMPTY_HINT)
elif runs is not None and metrics is not None:
    available = [m for m in METRICS if m in set(metrics["metric"]) and METRICS[m].direction.value == "higher"]
    metric = st.selectbox("Score", available, index=available.index("ndcg@10") if "ndcg@10" in available else 0,
                          format_func=lambda m: METRICS[m].label)
    eff = compare.efficiency(runs, metrics, metric)
    label = METRICS[metric].label
    left, right = st.columns(2)
    for column, size, size_label in ((left, "disk_mb", "disk MB"), (right, "params_m", "params (millions)")):
        with column:
            st.subheader(f"{label} vs {size_label}")
            fig, problem = figures.safe(figures.efficiency_scatter, eff, size, size_label, label)
            if fig:
                st.plotly_chart(fig, width="stretch")
            else:
                st.warning(problem)
            missing = eff[eff[size].isna()]["name"].tolist()
            if missing:
                st.caption(f"Not drawn (no {size_label} recorded): {', '.join(missing)}")
    st.caption("Score: a run's published overall value if it has one, otherwise the mean over its languages "
               "(see 'basis'). Runs from different benchmarks share these axes: compare with care.")
    st.dataframe(eff, hide_index=True, width="stretch")
    download(eff, f"efficiency-{metric}.csv", "efficiency_csv")
