"""Entry point: the page list and the shared sidebar, nothing else."""
import streamlit as st

from backend.catalog import default_store

st.set_page_config(page_title="Code-model comparison", page_icon=":material/monitoring:", layout="wide")
page = st.navigation([
    st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:", default=True),
    st.Page("pages/deltas.py", title="Language deltas", icon=":material/translate:"),
    st.Page("pages/efficiency.py", title="Efficiency", icon=":material/balance:"),
    st.Page("pages/search.py", title="Live search", icon=":material/search:"),
    st.Page("pages/launch.py", title="Launch", icon=":material/rocket_launch:"),
])
st.sidebar.caption(f"DB: `{default_store().path}`")
page.run()
