"""Training kinds end to end on tiny data with the real MiniLM teacher: the artifact is saved and reproduces the
run's evaluation when reloaded, the loss falls on a learnable toy set, PEFT's trainable counts are peft's own."""
import json

import pytest

from backend.config import settings
from backend.runs.lifecycle import launch

pytestmark = pytest.mark.slow
TINY = {"languages": "python,java", "steps": 12, "train_batch_size": 8, "max_train": 40}


def _check_saved_model_reproduces_the_run(record, store, runs_dir):
    """``eval`` of the saved model gives the run's own metrics: the artifact is what was evaluated."""
    languages = ",".join(sorted({m["language"] for m in record.metrics}))
    again = launch("eval", {"model": record.model, "languages": languages}, store, settings())[0]
    got = {(m["language"], m["metric"]): m["value"] for m in again.metrics}
    for m in record.metrics:
        assert got[(m["language"], m["metric"])] == pytest.approx(m["value"], abs=1e-6), m


def _losses(runs_dir, record):
    return json.loads((runs_dir / record.run_id / "losses.json").read_text())


def _falls(losses, k=3):
    return sum(losses[-k:]) / k < sum(losses[:k]) / k


@pytest.fixture
def toy_bench(runs_dir, tmp_path, monkeypatch):
    """Python only; its 8 train pairs have their code rotated, so the teacher starts wrong and must learn."""
    from backend.bench import build
    from backend.config import settings
    from tests.test_search import _pairs
    monkeypatch.setenv("DASHBOARD_BENCH_DIR", str(tmp_path / "toy-benchmarks"))
    settings.cache_clear()
    pairs = _pairs("python")
    test, train = pairs[:20], pairs[20:28]
    codes = [p["code"] for p in train]
    train = [{**p, "code": c} for p, c in zip(train, codes[3:] + codes[:3])]
    manifest = {"format": 1, "seed": 0, "test_size": 20, "toy": "rotated", "languages": {
        "python": {"counts": {"test": 20, "train": 8}}}}
    return build.write(manifest, {"python": (test, train)}, settings().bench_dir)


@pytest.mark.parametrize("corpus", ["code", "prose"])
def test_m2v_tokenlearn(store, runs_dir, tiny_bench, corpus):
    record = launch("m2v-tokenlearn", {**TINY, "corpus": corpus, "pca_dims": 32, "steps": 30, "corpus_size": 160,
                                       "train_batch_size": 32}, store, settings())[0]
    assert record.status == "finished" and record.config["corpus"] == corpus
    assert record.trainable_params == record.params  # every vector trained; the fine-tuner's head is not the model
    trained_on = record.provenance["training_corpus"]  # which texts, from where (the prose: a Debian package)
    assert ("fortunes" in str(trained_on)) if corpus == "prose" else trained_on["corpus"].startswith("benchmark train")
    assert _falls(_losses(runs_dir, record))
    _check_saved_model_reproduces_the_run(record, store, runs_dir)


def test_m2v_contrastive_learns_the_pairs(store, runs_dir, toy_bench):
    """The static student's vectors trained on the (rotated, so wrong at first) pairs: the loss falls, every
    vector counts as trained, the saved model is what was evaluated."""
    record = launch("m2v-contrastive", {"languages": "python", "pca_dims": 32, "steps": 30, "train_batch_size": 8,
                                        "learning_rate": 0.05}, store, settings())[0]
    assert record.status == "finished" and record.kind == "m2v-contrastive" and "trained on the pairs" in record.name
    assert record.trainable_params == record.params
    assert _falls(_losses(runs_dir, record))
    _check_saved_model_reproduces_the_run(record, store, runs_dir)


@pytest.mark.parametrize("method", ["lora", "adalora", "ia3", "prompt_tuning"])
def test_peft_contrastive(store, runs_dir, toy_bench, method):
    from transformers import AutoModel

    from backend.retrieval.models import resolve
    from backend.retrieval.training.adapters import DEFAULT_LR, PeftConfig, peft_model
    from backend.sizes import folder_mb
    # All 8 rotated pairs in every batch: the loss of that one batch must fall.
    options = {**TINY, "languages": "python", "method": method, "max_train": 8, "steps": 15}
    record = launch("peft-contrastive", {**options, "learning_rate": 10 * DEFAULT_LR[method]}, store, settings())[0]
    wrapped = peft_model(AutoModel.from_pretrained(str(resolve("minilm", settings().cache_dir))), PeftConfig(**options))
    trainable, total = wrapped.get_nb_trainable_parameters()
    assert record.trainable_params == trainable == sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    assert 0 < trainable < total / 10
    base_mb = folder_mb(resolve("minilm", settings().cache_dir))
    assert record.disk_mb == pytest.approx(base_mb + record.provenance["adapter_mb"]) and record.disk_mb > base_mb
    assert _falls(_losses(runs_dir, record))
    _check_saved_model_reproduces_the_run(record, store, runs_dir)


