"""The importers' registry and the reading of one path: each registered format turns a path into validated run
records or raises ImportFailure."""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from itertools import islice
from typing import Callable, Iterable, Iterator

from backend import registry
from backend.records import RecordError, RunRecord
from backend.runcolumns import RunColumns


class ImportFailure(ValueError):
    """One file that cannot be imported: ``str()`` is a single line naming the file and the fix."""

    def __init__(self, path, message: str):
        self.path, self.message = Path(path), message
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class Importer:
    name: str
    sniff: Callable[[Path], bool]  # cheap check: is this path in my format?
    load: Callable[[Path], Iterable[RunRecord]]  # a generator streams (memory flat in the number of runs)
    help: str
    generic: bool = False  # claims broad patterns (any .json): asked only after the specific formats
    # The runs in batches (RunColumns, or lists of records when the columns cannot hold a file): a format
    # with this reads a file in columns.
    batches: Callable[[Path], Iterable[RunColumns | list[RunRecord]]] | None = None
    # Its files are stored once under runs/.imports (the file is the source, rebuild reads it again) instead of
    # a run folder per run: for a format whose runs depend on the file alone (not on files beside it, not on
    # executing anything) and hold many runs per file.
    stored: bool = False


IMPORTERS: dict[str, Importer] = {}


def register_importer(name: str, *, sniff, load, help: str, generic: bool = False, batches=None,
                      stored: bool = False) -> Importer:
    return registry.add(IMPORTERS, name, Importer(name, sniff, load, help, generic, batches, stored), "import format")


def stream_path(path: Path, fmt: str | None = None) -> Iterator[RunRecord]:
    """Records of one file or folder, one at a time (a large wide CSV is never held whole); ImportFailure (one
    line, with the fix) for anything wrong, possibly after some records were yielded: the caller stages them."""
    path = Path(path)
    importer = importer_for(path, fmt)
    count = 0
    with _one_failure(path, importer):
        for record in importer.load(path):
            count += 1
            yield record
    if not count:
        raise ImportFailure(path, f"[{importer.name}] holds no runs; nothing to import")


def stream_batches(path: Path, fmt: str | None = None, size: int = 2000) -> Iterator[RunColumns | list[RunRecord]]:
    """The records of one file or folder in batches (of ``size`` records, or the format's own RunColumns), with
    stream_path's errors."""
    path = Path(path)
    importer = importer_for(path, fmt)
    count = 0
    with _one_failure(path, importer):
        for batch in importer.batches(path) if importer.batches else _chunked(importer.load(path), size):
            count += len(batch)
            yield batch
    if not count:
        raise ImportFailure(path, f"[{importer.name}] holds no runs; nothing to import")


@contextmanager
def _one_failure(path: Path, importer):
    """Whatever a reader raises about a file becomes one ImportFailure line naming it and the format."""
    try:
        yield
    except ImportFailure:
        raise
    except (RecordError, ValueError, OSError, RecursionError) as e:
        raise ImportFailure(path, f"[{importer.name}] {_one_line(e)}") from e


def _chunked(records: Iterable[RunRecord], size: int) -> Iterator[list[RunRecord]]:
    records = iter(records)
    while batch := list(islice(records, size)):
        yield batch


def load_path(path: Path, fmt: str | None = None) -> list[RunRecord]:
    """All records of one file or folder, with their run ids checked unique."""
    records, seen = [], set()
    for record in stream_path(path, fmt):
        if record.run_id in seen:
            raise ImportFailure(path, f"run_id {record.run_id} appears twice; make ids unique")
        seen.add(record.run_id)
        records.append(record)
    return records


def importer_for(path: Path, fmt: str | None) -> Importer:
    if not path.exists():
        raise ImportFailure(path, "no such file or folder; check the path")
    if not path.is_dir() and not regular_file(path):
        raise ImportFailure(path, "not a regular file (a FIFO, a device or a socket, or a link to one); "
                                  "import the results file itself")
    if fmt is not None and fmt not in IMPORTERS:
        raise ImportFailure(path, f"unknown format {fmt!r}; use one of: {', '.join(IMPORTERS)}")
    candidates = sorted(IMPORTERS.values(), key=lambda i: i.generic)
    importer = IMPORTERS[fmt] if fmt else next((i for i in candidates if _sniff(i, path)), None)
    if importer is None:
        raise ImportFailure(path, f"not a known format; expected one of {', '.join(IMPORTERS)} (what each accepts: "
                                  "python -m backend formats; force one with --format NAME)")
    return importer


MAX_BYTES = 200 * 1024 * 1024


def regular_file(path: Path) -> bool:
    """A regular file (after links): never a FIFO that blocks a read or a device that never ends."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def read_text(path: Path, what: str, encoding: str = "utf-8") -> str:
    """A file's text for an importer; RecordError (with the fix) when too large, not a file or not UTF-8."""
    if not regular_file(path):
        raise RecordError(f"{path.name} is not a regular file (a FIFO, device or socket); remove it from the folder")
    if path.stat().st_size > MAX_BYTES:
        raise RecordError(f"file is larger than {MAX_BYTES // 2**20} MB; split it")
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as e:
        raise RecordError(f"not UTF-8 text (byte {e.start}); save the file as UTF-8 {what}") from None


def _sniff(importer: Importer, path: Path) -> bool:
    try:
        return importer.sniff(path)
    except OSError:
        return False


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 400 else text[:400] + "…"
