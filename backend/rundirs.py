"""The filesystem side of runs/: one folder per run holding run.json, written atomically."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from backend import importfiles
from backend.fileio import flush, read_text, write_atomic, write_new  # noqa: F401 - the runs folder's writes
from backend.importers import ImportFailure, load_path
from backend.processes import alive
from backend.records import RunRecord, check_run_id


def run_dir(runs_dir: Path, run_id: str) -> Path:
    return Path(runs_dir) / check_run_id(run_id)  # the id check keeps every run inside runs_dir


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


def trash_record(runs_dir: Path, record: RunRecord) -> Path:
    """A run of a stored import, deleted: its run.json goes to runs/.trash/ as a folder of its own would."""
    dest = Path(runs_dir) / ".trash" / f"{record.run_id}--{time.strftime('%Y%m%dT%H%M%S')}" / "run.json"
    write_atomic(dest, dump(record))
    return dest.parent


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
            if entry.get("created"):  # a stored import's file, too large to hold as "previous"
                importfiles.remove_created(Path(entry["path"]))
            else:
                restore(Path(entry["path"]), entry["previous"])


def journal_tokens(runs_dir: Path) -> list[str]:
    """The tokens of the imports whose journal is still there (running, or killed and not yet undone)."""
    return [f"import:{path.stem}" for path in (Path(runs_dir) / JOURNAL_DIR).glob("*.jsonl")]


def dead_journals(runs_dir: Path) -> list[tuple[Path, str | None]]:
    """(journal, token) of imports whose process is gone (killed mid-way); token None if unreadable."""
    out = []
    for path in sorted((Path(runs_dir) / JOURNAL_DIR).glob("*.jsonl")):
        try:
            with open(path, encoding="utf-8") as f:
                head = json.loads(f.readline())
            pid, token = int(head["pid"]), head["token"]
        except (OSError, ValueError, KeyError, TypeError):
            out.append((path, None))  # unreadable: written half, before any run.json moved
            continue
        if not alive(pid):  # still running (another user's import too): its own import
            out.append((path, token))
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
