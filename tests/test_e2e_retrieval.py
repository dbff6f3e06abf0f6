"""A small real end-to-end slice: real source code, the real packaged MiniLM teacher, a real Model2Vec distill.

Marked slow (about a minute on 2 cores); CI runs it all the same.
"""
import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from backend.bench import build
from backend.bench.sources import SourceSpec
from backend.config import settings
from backend.runs.lifecycle import RunFailed, launch

pytestmark = pytest.mark.slow


@pytest.fixture
def small_bench(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_BENCH_DIR", str(tmp_path / "benchmarks"))
    settings.cache_clear()
    email = Path(sysconfig.get_paths()["stdlib"]) / "email"
    path = build.build(["python"], settings().bench_dir, tmp_path / "cache", test_size=60, progress=None,
                       sources={"python": SourceSpec("python", "dir", path=str(email))})
    return path.name


def test_teacher_and_distilled_student_on_real_code(store, runs_dir, small_bench):
    teacher = launch("teacher-eval", {"model": "minilm", "bench": small_bench}, store, settings())
    student = launch("m2v-distill", {"model": "minilm", "bench": small_bench, "pca_dims": 64}, store, settings())
    runs = store.runs().set_index("run_id")
    assert [r.protocol for r in teacher] == ["full", "csn-1000"] and len(student) == 2  # all 60 queries
    t, s = runs.loc[teacher[0].run_id], runs.loc[student[0].run_id]
    assert t["status"] == s["status"] == "finished" and t["benchmark"] == s["benchmark"] == small_bench
    assert 22_000_000 < t["params"] < 23_500_000  # all-MiniLM-L6-v2
    assert s["params"] < t["params"] / 2 and s["disk_mb"] < t["disk_mb"] / 3
    assert s["encode_throughput"] > 3 * t["encode_throughput"]  # a static model encodes far faster
    assert (runs_dir / student[0].run_id / "model" / "model.safetensors").is_file()
    metrics = store.metrics([teacher[0].run_id, student[0].run_id]).set_index(["run_id", "metric"])["value"]
    teacher_ndcg, student_ndcg = metrics[(teacher[0].run_id, "ndcg@10")], metrics[(student[0].run_id, "ndcg@10")]
    assert 0.3 < teacher_ndcg <= 1.0 and 0.05 < student_ndcg < teacher_ndcg  # real retrieval, student weaker
    assert len(store.query_results(teacher[0].run_id)) == 60


def test_eval_of_a_missing_model_is_stored_as_failed(store, runs_dir, small_bench):
    with pytest.raises(RunFailed, match="not found"):
        launch("eval", {"model": str(runs_dir / "no-such-model"), "bench": small_bench}, store, settings())
    run = store.runs().iloc[0]
    assert run["status"] == "failed" and "not found" in run["error"] and run["finished_at"] is not None


def _teacher_eval_process(store, runs_dir, tmp_path):
    """A real `launch teacher-eval` process, returned once it is encoding (so it can be killed mid-run)."""
    from backend.config import REPO_ROOT
    from backend.runs.supervision import progress_of
    bench = tmp_path / "benchmarks"
    email = Path(sysconfig.get_paths()["stdlib"]) / "email"  # big enough to still be encoding when stopped
    build.build(["python"], bench, tmp_path / "cache", test_size=100, progress=None,
                sources={"python": SourceSpec("python", "dir", path=str(email))})
    env = {**os.environ, "DASHBOARD_BENCH_DIR": str(bench), "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "backend", "launch", "teacher-eval"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = store.runs()
        if len(runs) and "python" in progress_of(runs_dir, runs["run_id"].iloc[0]).get("message", ""):
            break
        time.sleep(0.2)
    return proc, store.runs()["run_id"].iloc[0]


def test_a_killed_run_shows_as_interrupted_with_its_log(store, runs_dir, tmp_path):
    """kill -9 of a real runner process mid-run: the next page load marks it interrupted, the log is kept."""
    from backend.runs.supervision import reap_interrupted
    proc, run_id = _teacher_eval_process(store, runs_dir, tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert store.runs()["status"].iloc[0] == "running"
    assert reap_interrupted(store, runs_dir) == [run_id]
    run = store.runs().iloc[0]
    assert run["status"] == "interrupted" and "killed or crashed" in run["error"]
    assert (runs_dir / run_id / "progress.json").is_file()


def test_cancel_stores_the_run_as_cancelled(store, runs_dir, tmp_path):
    """The Launch page's Cancel: SIGINT to the runner, which stores the run as cancelled with its error."""
    from backend.runs.supervision import cancel
    proc, run_id = _teacher_eval_process(store, runs_dir, tmp_path)
    assert cancel(runs_dir, run_id)
    proc.wait(timeout=60)
    run = store.runs().iloc[0]
    assert run["status"] == "cancelled" and (runs_dir / run_id / "error.log").is_file()
