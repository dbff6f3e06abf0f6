"""Launch: start a run of a registered kind in the background and follow its progress."""
import dataclasses
import time

import streamlit as st

from backend import options, progress
from backend.catalog import default_store
from backend.config import settings
from backend.kinds import KINDS
from backend.options import field_type
from backend.progress import clock
from backend.runs import first_start, supervision
from pages.common import load


def _age(report: dict) -> str:
    """' · last report 1:05 ago' when a step has been quiet for a while (one long library call, or stuck)."""
    quiet = time.time() - report.get("time", time.time())
    return f" · last report {clock(quiet)} ago" if quiet > 15 else ""


@st.fragment(run_every=2)
def running():
    runs = load("runs")
    if runs is None:
        return
    active = runs[runs["status"] == "running"]
    first = supervision.defaults_in_progress(settings().runs_dir)
    st.subheader(f"Running ({len(active) + (first and active.empty)})")
    if first:  # the benchmark, then each default run: the stage, its ETA and the whole first start's
        p = progress.read(first_start.progress_path(settings().runs_dir))
        st.progress(p.get("fraction", 0.0), text=f"First start: {p.get('message', 'starting')}{_age(p)}")
    for run in active.itertuples():
        p = supervision.progress_of(settings().runs_dir, run.run_id)
        bar, button = st.columns([6, 1])
        bar.progress(p.get("fraction", 0.0), text=f"{run.run_id}: {p.get('message', 'starting')}{_age(p)}")
        if button.button("Cancel", key=f"cancel-{run.run_id}"):
            supervision.cancel(settings().runs_dir, run.run_id)
    recent = runs[runs["status"].isin(["failed", "cancelled", "interrupted"])].head(5)
    for run in recent.itertuples():
        st.caption(f"{run.status}: {run.run_id} — {run.error}")


st.title("Launch a run")
running()  # first: what is going on now
launchable = [k for k in KINDS.values() if k.runner]
kind = st.selectbox("Kind", [k.name for k in launchable], format_func=lambda n: f"{n} — {KINDS[n].help}")
config_cls = KINDS[kind].load()[1]
with st.form("launch"):
    values = {}
    for f in dataclasses.fields(config_cls):
        label, help_text, kind_of = f.name.replace("_", " "), f.metadata.get("help"), field_type(config_cls, f)
        if f.metadata.get("choices"):
            allowed = list(f.metadata["choices"])
            values[f.name] = st.selectbox(label, allowed, index=allowed.index(f.default), help=help_text)
        elif kind_of is int:
            values[f.name] = st.number_input(label, value=f.default, step=1, help=help_text)
        elif kind_of is float:
            values[f.name] = st.number_input(label, value=float(f.default), format="%g", help=help_text)
        else:
            values[f.name] = st.text_input(label, value=str(f.default), help=help_text)
    submitted = st.form_submit_button("Launch", type="primary")
if submitted:
    try:
        changed = options.changed(config_cls, values)  # the one conversion: "0.05" from a widget is 0.05
        pid, log = supervision.spawn(kind, changed, settings().runs_dir, default_store(settings()).path,
                                      settings().device)
        st.success(f"Started {kind} (process {pid}); its output goes to `{log}`.")
    except ValueError as e:
        st.error(f"Not started: {e}")
