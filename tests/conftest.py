"""Every test gets its own runs/ folder and DuckDB file through the environment (settings are re-read)."""
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from backend import catalog
from backend.config import REPO_ROOT, settings
from backend.store import Store

REFERENCE = REPO_ROOT / "runs" / "reference"

# Property tests: a few examples each in the fast tier (the README's test command), hypothesis's full count in
# the integration tier (.ci/run passes --hypothesis-profile=full, which also moves them into that tier).
# Deadlines off in both: on a shared 2-core machine an example's time says nothing about the code.
hypothesis_settings.register_profile("fast", max_examples=10, deadline=None)
hypothesis_settings.register_profile("full", max_examples=100, deadline=None)
hypothesis_settings.load_profile("fast")


def _scan_installed_components_once():
    """Every new AppTest scans the metadata of each installed distribution for Streamlit components (a third of
    the page tests' time in cProfile); what is installed does not change while the tests run, so scan once."""
    import functools

    from streamlit.components.v2 import manifest_scanner
    manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)


_scan_installed_components_once()


@pytest.hookimpl(tryfirst=True)  # before pytest deselects by marker
def pytest_collection_modifyitems(config, items):
    full = config.getoption("hypothesis_profile", None) == "full"
    for item in items:
        if full and getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.integration)
        # A test that executes code in the sandbox starts bubblewrap: never in the fast tier.
        if any(m.kwargs.get("reason") == SANDBOX_REASON for m in item.iter_markers("skipif")):
            item.add_marker(pytest.mark.integration)


def reference_runs() -> int:
    """How many runs the shipped reference files hold (the first start imports them all)."""
    from backend.importers import load_path
    return sum(len(load_path(p)) for p in REFERENCE.iterdir())
DATA = Path(__file__).parent / "data"


def _sandbox_missing() -> str:
    from backend.codegen import sandbox
    try:
        sandbox.isolation()
    except sandbox.SandboxUnavailable as e:
        if os.environ.get("REQUIRE_SANDBOX") == "1":  # CI installs bubblewrap: there, missing is a failure
            raise
        return str(e)
    return ""


# Tests that execute generated code: skipped, with the line that says what to install, where the sandbox
# cannot run (no bubblewrap); CI sets REQUIRE_SANDBOX=1, so there they fail instead.
# Such a test starts sandboxes, so it belongs to the integration tier whatever its file says (see below).
SANDBOX_REASON = "executing generated code needs bubblewrap: apt-get install bubblewrap"
needs_sandbox = pytest.mark.skipif(bool(_sandbox_missing()), reason=SANDBOX_REASON)


_LLAMA_PROBE = ("import sys\nfrom llama_cpp import Llama\nfrom backend.codegen.lms import resolve_lm\n"
                "from backend.config import settings\n"
                "llm = Llama(model_path=str(resolve_lm('smollm2-135m', settings().cache_dir)), n_ctx=64, verbose=False)\n"
                "llm('def f():', max_tokens=2)\n")


@pytest.fixture(scope="session")
def llama_generates():
    """Skip, with the reason, where llama.cpp itself cannot generate on this machine. Seen 2026-12-02: the
    installed llama-cpp-python 0.3.36 (from a cached wheel, and again built from source here) ends with SIGSEGV
    in its own decode on the shipped SmolLM2 GGUF, its high-level ``Llama(...)(prompt)`` included, at this
    project's commit ec9572c too: the library's crash, which would otherwise take the whole test session down."""
    import subprocess
    import sys
    from backend.config import REPO_ROOT
    done = subprocess.run([sys.executable, "-c", _LLAMA_PROBE], cwd=REPO_ROOT, capture_output=True, timeout=300)
    if done.returncode < 0:
        pytest.skip(f"llama-cpp-python crashes on this machine (signal {-done.returncode} generating two tokens of "
                    "SmolLM2): codegen generation through llama.cpp cannot run here")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "runs"
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(path))
    monkeypatch.delenv("DASHBOARD_DB", raising=False)
    monkeypatch.setenv("DASHBOARD_LOCK_TIMEOUT", "20")
    settings.cache_clear()
    yield path
    settings.cache_clear()


