"""Launch: start a run of a registered kind in the background and follow its progress."""
import time

import streamlit as st

from backend import options, progress
from backend.catalog import default_store
from backend.config import settings
from backend.kinds import KINDS
from backend.progress import clock
from backend.runs import first_start, supervision
from pages.parts.pickers import config_form
from pages.parts.reads import load


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
notice = st.container()  # what a click started: on top, beside its progress, not under a long form
running()  # first: what is going on now
launchable = [k for k in KINDS.values() if k.runner]
kind = st.selectbox("Kind", [k.name for k in launchable], format_func=lambda n: f"{n} — {KINDS[n].help}")
config_cls = KINDS[kind].load()[1]
submitted, values = config_form(config_cls, "launch", "Launch")
if submitted:
    try:
        changed = options.changed(config_cls, values)  # the one conversion: "0.05" from a widget is 0.05
        pid, log = supervision.spawn(kind, changed, settings().runs_dir, default_store(settings()).path,
                                      settings().device)
        notice.success(f"Started {kind} (process {pid}); its output goes to `{log}`. Progress: below.")
        # The Launch button ends a long form: the toast shows where the user is looking, at any scroll.
        st.toast(f"Started {kind} (process {pid}): its progress is at the top of this page.",
                 icon=":material/rocket_launch:", duration="long")
    except ValueError as e:
        notice.error(f"Not started: {e}")
        st.toast(f"Not started: {e}", icon=":material/error:", duration="long")
