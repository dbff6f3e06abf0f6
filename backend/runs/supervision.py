"""Runs in processes of their own, for the pages: start one in the background, follow its progress, cancel it,
and tell the runs whose process died (``interrupted``)."""
from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

from backend import catalog, processes, progress, rundirs
from backend.config import REPO_ROOT
from backend.records import record_from_dict
from backend.processes import alive, lock_held
from backend.runs.lifecycle import build_config, make_run_id
from backend.store import Store
from backend.timestamps import now


def launch_args(kind_name: str, options: dict, runs_dir: Path, db_path: Path,
                 run_id: str | None = None) -> list[str]:
    """``python -m backend launch KIND --option value ...`` for a run in a process of its own."""
    args = [sys.executable, "-m", "backend", "--runs-dir", str(runs_dir), "--db", str(db_path), "launch", kind_name]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args + (["--run-id", run_id] if run_id else [])

def spawn(kind_name: str, options: dict, runs_dir: Path, db_path: Path, default_device: str = "auto"):
    """Start ``python -m backend launch`` in the background (the page must not wait); returns (pid, log).
    ``default_device``: the settings' DASHBOARD_DEVICE, which a config's device "auto" stands for."""
    config = build_config(kind_name, options)  # refuse bad options here, before a process starts
    if hasattr(config, "device"):  # and a device this machine lacks (DeviceError: one line for the page)
        from backend.device import device_for
        device_for(config.device, default_device)
    return _background(launch_args(kind_name, options, runs_dir, db_path),
                       Path(runs_dir) / ".launch" / f"{make_run_id(kind_name, 'log')}.log")


def spawn_recipe(name: str, runs_dir: Path, db_path: Path):
    """Start ``python -m backend recipe run NAME`` in the background; returns (pid, log)."""
    args = [sys.executable, "-m", "backend", "--runs-dir", str(runs_dir), "--db", str(db_path), "recipe", "run", name]
    return _background(args, Path(runs_dir) / ".launch" / f"{make_run_id('recipe', name)}.log")


def spawn_speed(base: str, run_ids: list[str], runs_dir: Path, db_path: Path):
    """Start ``python -m backend speed --base BASE RUN...`` in the background: timing models inside the
    dashboard's server would slow every session and be slowed by them. Returns (pid, log)."""
    args = [sys.executable, "-m", "backend", "--runs-dir", str(runs_dir), "--db", str(db_path), "speed", "--base",
            base, *[r for r in run_ids if r != base]]
    return _background(args, Path(runs_dir) / ".launch" / f"{make_run_id('speed', 'log')}.log")


def _background(args: list[str], log: Path):
    """(pid, log) of ``args`` started the one way heavy work starts (processes.spawn: niced, bounded threads,
    reaped)."""
    return processes.spawn(args, REPO_ROOT, log), log


def progress_of(runs_dir: Path, run_id: str) -> dict:
    """The last progress a running run reported ({} if none yet)."""
    return progress.read(rundirs.run_dir(runs_dir, run_id) / "progress.json")

def reap_interrupted(store: Store, runs_dir: Path, runs=None) -> list[str]:
    """Runs still 'running' whose process is gone (kill -9, power loss) become 'interrupted', log kept.

    ``runs``: the caller's fresh ``store.runs()``, so a page load does not query the runs twice.
    """
    runs = store.runs() if runs is None else runs
    reaped = []
    for run_id in runs.loc[runs["status"] == "running", "run_id"]:
        last = progress_of(runs_dir, run_id)
        if last.get("host") != socket.gethostname() or alive(last.get("pid")):
            continue  # another machine's run, or still going
        record = rundirs.read_record(rundirs.record_path(runs_dir, run_id))
        if record is None:
            continue  # its run.json is gone or broken: rebuild will say so
        data = record.to_dict()
        data.update(status="interrupted", finished_at=now(),
                    error=f"the run's process ({last.get('pid')}) ended without finishing: killed or crashed; "
                          f"last step: {last.get('message', '?')}")
        catalog.write_and_ingest([record_from_dict(data)], store, Path(runs_dir), replace=True)
        reaped.append(run_id)
    return reaped


def defaults_lock(runs_dir: Path) -> Path:
    """The lock the `defaults` process (the first start) holds while it builds and evaluates."""
    return Path(runs_dir) / ".defaults.lock"


def defaults_in_progress(runs_dir: Path) -> bool:
    """True while a `defaults` process holds its lock (first start still building/evaluating)."""
    return lock_held(defaults_lock(runs_dir))


def recipe_lock(runs_dir: Path, name: str) -> Path:
    """The lock a `recipe run NAME` process holds while it runs (one at a time per recipe)."""
    return Path(runs_dir) / ".recipes" / f"{name}.lock"


def cancel(runs_dir: Path, run_id: str) -> bool:
    """Ask a running run to stop (SIGINT): its runner stores it as cancelled with its partial log."""
    last = progress_of(runs_dir, run_id)
    if last.get("host") != socket.gethostname() or not alive(last.get("pid")):
        return False
    os.kill(last["pid"], signal.SIGINT)
    return True