@pytest.fixture
def store(runs_dir) -> Store:
    return catalog.default_store(settings())


@pytest.fixture(scope="session")
def _reference_template(tmp_path_factory) -> Path:
    """A runs folder (run.json files and DB) with the shipped reference runs, imported once per session."""
    folder = tmp_path_factory.mktemp("reference-template") / "runs"
    catalog.import_paths(sorted(REFERENCE.iterdir()), store=Store(folder / "dashboard.duckdb", 20, folder))
    return folder


@pytest.fixture
def reference_store(store, runs_dir, _reference_template) -> Store:
    """The reference runs imported, as a first start does: a copy of the session's import (the same files and
    rows; importing them costs about 0.2 s of CPU, and some 50 tests ask for them)."""
    shutil.copytree(_reference_template, runs_dir, dirs_exist_ok=True)
    return store


@pytest.fixture(scope="session")
def golden_template(tmp_path_factory) -> Path:
    """The golden store built once per test session: the first xdist worker to ask builds it (under a lock in
    the session's shared temporary folder), the others wait for it; each user works on a copy."""
    import fcntl

    from tests.test_golden_exports import build_store, golden_env
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root  # xdist workers: the session's folder
    with open(root / "golden-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "golden-template" / "built").exists():
            shutil.rmtree(root / "golden-template", ignore_errors=True)
            (root / "golden-template").mkdir()
            with golden_env(root / "golden-template"):
                build_store(root / "golden-template" / "runs")
            (root / "golden-template" / "built").touch()
    return root / "golden-template"


def tree(path: Path) -> dict[str, bytes]:
    """Every file under path (but the DB and its lock) with its bytes: 'nothing was written' means this is
    unchanged."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and not p.name.endswith((".duckdb", ".wal", ".duckdb.lock"))}


def make_tiny_model2vec(folder: Path, texts: list[str], dim: int = 16, seed: int = 0) -> Path:
    """A real Model2Vec folder with a word-level vocabulary of ``texts`` and random vectors (no download)."""
    import re

    import numpy as np
    from model2vec import StaticModel
    from tokenizers import Tokenizer, models, pre_tokenizers
    words = sorted({w.lower() for t in texts for w in re.findall(r"\w+", t)})
    vocab = {"[UNK]": 0, "[PAD]": 1, **{w: i + 2 for i, w in enumerate(words)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    vectors = np.random.default_rng(seed).normal(size=(len(vocab), dim)).astype(np.float32)
    config = {"model_type": "model2vec", "architectures": ["StaticModel"], "normalize": True, "hidden_dim": dim}
    StaticModel(vectors, tokenizer, config=config, normalize=True).save_pretrained(str(folder))
    return folder


def synthetic_bench(monkeypatch, bench_dir: Path, languages) -> Path:
    """A benchmark of 100 synthetic pairs per language (20 test, 80 train) under DASHBOARD_BENCH_DIR."""
    from backend.bench import build
    from tests.test_search import _pairs
    monkeypatch.setenv("DASHBOARD_BENCH_DIR", str(bench_dir))
    settings.cache_clear()
    per_language = {lang: build.split(_pairs(lang), 20, seed=0) for lang in languages}
    manifest = {"format": 1, "seed": 0, "test_size": 20, "languages": {
        lang: {"counts": {"test": 20, "train": 80}} for lang in per_language}}
    return build.write(manifest, per_language, settings().bench_dir)


@pytest.fixture
def tiny_bench(runs_dir, tmp_path, monkeypatch):
    """Java train code to fine-tune on, Python to watch forgetting."""
    return synthetic_bench(monkeypatch, tmp_path / "benchmarks", ("python", "java"))
