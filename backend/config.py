"""Settings, read once from the environment; each has a default and a help line."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    runs_dir: Path = field(
        default=REPO_ROOT / "runs",
        metadata={"env": "DASHBOARD_RUNS_DIR", "help": "folder of runs/<run_id>/run.json (the source of truth)"},
    )
    db_path: Path | None = field(
        default=None,
        metadata={"env": "DASHBOARD_DB", "help": "DuckDB file the dashboard reads (default: <runs_dir>/dashboard.duckdb)"},
    )
    reference_dir: Path = field(
        default=REPO_ROOT / "runs" / "reference",
        metadata={"env": "DASHBOARD_REFERENCE_DIR", "help": "published results imported on first start"},
    )
    bench_dir: Path = field(
        default=REPO_ROOT / "benchmarks",
        metadata={"env": "DASHBOARD_BENCH_DIR", "help": "built benchmarks: <bench_dir>/<bench-id>/"},
    )
    cache_dir: Path = field(
        default=Path("~/.cache/code-model-dashboard").expanduser(),
        metadata={"env": "DASHBOARD_CACHE_DIR", "help": "downloaded source packages and assembled models"},
    )
    lock_timeout_s: float = field(
        default=30.0,
        metadata={"env": "DASHBOARD_LOCK_TIMEOUT", "help": "seconds to wait for another process's DB write lock"},
    )
    search_cache_mb: float = field(
        default=2048.0,
        metadata={"env": "DASHBOARD_SEARCH_CACHE_MB", "help": "memory for open search indexes (least recently used "
                                                              "ones are closed beyond it)"},
    )
    device: str = field(
        default="auto",
        metadata={"env": "DASHBOARD_DEVICE", "help": "device of runs, speed and Live search: auto (CUDA, then MPS, "
                                                     "then CPU), cpu, cuda, cuda:N or mps; --device overrides it"},
    )

    def override(self, **values) -> "Settings":
        """These settings with some replaced (a command's --runs-dir, --db); None leaves a setting as it is."""
        from dataclasses import replace
        return replace(self, **{k: Path(v).expanduser() for k, v in values.items() if v is not None})

    def with_device(self, device: str) -> "Settings":
        """These settings with another device (a command's --device); ValueError naming the choices."""
        from dataclasses import replace
        return replace(self, device=device_name(device))

    def db_for(self, runs_dir: Path | None = None) -> Path:
        """The DB file: DASHBOARD_DB if set, else dashboard.duckdb inside the runs folder in use."""
        return self.db_path or Path(runs_dir or self.runs_dir) / "dashboard.duckdb"


def device_name(value: str) -> str:
    """A device as typed (DASHBOARD_DEVICE, --device, a config), normalized; ValueError naming the choices.
    backend/device.py resolves it to this machine's device."""
    name = str(value).strip().lower()
    if name in ("auto", "cpu", "cuda", "mps") or re.fullmatch(r"cuda:\d+", name):
        return name
    raise ValueError(f"device {value!r} is not one of auto, cpu, cuda, cuda:N, mps")


def _from_env(environ) -> Settings:
    values = {}
    for f in fields(Settings):
        name, raw = f.metadata["env"], environ.get(f.metadata["env"])
        if not raw:
            continue
        if f.type in ("float", float):
            try:
                values[f.name] = float(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a number; set it like {name}={f.default:g}") from None
        elif f.type in ("str", str):
            try:  # a typo here is one line naming the choices, not a late failure
                values[f.name] = device_name(raw)
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None
        else:
            values[f.name] = Path(raw).expanduser()
    return Settings(**values)


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The environment's settings, read by the entry points only (the CLI's main, the app and its pages, a Ray
    worker), which pass them down; tests call ``settings.cache_clear()`` after changing the environment."""
    return _from_env(os.environ)


def documented() -> list[tuple[str, str, str]]:
    """(env var, default, help) for every setting; the README lists exactly these (a test checks)."""
    return [(f.metadata["env"], str(f.default), f.metadata["help"]) for f in fields(Settings)]
