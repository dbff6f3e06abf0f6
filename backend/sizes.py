"""Size and content hash of model files on disk (a run's disk MB, a packaged model's identity)."""
from __future__ import annotations

import hashlib
from pathlib import Path


def folder_mb(path: Path) -> float:
    """Size on disk of a model file or folder, MB (10^6 bytes)."""
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def folder_sha256(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in Path(path).rglob("*") if q.is_file()):
        h.update(str(p.relative_to(path)).encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
