"""The filesystem side of runs/: one folder per run holding run.json, written atomically."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from backend.importers import ImportFailure, load_path
from backend.records import RunRecord, check_run_id


def run_dir(runs_dir: Path, run_id: str) -> Path:
    return Path(runs_dir) / check_run_id(run_id)  # the id check keeps every run inside runs_dir


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


def record_path(runs_dir: Path, run_id: str) -> Path:
    return run_dir(runs_dir, run_id) / "run.json"


def read_record(path: Path) -> RunRecord | None:
    """The record in a run.json (None if absent or unreadable)."""
    from backend.records import RecordError, record_from_dict
    text = read_text(path)
    try:
        return record_from_dict(json.loads(text)) if text else None
    except (ValueError, RecordError):
        return None


def twin_record_files(runs_dir: Path, run_id: str) -> list[Path]:
    """run.json of a run and of its protocol twins (``<id>--csn-1000``)."""
    return sorted(Path(runs_dir).glob(f"{run_id}*/run.json"))


def stored_digest(runs_dir: Path, run_id: str) -> str | None:
    """Digest of the run.json already in runs/ for this id (None if absent or unreadable)."""
    path = run_dir(runs_dir, run_id) / "run.json"
    if not path.is_file():
        return None
    try:
        return load_path(path, "run.json")[0].digest()
    except ImportFailure:
        return "unreadable"


def record_files(runs_dir: Path) -> list[Path]:
    return sorted(p for p in Path(runs_dir).glob("*/run.json") if not p.parent.name.startswith("."))


def read_all(runs_dir: Path) -> tuple[list[RunRecord], list[ImportFailure]]:
    records, failures = [], []
    for path in record_files(runs_dir):
        try:
            records.extend(load_path(path, "run.json"))
        except ImportFailure as e:
            failures.append(e)
    return records, failures


def trash(runs_dir: Path, run_id: str) -> Path | None:
    """Move a run's folder to runs/.trash/ (deleting from the page must stay recoverable)."""
    src = run_dir(runs_dir, run_id)
    if not src.exists():
        return None
    dest = Path(runs_dir) / ".trash" / f"{run_id}--{time.strftime('%Y%m%dT%H%M%S')}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dest))
    return dest


def restore(path: Path, text: str | None):
    """Put a run.json back as it was (``None``: it did not exist) — undoing an import."""
    if read_text(path) == text:
        return
    if text is None:
        path.unlink(missing_ok=True)
        try:
            path.parent.rmdir()
        except OSError:
            pass
    else:
        write_atomic(path, text)


JOURNAL_DIR = ".journal"
STAGING_DIR = ".staging"


class Journal:
    """What each run.json held before an import replaced it, one JSON line per file, on disk before the file
    moves: if the process dies before the DB commits, the next start (``undo_dead_imports``) puts them back.
    Its token is written to the DB's meta table in the commit's transaction: that is how a later reader
    knows whether the import committed."""

    def __init__(self, runs_dir: Path):
        self.token = f"import:{os.getpid()}-{time.time_ns()}"
        self.path = Path(runs_dir) / JOURNAL_DIR / f"{self.token.split(':')[1]}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8")
        self.write([{"pid": os.getpid(), "token": self.token}])

    def write(self, entries: list[dict]):
        for entry in entries:
            self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def undo(self):
        self._file.close()
        undo_journal(self.path)

    def close(self):
        self._file.close()
        self.path.unlink(missing_ok=True)


def undo_journal(path: Path):
    """Restore every file a journal lists (read line by line: memory flat in the number of runs)."""
    with open(path, encoding="utf-8") as f:
        next(f, None)
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                break  # the last line, half written when the process died: its file had not moved yet
            restore(Path(entry["path"]), entry["previous"])


def dead_journals(runs_dir: Path) -> list[tuple[Path, str | None]]:
    """(journal, token) of imports whose process is gone (killed mid-way); token None if unreadable."""
    out = []
    for path in sorted((Path(runs_dir) / JOURNAL_DIR).glob("*.jsonl")):
        try:
            with open(path, encoding="utf-8") as f:
                head = json.loads(f.readline())
            os.kill(int(head["pid"]), 0)
            continue  # still running: its own import
        except ProcessLookupError:
            out.append((path, head["token"]))
        except (OSError, ValueError, KeyError, TypeError):
            out.append((path, None))  # unreadable: written half, before any run.json moved
    return out


def dump(record: RunRecord) -> str:
    return record.to_json() + "\n"


def losses(runs_dir: Path, run_id: str) -> list[float] | None:
    """The loss per step a training run stored (``losses.json``), or None."""
    text = read_text(run_dir(runs_dir, run_id) / "losses.json")
    try:
        values = json.loads(text) if text else None
    except ValueError:
        return None
    return values if isinstance(values, list) and values else None
