"""Operations that keep runs/ (the source of truth) and the DuckDB file in step: import, rebuild, delete.

runs/ holds a folder per run made here (run.json) and each imported file of a columnar format once
(runs/.imports/, backend.importfiles). Every operation is all-or-nothing (backend.staging): it stages and checks
everything first, then moves files into place and merges the rows in one DB transaction; if that fails the files
are put back as they were.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from backend import importfiles, rundirs
from backend.config import Settings
from backend.importers import ImportFailure, stream_batches
from backend.records import RunRecord
from backend.staging import Stage, undo_dead_imports
from backend.store import IngestResult, Store, StoreError

SEEDED_KEY = "reference_seeded"


class ImportErrors(Exception):
    """One or more files could not be imported; nothing was written."""

    def __init__(self, failures: list[ImportFailure], more: int = 0):
        self.failures, self.more = failures, more
        super().__init__("\n".join([*map(str, failures), *([f"... and {more:,} more like these"] if more else [])]))


@dataclass
class ImportReport:
    files: int = 0
    result: IngestResult = field(default_factory=lambda: IngestResult([], [], []))
    notes: list[str] = field(default_factory=list)  # what an importer left out, and why (one line each)


def default_store(s: Settings) -> Store:
    """The DB of these settings, knowing the runs folder it indexes."""
    return Store(s.db_for(), s.lock_timeout_s, s.runs_dir)


def _runs_dir(store: Store, runs_dir) -> Path:
    if runs_dir is None and store.runs_dir is None:
        raise ValueError(f"no runs folder given for {store.path}")
    return Path(runs_dir or store.runs_dir)


def import_paths(paths, store: Store, runs_dir: Path | None = None, fmt: str | None = None,
                 replace: bool = False) -> ImportReport:
    """Import files/folders all or nothing; ImportErrors lists every bad file (one line each). Records are
    staged batch by batch (memory flat in the number of runs) and committed in one short DB transaction."""
    runs_dir = _runs_dir(store, runs_dir)
    with _staged(store, runs_dir, replace=replace) as stage:
        for path in paths:
            stage.add_path(Path(path), fmt)
        return ImportReport(len(paths), _commit(stage, store), list(stage.notes))


def write_and_ingest(records: list[RunRecord], store: Store, runs_dir: Path, replace: bool = False) -> IngestResult:
    """Write runs/<id>/run.json for each record and ingest them, all or nothing (a finished run's side)."""
    with _staged(store, Path(runs_dir), replace=replace) as stage:
        stage.add(records, "the run's record")
        return _commit(stage, store)


@contextmanager
def _staged(store: Store, runs_dir: Path, **options):
    """A Stage after undoing any import killed mid-way; a file system error becomes one line with the fix."""
    try:
        undo_dead_imports(store, runs_dir)
        with Stage(runs_dir, store=store, **options) as stage:
            yield stage
    except OSError as e:
        raise StoreError(f"cannot write under {runs_dir}: {e.strerror or e}; free disk space or make the folder "
                         "writable (or point DASHBOARD_RUNS_DIR elsewhere)") from e


def _commit(stage: Stage, store: Store, everything: bool = False) -> IngestResult:
    if not stage.failures and not everything:
        stage.check_changed(store)
    if stage.failures:
        raise ImportErrors(stage.failures, stage.more_failures)
    return stage.commit(store, everything)


def ingest_run_files(store: Store, runs_dir: Path, run_ids: list[str]) -> dict[str, str]:
    """Ingest the run.json files of ``run_ids`` (and their protocol twins) that exist; {run_id: status}."""
    records = {}
    for run_id in run_ids:
        for path in rundirs.twin_record_files(runs_dir, run_id):
            record = rundirs.read_record(path)
            if record is not None:
                records[record.run_id] = record
    if records:
        store.ingest(list(records.values()), replace=True)
    return {run_id: r.status for run_id, r in records.items()}


def write_records(records: list[RunRecord], runs_dir: Path):
    """Write runs/<id>/run.json for each record, without a DB (a cluster worker's side; the driver ingests)."""
    for record in records:
        rundirs.write_atomic(rundirs.record_path(runs_dir, record.run_id), rundirs.dump(record), durable=False)
    rundirs.flush(runs_dir)  # one flush for the batch: the files are on disk before the DB says they are imported


def rebuild(store: Store, runs_dir: Path | None = None, reference_dir: Path | None = None) -> int:
    """Make the DB equal to runs/*/run.json and the stored imports (less their deleted runs); invalid files abort
    the rebuild (DB unchanged). With
    ``reference_dir``, the reference runs a first start seeded are restored too if their files are gone."""
    runs_dir = _runs_dir(store, runs_dir)
    with _staged(store, runs_dir, files=False) as stage:
        for path in rundirs.record_files(runs_dir):
            stage.add_path(path, "run.json")
        for data, meta in importfiles.stored(runs_dir):
            try:
                stage.add_stored_copy(data, meta)
            except ImportFailure as e:
                stage.fail(e)
        count = len(_commit(stage, store, everything=True).added)
    if reference_dir is not None:
        store.set_meta(SEEDED_KEY, "")
        report = seed_reference(store, runs_dir, reference_dir)
        count += len(report.result.added) if report else 0
    return count


def delete_runs(run_ids: list[str], store: Store, runs_dir: Path | None = None) -> int:
    """Remove runs from the DB and move their folders to runs/.trash/ (recoverable, and rebuild agrees); a run
    of a stored import is recorded as deleted in its import.json and its run.json written to the trash."""
    runs_dir = _runs_dir(store, runs_dir)
    owners = store.owners(run_ids)
    count = store.delete(run_ids)
    for key, ids in owners.items():
        importfiles.tombstone(runs_dir, key, ids)
        _trash_stored(runs_dir, key, set(ids))
    for run_id in run_ids:
        rundirs.trash(runs_dir, run_id)
    return count


def _trash_stored(runs_dir: Path, key: str, run_ids: set[str]):
    """The run.json of deleted runs of a stored import, in the trash (one read of the file)."""
    meta = importfiles.read_meta(runs_dir, key)
    if meta is None:
        return
    for batch in stream_batches(importfiles.import_dir(runs_dir, key) / meta["file"], meta["format"]):
        records = batch.where(run_ids & set(batch.run_ids)).records() if hasattr(batch, "runs") else \
            [r for r in batch if r.run_id in run_ids]
        for record in records:
            rundirs.trash_record(runs_dir, record)


def seed_reference(store: Store, runs_dir: Path, reference_dir: Path) -> ImportReport | None:
    """Import the shipped reference runs once per DB, into its runs folder, so a first start shows real
    published figures."""
    if store.get_meta(SEEDED_KEY):
        return None
    reference_dir = Path(reference_dir)
    if not reference_dir.is_dir():
        return None
    report = import_paths(sorted(reference_dir.iterdir()), store=store, runs_dir=runs_dir)
    store.set_meta(SEEDED_KEY, "1")
    return report
