"""Entry point: the page list and the shared sidebar, nothing else."""
import streamlit as st

from backend.catalog import default_store
from backend.config import settings
from backend.runs import first_start
from backend.runs.supervision import defaults_in_progress
from pages import APP_RAN

st.set_page_config(page_title="Code-model comparison", page_icon=":material/monitoring:", layout="wide")
RUNS = st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:", url_path="runs")
PAGES = [
    RUNS,
    st.Page("pages/deltas.py", title="Language deltas", icon=":material/translate:"),
    st.Page("pages/efficiency.py", title="Efficiency", icon=":material/balance:"),
    st.Page("pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
    st.Page("pages/search.py", title="Live search", icon=":material/search:"),
    st.Page("pages/codegen.py", title="Codegen", icon=":material/code:"),
    st.Page("pages/recipes.py", title="Recipes", icon=":material/science:"),
    st.Page("pages/launch.py", title="Launch", icon=":material/rocket_launch:"),
]
# Our own sidebar links (client.showSidebarNavigation is off): Streamlit would otherwise list every file in
# pages/, helpers included, until the first st.navigation call of a new server.
# "/" opens the Runs page at its own address, so /runs is a link that works (the default page has none).
home = st.Page(lambda: st.switch_page(RUNS), title="Runs", url_path="home", default=True)
page = st.navigation([home, *PAGES], position="hidden")
st.session_state[APP_RAN] = True
with st.sidebar:
    for p in PAGES:
        st.page_link(p)
    st.caption(f"DB: `{default_store(settings()).path}`")
if defaults_in_progress(settings().runs_dir):
    st.info(first_start.banner_text(settings().runs_dir))
page.run()
