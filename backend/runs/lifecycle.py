"""A run's life: validate its config, write runs/<id>/run.json as it goes, ingest it through the catalog.

A runner only returns records and writes files under its run folder; it never opens the DB. A crash, an
interrupt or a bad config leaves the run stored as failed/cancelled with its error, never half-written.
"""
from __future__ import annotations

import dataclasses
import json
import re
import resource
import signal
import threading
import traceback
from datetime import datetime, timezone
from pathlib import Path

from backend import catalog, rundirs
from backend import options as opts
from backend.config import Settings
from backend.kinds import get_kind
from backend.records import SCHEMA_VERSION, RunRecord, record_from_dict
from backend.store import Store
from backend.timestamps import now


class RunFailed(RuntimeError):
    """The run ran and failed; it is stored with status failed and this error."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, or the sweep / recipe process that started the run died): stored as cancelled."""


def _terminate(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second one must not interrupt storing the run
    raise Terminated()

class RunContext:
    """What a runner gets: its run id and folder, the settings, a progress reporter and a record builder."""

    def __init__(self, kind: str, run_id: str, settings: Settings, config: dict, started: str, device=None):
        self.kind, self.run_id, self.config, self.started = kind, run_id, config, started
        self.settings = settings
        self.device = device  # backend.device.Device the run computes on (None: a kind without a device option)
        self.dir = rundirs.run_dir(settings.runs_dir, run_id)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.losses: list[float] = []
        from backend.progress import Reporter
        self.progress = Reporter(self.dir / "progress.json")  # progress(fraction, message): pages and terminal
        self.progress(0.0, "starting", quiet=True)

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
        if self.device is not None:
            provenance["device"] = self.device.record()
        return record_from_dict({**base, **fields, "provenance": provenance})

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()[:60] or "run"

def make_run_id(kind: str, label: str) -> str:
    return f"{kind}--{_slug(label)}--{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')[:-4]}"

def config_fields(kind_name: str) -> list[dataclasses.Field]:
    """The options of a launchable kind (name, default, help in metadata), for forms and the CLI."""
    return list(dataclasses.fields(get_kind(kind_name).load()[1]))

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
    config_dict = opts.identity(config)
    device = run_device(config, settings)  # before the run exists: a device that is not here is the user's error
    run_id = run_id or make_run_id(kind_name, config.label())
    main = threading.current_thread() is threading.main_thread()
    if main:
        # A process started from a background shell inherits "ignore SIGINT"; cancel() relies on it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        previous = signal.signal(signal.SIGTERM, _terminate)
    ctx = RunContext(kind_name, run_id, settings, config_dict, now(), device)
    try:
        try:
            _store_records([ctx.record(status="running", name=config.label())], store, runs_dir)
            records = runner(config, ctx)
        except BaseException as e:
            status = "cancelled" if isinstance(e, KeyboardInterrupt) else "failed"
            message = ("terminated (SIGTERM)" if isinstance(e, Terminated)
                       else "cancelled by the user" if isinstance(e, KeyboardInterrupt)
                       else f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
            (ctx.dir / "error.log").write_text(traceback.format_exc())
            failed = ctx.record(status=status, name=config.label(), error=message[:2000], finished_at=now())
            _store_records([failed], store, runs_dir)
            if isinstance(e, KeyboardInterrupt):
                raise
            raise RunFailed(f"run {run_id} {status}: {message} (traceback in {ctx.dir / 'error.log'})") from e
        if main:  # finished: a SIGTERM now must not leave it half stored
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _store_records(records, store, runs_dir)
        return records
    finally:
        if main:  # the caller's handler again (a Ray worker, a test process)
            signal.signal(signal.SIGTERM, previous)

def run_device(config, settings: Settings):
    """The resolved device of a config with a ``device`` option (None without one); DeviceError if not usable."""
    if not hasattr(config, "device"):
        return None
    from backend.device import device_for
    return device_for(config.device, settings.device)

def _store_records(records: list[RunRecord], store: Store | None, runs_dir: Path):
    if store is None:
        catalog.write_records(records, Path(runs_dir))
    else:
        catalog.write_and_ingest(records, store, Path(runs_dir), replace=True)

def config_run_id(kind_name: str, options: dict) -> str:
    """A run id from the kind and a hash of its full validated config: the same config, the same id."""
    import hashlib
    config = build_config(kind_name, options)
    digest = hashlib.sha256(json.dumps(opts.identity(config), sort_keys=True).encode()).hexdigest()[:10]
    return f"{kind_name}--{_slug(config.label())}--{digest}"
