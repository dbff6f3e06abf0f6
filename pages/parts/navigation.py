"""Whether a page runs through app.py's navigation, and background jobs a page follows."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import APP_RAN


def through_the_app():
    """Until some session of this server process has run app.py's st.navigation, Streamlit runs a file of
    pages/ opened by its URL on its own (Streamlit's old pages-folder mode: no sidebar, no wide layout, no
    first-start banner) — what a bookmarked link gets first thing after a start. Declaring a navigation (the
    public st.navigation, which ends that mode for the process) and rerunning hands the URL to app.py, once."""
    if not st.session_state.get(APP_RAN):
        st.session_state[APP_RAN] = True  # once per session, whatever runs the page (AppTest runs it alone)
        # A page is known by its URL path (a file's name in that mode): stand-ins under every page file's name
        # keep the rerun on the linked page.
        st.navigation([st.Page(lambda: None, title=f.stem, url_path=f.stem)
                       for f in sorted(Path(__file__).parent.parent.glob("[!_]*.py"))], position="hidden")
        st.rerun()


@st.fragment(run_every=2)
def follow(key: str, what: str):
    """A background process this session started (``st.session_state[key]`` = (pid, log, started)): its last
    output line while it runs; when it has ended, that line is kept in ``key + '_last'`` and the page reruns
    (to show what it made)."""
    import time

    from backend.processes import alive, last_line
    from backend.progress import clock
    job = st.session_state.get(key)
    if not job:
        return
    pid, log, started = job
    if alive(pid):
        st.info(f"{what} (process {pid}, {clock(time.time() - started)}): {last_line(log) or 'starting'}",
                icon=":material/hourglass_top:")
        return
    st.session_state[key + "_last"] = last_line(log)
    del st.session_state[key]
    st.rerun()
