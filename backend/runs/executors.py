"""Where runs execute, registered by name: ``local`` (one process per run, here) or ``ray`` (one Ray task per
run on a cluster). Either way a run writes ``runs/<id>/run.json`` and the one store ingests it, so the
dashboard does not care where a run ran. Sweeps expand a TOML grid into jobs with config-hash run ids.

Ray needs every node to see the same paths: this repository, the runs folder and the benchmark folder
(shared storage), and a Python environment with requirements.txt installed.
"""
from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from backend import catalog, registry, rundirs
from backend.config import REPO_ROOT, Settings
from backend.raycluster import connect_ray
from backend.store import Store


@dataclass
class PlannedRun:
    kind: str
    options: dict
    run_id: str
    cpus: float = 1.0  # resources Ray reserves for the task
    memory_gb: float = 2.0
    outcome: str = field(default="pending", compare=False)
    done_as: str | None = field(default=None, compare=False)  # the finished run that did this job already


EXECUTORS: dict[str, Callable] = {}


def register_executor(name: str):
    return lambda fn: registry.add(EXECUTORS, name, fn, "executor")


def run_jobs(jobs: list[PlannedRun], executor: str, store: Store, s: Settings, address: str | None = None) -> list[PlannedRun]:
    try:
        run = EXECUTORS[executor]
    except KeyError:
        raise ValueError(f"unknown executor {executor!r}; use one of: {', '.join(EXECUTORS)}") from None
    return run(jobs, store, s, address)


@register_executor("local")
def run_local(jobs: list[PlannedRun], store: Store, s: Settings, address=None) -> list[PlannedRun]:
    """One ``python -m backend launch`` process per run, one after the other (each ingests its own run)."""
    from backend.runs.lifecycle import build_config, run_device
    from backend.runs.supervision import launch_args
    for job in jobs:  # a device this machine lacks: one error now, not one failed process per run
        run_device(build_config(job.kind, job.options), s)
    preexec = _terminated_with_parent()
    for job in jobs:
        # The settings' device (--device of sweep / recipe run) goes down with it: "auto" in a config means it.
        proc = subprocess.run(launch_args(job.kind, job.options, s.runs_dir, store.path, job.run_id), cwd=REPO_ROOT,
                              preexec_fn=preexec, env={**os.environ, "DASHBOARD_DEVICE": s.device})
        job.outcome = "finished" if proc.returncode == 0 else "failed"
    return jobs


def _terminated_with_parent():
    """A preexec_fn that makes the run's process get SIGTERM when the sweep / recipe process dies, however it
    dies (a killed recipe left its run going on, and the next recipe ran the same run id beside it); None where
    libc has no prctl (not Linux). libc is looked up here, in the parent: between fork and exec the child only
    makes the call (no import, no lookup)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _run_on_worker(kind: str, options: dict, run_id: str, s: Settings) -> list[str]:
    """Inside a Ray worker, with the driver's settings passed down (not the worker's environment, which Ray
    sets once per connection): run, write run.json files, never open the DB. A failed run is a result (stored
    as failed); only a lost worker makes Ray retry, and the retry replaces the same run id."""
    from backend.runs.lifecycle import RunFailed, launch
    try:
        return [r.run_id for r in launch(kind, options, None, s, run_id=run_id)]
    except RunFailed:
        return [run_id]


@register_executor("ray")
def run_ray(jobs: list[PlannedRun], store: Store, s: Settings, address: str | None = None) -> list[PlannedRun]:
    ray = connect_ray(address)
    runs_dir = s.runs_dir
    task = ray.remote(_run_on_worker)
    refs = {task.options(num_cpus=j.cpus, memory=int(j.memory_gb * 2**30), max_retries=3, name=j.run_id)
            .remote(j.kind, j.options, j.run_id, s): j for j in jobs}
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1, timeout=2.0)
        # Runs still going on the cluster show on the Runs page as running, with their progress.
        catalog.ingest_run_files(store, runs_dir, [refs[r].run_id for r in pending])
        for ref in done:
            job = refs[ref]
            try:
                ids = ray.get(ref)
            except Exception as e:  # noqa: BLE001 - retries exhausted: say so, keep the other runs going
                job.outcome = f"lost: {type(e).__name__}"
                continue
            statuses = catalog.ingest_run_files(store, runs_dir, ids)
            job.outcome = statuses.get(job.run_id, "missing")
    return jobs


def expand_sweep(path: Path, bench_dir: Path) -> list[PlannedRun]:
    """Jobs of a sweep file: each [[grid]] table is a kind plus options; list values multiply out.

    kind = "m2v-distill"            # or a list of kinds sharing the options below
    model = ["minilm", "mpnet"]
    pca_dims = [64, 256]
    cpus = 1                        # optional: resources per run (Ray)
    memory_gb = 4
    """
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: {e}; a sweep file is TOML with [[grid]] tables") from None
    grids = data.get("grid")
    if not isinstance(grids, list) or not grids:
        raise ValueError(f"{path}: no [[grid]] tables; each needs a kind and options")
    return expand_grids(grids, bench_dir, str(path))


def expand_grids(grids: list[dict], bench_dir: Path, where: str) -> list[PlannedRun]:
    """Jobs of grids (a sweep file's tables, a recipe's): config-hash run ids, the benchmark pinned."""
    from backend.runs.lifecycle import build_config, config_run_id, pin_benchmark
    jobs, seen = [], set()
    for i, grid in enumerate(grids):
        grid = dict(grid)
        if "kind" not in grid:
            raise ValueError(f"{where}: grid {i + 1} has no kind")
        resources = {k: grid.pop(k) for k in ("cpus", "memory_gb") if k in grid}
        keys = list(grid)
        values = [v if isinstance(v, list) else [v] for v in grid.values()]
        for combo in itertools.product(*values):
            options = dict(zip(keys, combo))
            kind = options.pop("kind")
            build_config(kind, options)  # a bad option fails here, before anything runs
            # The benchmark is fixed now and part of the config hash: a newer one later is another run.
            options = pin_benchmark(kind, options, bench_dir)
            run_id = config_run_id(kind, options)
            if run_id not in seen:
                seen.add(run_id)
                jobs.append(PlannedRun(kind, options, run_id, **resources))
    return jobs


def already_done(jobs: list[PlannedRun], runs_dir: Path) -> list[PlannedRun]:
    """Jobs finished before, under their config-hash id or as any finished run of the same kind and full config
    (a first start's teacher, a run launched by hand): a sweep or recipe re-run skips them. ``done_as`` names
    the run that did it."""
    import json

    from backend import options as opts
    from backend.kinds import KINDS
    from backend.runs.lifecycle import build_config
    finished = [r for r in rundirs.read_all(runs_dir)[0] if r.status == "finished"]
    ids = {r.run_id for r in finished}
    by_config = {}
    for record in finished:
        if record.config:
            config = record.config
            kind = KINDS.get(record.kind)
            if kind is not None and kind.config:  # a default spelled out ("device": "auto") is the same run
                config = opts.identity_of(kind.load()[1], config)
            by_config.setdefault((record.kind, json.dumps(config, sort_keys=True)), record.run_id)
    done = []
    for job in jobs:
        config = json.dumps(opts.identity(build_config(job.kind, job.options)), sort_keys=True)
        job.done_as = job.run_id if job.run_id in ids else by_config.get((job.kind, config))
        if job.done_as:
            done.append(job)
    return done
