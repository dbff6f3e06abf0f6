"""The first start: build the default benchmark and make the default runs, once per DB."""
from __future__ import annotations

import subprocess
from pathlib import Path

from backend.config import REPO_ROOT, Settings
from backend.progress import Reporter
from backend.runs.lifecycle import RunFailed
from backend.runs.supervision import defaults_lock, launch_args, try_lock
from backend.store import Store

DEFAULTS_KEY = "default_runs"


def progress_path(runs_dir: Path) -> Path:
    """The first start's own progress (the benchmark build, before any run exists), for the Launch page."""
    return Path(runs_dir) / ".first-start.json"


# The fast, telling runs first, then the slow teacher: each appears on the pages as soon as it finishes. BM25 is
# the lexical floor every embedder is compared with (2.1 s for the whole run on the default benchmark here,
# 2026-12-02, load 7: well under a minute); then the Model2Vec student (about a minute).
DEFAULT_RUNS = [("bm25", {}), ("m2v-distill", {"model": "minilm"}), ("teacher-eval", {"model": "minilm"})]

def ensure_default_runs(store: Store, settings: Settings) -> bool:
    """First start: build the default benchmark and make the default runs; later starts return at once."""
    from backend.bench import build, dataset
    from backend.bench.sources import DEFAULT_SOURCES
    runs_dir, bench_dir, cache_dir = settings.runs_dir, settings.bench_dir, settings.cache_dir
    if store.get_meta(DEFAULTS_KEY):
        return False
    lock = try_lock(defaults_lock(runs_dir))  # a second dashboard start must not repeat the work
    if lock is None:
        print("default runs are already being made by another process", flush=True)
        return False
    try:
        bench = dataset.load(None, bench_dir)
    except dataset.BenchmarkError:
        print("first start: building the default 6-language benchmark (about a minute)", flush=True)
        report = Reporter(progress_path(runs_dir))
        bench = dataset.load(str(build.build(list(DEFAULT_SOURCES), bench_dir, cache_dir, progress=report)),
                             bench_dir)
        report(1.0, f"benchmark {bench.id} built; starting the default runs")
    from backend.runs.executors import already_done, expand_grids
    jobs = expand_grids([{"kind": kind, **options, "bench": bench.id} for kind, options in DEFAULT_RUNS], bench_dir,
                        "default runs")
    already_done(jobs, runs_dir)
    for job in jobs:
        if job.done_as:  # e.g. a recipe made the teacher's run before the dashboard was first opened
            print(f"first start: {job.kind} on {bench.id} was made before, as {job.done_as}", flush=True)
            continue
        print(f"first start: {job.kind} {job.options} on {bench.id}", flush=True)
        # One process per run: peak memory is then the run's own, and one failure does not stop the next.
        args = launch_args(job.kind, job.options, runs_dir, store.path)
        if subprocess.run(args, cwd=REPO_ROOT).returncode != 0:
            raise RunFailed(f"default run {job.kind} failed; see the Runs page for its error")
    store.set_meta(DEFAULTS_KEY, bench.id)
    return True
