"""Recipes: a published experiment as runs made here, published beside measured, the differences named."""
import streamlit as st

from backend import figures, recipes
from backend.catalog import default_store
from backend.config import settings
from backend.runs import supervision
from backend.vocab import PASS_METRICS
from pages.common import chart, download, from_link, link_box, load, to_link

st.title("Recipes")
st.caption("Each recipe reproduces a published experiment with the run kinds of this dashboard, on this machine. "
           "Its page sets the published figures beside the ones measured here and says what differs in the "
           "setup: a stand-in is not a replication.")
names = list(recipes.RECIPES)
from_link("recipe_name", "recipe", names, "kd-students")
recipe = recipes.get(st.selectbox("Recipe", names, key="recipe_name",
                                  format_func=lambda n: f"{recipes.RECIPES[n].title} ({n})"))
to_link(recipe=recipe.name)
runs, metrics = load("runs"), load("metrics")
if runs is not None and metrics is not None:
    s = settings()
    try:
        measured, total = recipes.measured_ids(recipe, s.runs_dir, s.bench_dir)
        planned = {j.run_id for j in recipes.jobs(recipe, s.bench_dir)}
    except ValueError as e:  # e.g. no benchmark built yet
        st.error(f"This recipe cannot be planned yet: {e}")
        st.stop()
    left, right = st.columns([3, 1])
    left.markdown(f"**Published:** {recipe.source}  \n**Runs here:** {len(measured)} of {total} done · about "
                  f"{recipe.minutes:.0f} min on a 2-core CPU machine ({recipe.timing})")
    running = supervision.lock_held(supervision.recipe_lock(s.runs_dir, recipe.name))
    if right.button("Run the missing runs", type="primary", disabled=running or len(measured) == total,
                    help="python -m backend recipe run " + recipe.name):
        proc, log = supervision.spawn_recipe(recipe.name, s.runs_dir, default_store(s).path)
        st.success(f"Started (process {proc.pid}); its output goes to `{log}`. Progress: below and on the Launch page.")
        running = True
    if running:
        active = runs[(runs["status"] == "running") & runs["run_id"].isin(planned)]
        for run in active.itertuples():
            p = supervision.progress_of(s.runs_dir, run.run_id)
            st.progress(p.get("fraction", 0.0), text=f"{run.run_id}: {p.get('message', 'starting')}")
        st.caption("The recipe is running; reload to see finished runs appear below.")
    with st.expander("What differs from the published setup", expanded=True):
        st.markdown("\n".join(f"- {d}" for d in recipe.differences))

    table = recipes.comparison(recipe, runs, metrics, measured, s.runs_dir)
    st.subheader("Published vs measured here")
    if recipe.headline:
        st.dataframe(recipes.headline_table(recipe, table), hide_index=True, width="stretch")
    st.dataframe(table, hide_index=True, width="stretch")
    download(table, f"recipe-{recipe.name}.csv", "recipe_csv")
    if "language" in table:  # codegen: pass@k against params, a facet per language, both sides
        for metric in [m for m in PASS_METRICS if m in table and table[m].notna().any()]:
            st.subheader(f"{metric} vs params")
            chart(figures.passk_scatter, table.assign(facet=table["language"] + " · " + table["side"]), "params_m",
                  "params (millions, log)", metric, key=f"recipe_{metric}")
    elif len(table):
        shown, reference, timed, note = recipes.charted(recipe, table)
        size, size_label = recipe.size
        st.subheader(f"Score vs {size_label.split(' (')[0]}")
        chart(figures.efficiency_scatter, shown, size, size_label, recipe.metric, reference)
        if len(timed) > 1:
            st.subheader("Retention vs encode speed-up")
            chart(figures.retention_scatter, timed, "the teacher", recipe.metric)
        if note:
            st.caption(note)
    link_box()
