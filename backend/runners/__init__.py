"""Launching runs: validate the config, write runs/<id>/run.json as the run goes, ingest it through the catalog.

A runner only returns records and writes files under its run folder; it never opens the DB. A crash, an
interrupt or a bad config leaves the run stored as failed/cancelled with its error, never half-written.
"""
from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from backend import catalog, rundirs
from backend.config import REPO_ROOT, Settings
from backend.kinds import get_kind
from backend.records import SCHEMA_VERSION, RunRecord, record_from_dict
from backend.store import Store


class RunFailed(RuntimeError):
    """The run ran and failed; it is stored with status failed and this error."""


class RunContext:
    """What a runner gets: its run id and folder, the settings, a progress reporter and a record builder."""

    def __init__(self, kind: str, run_id: str, settings: Settings, config: dict, started: str):
        self.kind, self.run_id, self.config, self.started = kind, run_id, config, started
        self.settings = settings
        self.dir = rundirs.run_dir(settings.runs_dir, run_id)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.losses: list[float] = []
        self.progress(0.0, "starting", quiet=True)

    def progress(self, fraction: float, message: str, quiet: bool = False):
        """Progress for the pages (progress.json, with our pid so a dead run can be told) and the terminal."""
        rundirs.write_atomic(self.dir / "progress.json", json.dumps(
            {"fraction": round(min(max(fraction, 0.0), 1.0), 4), "message": message, "time": time.time(),
             "pid": os.getpid(), "host": socket.gethostname()}), durable=False)
        if not quiet:
            print(f"[{fraction:6.1%}] {message}", flush=True)

    def loss(self, value: float) -> float:
        """Record one training step's loss. losses.json is rewritten at every step, so a cancelled or crashed
        run keeps its curve up to that point."""
        self.losses.append(round(float(value), 6))
        rundirs.write_atomic(self.dir / "losses.json", json.dumps(self.losses), durable=False)
        return self.losses[-1]

    def benchmark(self, ref: str):
        """The benchmark the run was launched on (its id is pinned in the config at launch)."""
        from backend.bench import dataset
        return dataset.load(ref or None, self.settings.bench_dir)

    def record(self, run_id: str | None = None, **fields) -> RunRecord:
        """A record of this run; its provenance says how it was made (code, libraries, machine)."""
        from backend.provenance import environment
        base = {"schema_version": SCHEMA_VERSION, "run_id": run_id or self.run_id, "kind": self.kind,
                "created_at": self.started, "config": self.config, "source": "local",
                "peak_memory_mb": peak_rss_mb(), "metrics": []}
        provenance = {**fields.pop("provenance", {}), "environment": environment()}
        return record_from_dict({**base, **fields, "provenance": provenance})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()[:60] or "run"


def make_run_id(kind: str, label: str) -> str:
    return f"{kind}--{_slug(label)}--{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')[:-4]}"


def build_config(kind_name: str, options: dict):
    """The kind's typed config from raw options (any source: see options.py); ValueError naming the fix."""
    from backend import options as opts
    return opts.build(get_kind(kind_name).load()[1], options, kind_name)


def pin_benchmark(kind_name: str, options: dict, bench_dir: Path) -> dict:
    """Options with ``bench`` fixed to the newest built benchmark's id when the kind takes one and none was
    given: a run (and a sweep's config hash) names its benchmark once, at launch, and never looks it up again."""
    from backend.bench import dataset
    names = {f.name for f in config_fields(kind_name)}
    if "bench" not in names or options.get("bench"):
        return options
    try:
        return {**options, "bench": dataset.load(None, bench_dir).id}
    except dataset.BenchmarkError:
        return options  # none built yet: the run says so when it starts


def launch(kind_name: str, options: dict, store: Store | None, settings: Settings,
           run_id: str | None = None) -> list[RunRecord]:
    """Run a kind to completion; returns its stored records. RunFailed if it failed (stored as failed).

    ``store`` None: only write runs/<id>/run.json (a cluster worker; the driver's store ingests them).
    ``run_id``: a fixed id (sweeps use the config hash, so a retried or repeated run replaces itself)."""
    kind = get_kind(kind_name)
    runner, _ = kind.load()
    runs_dir = settings.runs_dir
    config = build_config(kind_name, pin_benchmark(kind_name, options, settings.bench_dir))
    config_dict = dataclasses.asdict(config)
    run_id = run_id or make_run_id(kind_name, config.label())
    if threading.current_thread() is threading.main_thread():
        # A process started from a background shell inherits "ignore SIGINT"; cancel() relies on it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    ctx = RunContext(kind_name, run_id, settings, config_dict, now())
    _store_records([ctx.record(status="running", name=config.label())], store, runs_dir)
    try:
        records = runner(config, ctx)
    except BaseException as e:
        status = "cancelled" if isinstance(e, KeyboardInterrupt) else "failed"
        message = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        (ctx.dir / "error.log").write_text(traceback.format_exc())
        failed = ctx.record(status=status, name=config.label(), error=message[:2000], finished_at=now())
        _store_records([failed], store, runs_dir)
        if isinstance(e, KeyboardInterrupt):
            raise
        raise RunFailed(f"run {run_id} {status}: {message} (traceback in {ctx.dir / 'error.log'})") from e
    _store_records(records, store, runs_dir)
    return records


