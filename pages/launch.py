"""Launch: start a run of a registered kind in the background and follow its progress."""
import streamlit as st

from backend import runners
from backend.catalog import default_store
from backend.config import settings
from backend.kinds import KINDS
from pages.common import load


@st.fragment(run_every=2)
def running():
    runs = load("runs")
    if runs is None:
        return
    active = runs[runs["status"] == "running"]
    st.subheader(f"Running ({len(active)})")
    for run in active.itertuples():
        p = runners.progress_of(settings().runs_dir, run.run_id)
        bar, button = st.columns([6, 1])
        bar.progress(p.get("fraction", 0.0), text=f"{run.run_id}: {p.get('message', 'starting')}")
        if button.button("Cancel", key=f"cancel-{run.run_id}"):
            runners.cancel(settings().runs_dir, run.run_id)
    recent = runs[runs["status"].isin(["failed", "cancelled", "interrupted"])].head(5)
    for run in recent.itertuples():
        st.caption(f"{run.status}: {run.run_id} — {run.error}")


st.title("Launch a run")
running()  # first: what is going on now
launchable = [k for k in KINDS.values() if k.runner]
kind = st.selectbox("Kind", [k.name for k in launchable], format_func=lambda n: f"{n} — {KINDS[n].help}")
fields = runners.config_fields(kind)
with st.form("launch"):
    options = {}
    for f in fields:
        label, help_text = f.name.replace("_", " "), f.metadata.get("help")
        if isinstance(f.default, int):
            options[f.name] = st.number_input(label, value=f.default, min_value=0, step=1, help=help_text)
        else:
            options[f.name] = st.text_input(label, value=f.default, help=help_text)
    submitted = st.form_submit_button("Launch", type="primary")
if submitted:
    defaults = {f.name: f.default for f in fields}
    changed = {k: v for k, v in options.items() if v != defaults[k]}
    try:
        proc, log = runners.spawn(kind, changed, settings().runs_dir, default_store(settings()).path)
        st.success(f"Started {kind} (process {proc.pid}); its output goes to `{log}`.")
    except ValueError as e:
        st.error(f"Not started: {e}")
