"""Efficiency: score per MB and per million parameters, encode speed-up, with the Pareto front."""
import streamlit as st

from backend import compare, public_view, report, views
from backend.config import settings
from backend.frames import isin
from backend.kinds import kinds_of
from backend.views.base import evaluation_choices, in_evaluation
from backend.views.efficiency import efficiency_scores
from backend.vocab import METRICS
from pages.parts.efficiency import seed_groups, speedups
from pages.parts.links import from_link, to_link
from pages.parts.outputs import capped, download, draw, share
from pages.parts.reads import EMPTY_HINT, load, view

ALL = "all runs (mixed evaluations)"

st.title("Efficiency")
runs, names_stored = load("runs"), load("metric_names")
if runs is not None and runs.empty:
    st.info(EMPTY_HINT)
elif runs is not None and names_stored is not None:
    runs = runs[~runs["kind"].isin(kinds_of("codegen"))]  # code search models; code LMs: the Codegen page
    public = st.toggle(public_view.TOGGLE, True, key="public_models", help=public_view.TOGGLE_HELP)
    runs = public_view.shown(runs, public)
    groups, first = evaluation_choices(runs)
    left, right, lang_col = st.columns(3)
    from_link("eff_group", "evaluation", [*groups, ALL], first or ALL)
    group = groups.get(left.selectbox("Evaluated on (benchmark · protocol)", [*groups, ALL], key="eff_group"))
    shown = in_evaluation(runs, group)
    available, default = efficiency_scores(names_stored)
    from_link("eff_metric", "metric", available, default)
    metric = right.selectbox("Score", available, format_func=lambda m: METRICS[m].label, key="eff_metric")
    scored = load("metric_by_language", metric)
    scored = scored[isin(scored.index.to_series(), shown["run_id"])]
    languages = [lang for lang in scored if scored[lang].notna().any()]
    language = lang_col.selectbox("Language", ["mean", *languages], key="eff_language",
                                  help="the score: the mean over a run's languages, or one language's (its Pareto front)")
    evaluation = (settings().runs_dir, metric, *(group or (None, None)), None)
    chosen = (None if language == "mean" else language, public)
    eff = view(views.efficiency, *evaluation, None, group is None, *chosen)
    eff = speedups(eff, shown, lambda base: view(views.efficiency, *evaluation, base, group is None, *chosen))
    to_link(evaluation=st.session_state["eff_group"], metric=metric, base=eff.base)
    draw(eff.figures, columns=2, titled=True)  # two per row: the centred page is too narrow for more
    st.caption("Score: a run's published overall value if it has one, otherwise the mean over its languages "
               "(see 'basis'), with its 95 % interval over queries (bootstrap, error bars) where the run has "
               "per-query results. Encode throughput: documents per second on the benchmark's test code.")
    st.dataframe(capped(eff.table, "best score per MB first"), hide_index=True, width="stretch",
                 column_order=views.efficiency_columns(eff.table),  # the CSV keeps every digit
                 column_config={"speedup": st.column_config.NumberColumn(format="%.1f×")})
    download(eff.table, f"efficiency-{metric}.csv", "efficiency_csv")
    base_name = compare.run_names(eff.table[eff.table["run_id"] == eff.base]).get(eff.base)
    share(f"Efficiency: {group[0]} · {group[1]}" if group else "Efficiency",
          lambda: [report.efficiency_section(eff.table, metric, base_name)], f"efficiency-{metric}",
          "efficiency_report")
    seed_groups(shown, metric)