def _store_records(records: list[RunRecord], store: Store | None, runs_dir: Path):
    if store is None:
        catalog.write_records(records, Path(runs_dir))
    else:
        catalog.write_and_ingest(records, store, Path(runs_dir), replace=True)


def config_run_id(kind_name: str, options: dict) -> str:
    """A run id from the kind and a hash of its full validated config: the same config, the same id."""
    import hashlib
    config = build_config(kind_name, options)
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True).encode()).hexdigest()[:10]
    return f"{kind_name}--{_slug(config.label())}--{digest}"


def _launch_args(kind_name: str, options: dict, runs_dir: Path, db_path: Path,
                 run_id: str | None = None) -> list[str]:
    """``python -m backend launch KIND --option value ...`` for a run in a process of its own."""
    args = [sys.executable, "-m", "backend", "--runs-dir", str(runs_dir), "--db", str(db_path), "launch", kind_name]
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args + (["--run-id", run_id] if run_id else [])


DEFAULTS_KEY = "default_runs"
DEFAULT_RUNS = [("teacher-eval", {"model": "minilm"}), ("m2v-distill", {"model": "minilm"})]


def ensure_default_runs(store: Store, settings: Settings) -> bool:
    """First start: build the default benchmark and make the default runs; later starts return at once."""
    from backend.bench import build, dataset
    from backend.bench.sources import DEFAULT_SOURCES
    runs_dir, bench_dir, cache_dir = settings.runs_dir, settings.bench_dir, settings.cache_dir
    if store.get_meta(DEFAULTS_KEY):
        return False
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    lock = open(Path(runs_dir) / ".defaults.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a second dashboard start must not repeat the work
    except BlockingIOError:
        print("default runs are already being made by another process", flush=True)
        return False
    try:
        bench = dataset.load(None, bench_dir)
    except dataset.BenchmarkError:
        print("first start: building the default 6-language benchmark (about 3 minutes)", flush=True)
        bench = dataset.load(str(build.build(list(DEFAULT_SOURCES), bench_dir, cache_dir)), bench_dir)
    for kind, options in DEFAULT_RUNS:
        print(f"first start: {kind} {options} on {bench.id}", flush=True)
        # One process per run: peak memory is then the run's own, and one failure does not stop the next.
        args = _launch_args(kind, {**options, "bench": bench.id}, runs_dir, store.path)
        if subprocess.run(args, cwd=REPO_ROOT).returncode != 0:
            raise RunFailed(f"default run {kind} failed; see the Runs page for its error")
    store.set_meta(DEFAULTS_KEY, bench.id)
    return True


def config_fields(kind_name: str) -> list[dataclasses.Field]:
    """The options of a launchable kind (name, default, help in metadata), for forms and the CLI."""
    return list(dataclasses.fields(get_kind(kind_name).load()[1]))


def spawn(kind_name: str, options: dict, runs_dir: Path, db_path: Path):
    """Start ``python -m backend launch`` in the background (the page must not wait); returns (process, log)."""
    build_config(kind_name, options)  # refuse bad options here, before a process starts
    args = _launch_args(kind_name, options, runs_dir, db_path)
    log = Path(runs_dir) / ".launch" / f"{make_run_id(kind_name, 'log')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(args, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return proc, log


def progress_of(runs_dir: Path, run_id: str) -> dict:
    """The last progress a running run reported ({} if none yet)."""
    try:
        return json.loads((rundirs.run_dir(runs_dir, run_id) / "progress.json").read_text())
    except (OSError, ValueError):
        return {}


def reap_interrupted(store: Store, runs_dir: Path, runs=None) -> list[str]:
    """Runs still 'running' whose process is gone (kill -9, power loss) become 'interrupted', log kept.

    ``runs``: the caller's fresh ``store.runs()``, so a page load does not query the runs twice.
    """
    runs = store.runs() if runs is None else runs
    reaped = []
    for run_id in runs.loc[runs["status"] == "running", "run_id"]:
        progress = progress_of(runs_dir, run_id)
        if progress.get("host") != socket.gethostname() or _alive(progress.get("pid")):
            continue  # another machine's run, or still going
        path = rundirs.run_dir(runs_dir, run_id) / "run.json"
        data = json.loads(path.read_text())
        data.update(status="interrupted", finished_at=now(),
                    error=f"the run's process ({progress.get('pid')}) ended without finishing: killed or crashed; "
                          f"last step: {progress.get('message', '?')}")
        catalog.write_and_ingest([record_from_dict(data)], store, Path(runs_dir), replace=True)
        reaped.append(run_id)
    return reaped


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def defaults_in_progress(runs_dir: Path) -> bool:
    """True while a `defaults` process holds its lock (first start still building/evaluating)."""
    path = Path(runs_dir) / ".defaults.lock"
    if not path.is_file():
        return False
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def cancel(runs_dir: Path, run_id: str) -> bool:
    """Ask a running run to stop (SIGINT): its runner stores it as cancelled with its partial log."""
    progress = progress_of(runs_dir, run_id)
    if progress.get("host") != socket.gethostname() or not _alive(progress.get("pid")):
        return False
    os.kill(progress["pid"], signal.SIGINT)
    return True
