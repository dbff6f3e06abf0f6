"""Files written so that a crash leaves the old content or the new, never half (a leaf: runs, progress files,
speed measurements and trained models all write through it)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, durable: bool = True):
    """Write via a temp file + rename, so a crash leaves the old file or the new one, never half of one.

    ``durable=False`` skips the per-file fsync; the caller then calls ``flush()`` once for a whole batch.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_new(path: Path, text: str):
    """Write a file in a private folder (an import's staging): nobody reads it half written, so no temp file."""
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)


def flush(runs_dir: Path):
    """Flush the file system that holds ``runs_dir`` to disk (Linux ``syncfs``): a batch of files written with
    ``durable=False`` is then on disk, without the per-file fsyncs (slow for thousands of runs) or a global
    ``sync`` that waits for every other disk of the machine too. Elsewhere: ``os.sync()``."""
    import ctypes
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(runs_dir, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), f"syncfs {runs_dir} failed")
    finally:
        os.close(fd)


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
