"""Runs and sweeps on a real local Ray cluster (2 CPUs, reached over 127.0.0.1): same results as the local
executor, and a worker killed mid-run is retried by Ray without leaving duplicate runs."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backend import catalog
from backend.config import settings
from backend.runs.executors import already_done, expand_sweep, run_jobs
from backend.store import Store
from tests.conftest import make_tiny_model2vec, synthetic_bench
from tests.test_search import _pairs

pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).parent / "ray")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_TMPDIR": str(tmp_path_factory.mktemp("ray"))}
    start = subprocess.run([RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                            "--include-dashboard=false", "--disable-usage-stats"], env=env, capture_output=True,
                           text=True, timeout=180)
    assert start.returncode == 0, start.stdout + start.stderr
    yield f"127.0.0.1:{port}"
    import ray
    ray.shutdown()
    subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


def _sweep(tmp_path, text):
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return expand_sweep(path, settings().bench_dir)


def test_sweep_on_ray_equals_local(cluster, runs_dir, tmp_path, monkeypatch):
    synthetic_bench(monkeypatch, tmp_path / "benchmarks", ("python", "go"))
    model = make_tiny_model2vec(tmp_path / "tiny", [p["query"] + " " + p["code"] for p in _pairs("python")])
    grid = f'[[grid]]\nkind = "eval"\nmodel = "{model}"\nmax_queries = [10, 20]\nlanguages = "python,go"\n'
    jobs = _sweep(tmp_path, grid)
    assert len(jobs) == 2 and len({j.run_id for j in jobs}) == 2
    results = {}
    for executor in ("local", "ray"):
        store, runs = Store(tmp_path / executor / "db.duckdb"), tmp_path / executor / "runs"
        done = run_jobs(_sweep(tmp_path, grid), executor, store, settings().override(runs_dir=runs), cluster)
        assert [j.outcome for j in done] == ["finished", "finished"]
        results[executor] = store.metrics().sort_values(["run_id", "language", "metric"]).reset_index(drop=True)
        assert len(already_done(_sweep(tmp_path, grid), runs)) == 2  # a re-run of the sweep skips both
    assert len(results["ray"]) == len(results["local"]) > 0
    assert results["ray"].equals(results["local"])  # same run ids (config hash), same values


def test_killed_worker_is_retried_without_duplicates(cluster, runs_dir, store, tmp_path, monkeypatch):
    synthetic_bench(monkeypatch, tmp_path / "benchmarks", ("python", "go"))
    [job] = _sweep(tmp_path, '[[grid]]\nkind = "teacher-eval"\nmodel = "minilm"\nlanguages = "python,go"\n')
    finished = []
    thread = threading.Thread(target=lambda: finished.extend(run_jobs([job], "ray", store, settings(), cluster)))
    thread.start()
    progress = runs_dir / job.run_id / "progress.json"
    deadline = time.monotonic() + 120
    while not progress.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    victim = __import__("json").loads(progress.read_text())["pid"]
    assert victim != os.getpid()
    os.kill(victim, signal.SIGKILL)  # the Ray worker running the evaluation dies mid-task
    thread.join(timeout=900)
    assert finished and finished[0].outcome == "finished"
    assert __import__("json").loads(progress.read_text())["pid"] != victim  # a retry in another worker finished it
    runs = store.runs()
    assert sorted(runs["run_id"]) == [job.run_id, f"{job.run_id}--csn-1000"]  # once each, no duplicates
    assert set(runs["status"]) == {"finished"}
    assert catalog.rebuild(store, runs_dir) == 2  # runs/ holds exactly those two run.json files
