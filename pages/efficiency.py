"""Efficiency: score per MB and per million parameters, encode speed-up, with the Pareto front."""
import streamlit as st

from backend import compare, figures, report
from backend.bench import dataset
from backend.config import settings
from backend.device import device_for
from backend.kinds import kinds_of
from backend.retrieval import speed
from backend.vocab import METRICS
from pages.common import (
    EMPTY_HINT,
    capped,
    chart,
    download,
    from_link,
    labels,
    link_box,
    load,
    not_drawn,
    per_version,
    pickable,
    report_downloads,
    score_intervals,
    to_link,
)

ALL = "all runs (mixed evaluations)"

st.title("Efficiency")
runs, names_stored = load("runs"), load("metric_names")
if runs is not None and runs.empty:
    st.info(EMPTY_HINT)
elif runs is not None and names_stored is not None:
    runs = runs[~runs["kind"].isin(kinds_of("codegen"))]  # code search models; code LMs: the Codegen page
    groups = {f"{b} · {p}": (b, p) for b, p in compare.evaluation_groups(runs)}
    left, right = st.columns(2)
    from_link("eff_group", "evaluation", [*groups, ALL], next(iter(groups), ALL))
    group = groups.get(left.selectbox("Evaluated on (benchmark · protocol)", [*groups, ALL], key="eff_group"))
    shown = runs if group is None else runs[(runs["benchmark"].fillna("") == group[0])
                                            & (runs["protocol"].fillna("") == group[1])]
    available = [m for m in METRICS if m in set(names_stored) and METRICS[m].direction.value == "higher"]
    from_link("eff_metric", "metric", available, "ndcg@10" if "ndcg@10" in available else available[0])
    metric = right.selectbox("Score", available, format_func=lambda m: METRICS[m].label, key="eff_metric")
    metrics = load("metrics", None, [metric])  # one metric: what the page shows, not the whole table
    eff = per_version(compare.efficiency, shown, metrics, metric, score_intervals(tuple(shown["run_id"])))
    timed = eff[eff["encode_throughput"].notna()]
    base = measured = None
    if len(timed):
        names = per_version(labels, shown)
        ids = timed["run_id"].tolist()
        from_link("eff_base", "base", ids, compare.speed_base(eff))
        base = st.selectbox("Speed-up and retention relative to",
                            pickable(ids, names, "eff_base", [st.session_state["eff_base"]]), format_func=names.get,
                            key="eff_base")
        measured = speed.latest(settings().runs_dir, base)
        if measured:
            st.caption(f"Speed-ups: {speed.describe(measured)} (runs not in it: per-run throughputs).")
        else:
            st.warning("Speed-ups divide throughputs each run recorded when it ran, at different times on a shared "
                       "machine: measure them side by side for ratios you can trust.")
        if st.button("Measure speed side by side", help="encode the same benchmark code with each timed run's "
                     "model, interleaved in rounds in this process (a teacher takes about a minute)"):
            with st.spinner("Timing the models side by side…"):
                try:
                    bench = dataset.load(str(timed.set_index("run_id").loc[base, "benchmark"]) or None,
                                         settings().bench_dir)
                    device = device_for("auto", settings().device)  # DASHBOARD_DEVICE, as `speed`
                    speed.save(speed.measure_runs(timed, base, bench, settings().cache_dir, device=device),
                               settings().runs_dir)
                    st.rerun()
                except (dataset.BenchmarkError, ValueError, OSError) as e:
                    st.error(f"Not measured: {e}")
    eff = compare.against_base(eff, base, measured)
    to_link(evaluation=st.session_state["eff_group"], metric=metric, base=base)
    label = METRICS[metric].label
    base_name = eff.loc[eff["run_id"] == base, "name"].iloc[0] if base else None
    panels = [(f"{label} vs disk MB", "disk_mb", "disk MB"), (f"{label} vs params", "params_m", "params (millions)")]
    if "inference_mb" in eff and eff["inference_mb"].notna().sum() > 1:  # measured side by side, a process each
        panels.append((f"{label} vs inference memory", "inference_mb", "peak RSS while encoding, MB"))
    if eff["trainable_pct"].notna().any():  # PEFT methods: score against the share of the model they train
        panels.append((f"{label} vs trainable share", "trainable_pct", "trainable params (% of the model, log)"))
    if base and eff[["speedup", "retention"]].notna().all(axis=1).sum() > 1:
        panels.append(("Retention vs encode speed-up (marker size: disk MB)", "speedup", None))
    for row in range(0, len(panels), 2):  # two per row: the centred page is too narrow for more
        for column, (title, size, size_label) in zip(st.columns(2), panels[row:row + 2]):
            with column:
                st.subheader(title)
                if size == "speedup":
                    chart(figures.retention_scatter, eff, base_name, label)
                    continue
                # The base (the untrained teacher by default) as a line: what training has to beat.
                reference = (base_name, eff.loc[eff["run_id"] == base, "score"].iloc[0]) \
                    if size == "trainable_pct" and base_name else None
                chart(figures.efficiency_scatter, eff, size, size_label, label, reference=reference)
                not_drawn(eff, size, size_label.split(" (")[0])
    st.caption("Score: a run's published overall value if it has one, otherwise the mean over its languages "
               "(see 'basis'), with its 95 % interval over queries (bootstrap, error bars) where the run has "
               "per-query results. Encode throughput: documents per second on the benchmark's test code.")
    first = ["name", "score", "score_ci_low", "score_ci_high", "retention", "disk_mb", "inference_mb", "params_m", "trainable_pct", "encode_throughput", "speedup",
             "speed_device", "score_per_mb"]
    st.dataframe(capped(eff, "best score per MB first"), hide_index=True, width="stretch",
                 column_order=[c for c in first if c in eff] + [c for c in eff if c not in first])
    download(eff, f"efficiency-{metric}.csv", "efficiency_csv")
    with st.container(horizontal=True):
        report_downloads(f"Efficiency: {group[0]} · {group[1]}" if group else "Efficiency",
                         lambda: [report.efficiency_section(eff, metric, base_name)], f"efficiency-{metric}",
                         "efficiency_report")
        link_box()
    groups_table = per_version(compare.seed_groups, shown, metrics, metric)
    if len(groups_table):
        st.subheader("Runs that differ only by seed")
        st.caption("Mean and sd over seeds, 95 % t-interval over seeds: how far a seed alone moves the score.")
        st.dataframe(groups_table[groups_table["language"] == "mean"], hide_index=True, width="stretch")
        download(groups_table, f"seed-groups-{metric}.csv", "seed_groups_csv")
