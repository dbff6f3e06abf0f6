"""Size of model files on disk (a run's disk MB)."""
from __future__ import annotations

from pathlib import Path


def folder_mb(path: Path) -> float:
    """Size on disk of a model file or folder, MB (10^6 bytes)."""
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6