def test_peft_per_language_adapters(store, runs_dir, tiny_bench):
    record = launch("peft-contrastive", {**TINY, "steps": 4, "adapters": "per-language"}, store, settings())[0]
    assert (runs_dir / record.run_id / "model-python" / "adapter_config.json").is_file()
    assert (runs_dir / record.run_id / "model-java" / "adapter_config.json").is_file()
    assert {m["language"] for m in record.metrics} == {"python", "java"}


def test_kd_student(store, runs_dir, tiny_bench, monkeypatch):
    from backend.progress import Reporter
    fractions, report = [], Reporter.__call__
    monkeypatch.setattr(Reporter, "__call__", lambda self, f, *a, **k: (fractions.append(f), report(self, f, *a, **k)))
    record = launch("kd-student", {**TINY, "layers": 2, "steps": 20, "learning_rate": 1e-4}, store, settings())[0]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # training then evaluation: the bar never goes back
    assert record.params < 20_000_000 and record.trainable_params == record.params  # MiniLM: 22.7M, 6 layers
    assert _falls(_losses(runs_dir, record))
    _check_saved_model_reproduces_the_run(record, store, runs_dir)


def test_the_no_teacher_baseline_learns_the_pairs_alone(store, runs_dir, toy_bench):
    """KD's baseline: the same student, trained contrastively on the (rotated, so wrong at first) pairs."""
    record = launch("kd-student", {"languages": "python", "layers": 2, "steps": 16, "train_batch_size": 8,
                                   "teacher_signal": "none", "learning_rate": 1e-4}, store, settings())[0]
    assert "without a teacher" in record.name and record.config["teacher_signal"] == "none"
    assert _falls(_losses(runs_dir, record)) and record.train_seconds > 0


def test_cancel_mid_training_keeps_the_loss_curve_so_far(store, runs_dir, tiny_bench):
    """Cancel (SIGINT, as the Launch page) a real kd-student process while it trains: stored `cancelled` with
    its traceback, and losses.json holds the steps made before the cancel."""
    import os
    import subprocess
    import sys
    import time

    from backend.config import REPO_ROOT
    from backend.runs.supervision import cancel
    proc = subprocess.Popen([sys.executable, "-m", "backend", "launch", "kd-student", "--languages", "python",
                             "--steps", "100000", "--train-batch-size", "4", "--layers", "1"], cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline, losses = time.monotonic() + 180, []
    while time.monotonic() < deadline and len(losses) < 3 and proc.poll() is None:
        time.sleep(0.5)
        found = list(runs_dir.glob("*/losses.json"))
        losses = json.loads(found[0].read_text()) if found else []
    assert len(losses) >= 3, proc.communicate()[0][-3000:]
    run_id = found[0].parent.name
    assert cancel(runs_dir, run_id)
    proc.wait(timeout=120)
    run = store.runs().set_index("run_id").loc[run_id]
    assert run["status"] == "cancelled" and (runs_dir / run_id / "error.log").is_file()
    kept = json.loads((runs_dir / run_id / "losses.json").read_text())
    assert 3 <= len(kept) < 100000 and kept[:3] == losses[:3]


def test_a_killed_sweep_takes_its_run_down_stored_as_cancelled(store, runs_dir, tiny_bench, tmp_path):
    """`kill -9` of a sweep (or recipe) process: its run, a child process, gets SIGTERM and is stored
    cancelled ("terminated"), instead of running on unseen beside the next sweep's copy of itself."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from backend.config import REPO_ROOT
    grid = tmp_path / "sweep.toml"
    grid.write_text('[[grid]]\nkind = "kd-student"\nlanguages = "python"\nsteps = 100000\n'
                    'train_batch_size = 4\nlayers = 1\n')
    proc = subprocess.Popen([sys.executable, "-m", "backend", "sweep", str(grid)], cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=open(tmp_path / "out.log", "w"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(runs_dir.glob("*/losses.json")):
        time.sleep(0.5)
    try:
        [losses] = list(runs_dir.glob("*/losses.json"))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and json.loads((losses.parent / "run.json").read_text())["status"] == "running":
            time.sleep(0.5)
        run = json.loads((losses.parent / "run.json").read_text())
        assert run["status"] == "cancelled" and run["error"] == "terminated (SIGTERM)", (tmp_path / "out.log").read_text()
        assert store.runs().set_index("run_id").loc[run["run_id"], "status"] == "cancelled"
    finally:  # a failing run of this test must not leave a 100,000-step training behind
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if str(runs_dir).encode() in cmdline.read_bytes():
                    os.kill(int(cmdline.parent.name), signal.SIGKILL)
            except OSError:
                pass
