"""Operations that keep runs/ (the source of truth) and the DuckDB file in step: import, rebuild, delete.

Every operation is all-or-nothing: it validates everything first, writes run.json files, then ingests in one
DB transaction; if the DB step fails the files are put back as they were.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backend import rundirs
from backend.config import Settings
from backend.importers import ImportFailure, load_path
from backend.records import RunRecord
from backend.store import IngestResult, Store, StoreError

SEEDED_KEY = "reference_seeded"


class ImportErrors(Exception):
    """One or more files could not be imported; nothing was written."""

    def __init__(self, failures: list[ImportFailure]):
        self.failures = failures
        super().__init__("\n".join(map(str, failures)))


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
    """Import files/folders all or nothing; ImportErrors lists every bad file (one line each)."""
    runs_dir = _runs_dir(store, runs_dir)
    records, failures, origin = [], [], {}
    for path in paths:
        try:
            loaded = load_path(Path(path), fmt)
        except ImportFailure as e:
            failures.append(e)
            continue
        for record in loaded:
            if record.run_id in origin:
                failures.append(ImportFailure(path, f"run_id {record.run_id} is also in {origin[record.run_id]}; "
                                                    "import one of them or rename the run"))
            origin[record.run_id] = path
        records.extend(loaded)
    failures.extend(_file_conflicts(records, runs_dir, origin) if not replace else [])
    if failures:
        raise ImportErrors(failures)
    notes = list(dict.fromkeys(n for r in records for n in (r.provenance or {}).get("import_notes") or []))
    return ImportReport(len(paths), write_and_ingest(records, store, runs_dir, replace), notes)


def _file_conflicts(records, runs_dir, origin) -> list[ImportFailure]:
    out = []
    for record in records:
        digest = rundirs.stored_digest(runs_dir, record.run_id)
        if digest is not None and digest != record.digest():
            out.append(ImportFailure(origin[record.run_id], f"run {record.run_id} already exists in {runs_dir} with "
                                     "different content; use --replace to overwrite it or give it another run_id"))
    return out


def write_and_ingest(records: list[RunRecord], store: Store, runs_dir: Path, replace: bool = False) -> IngestResult:
    """Write runs/<id>/run.json for each record, then ingest; on any failure undo the file writes. A journal
    written first lets the next start undo them too if this process is killed before the DB commits."""
    recover(store, runs_dir)
    paths = [rundirs.record_path(runs_dir, r.run_id) for r in records]
    saved = rundirs.snapshot(paths)
    journal = None
    try:
        journal = rundirs.write_journal(runs_dir, saved, {r.run_id: r.digest() for r in records})
        write_records(records, runs_dir, saved)
        result = store.ingest(records, replace=replace)
    except OSError as e:
        rundirs.restore(saved)
        raise StoreError(f"cannot write under {runs_dir}: {e.strerror or e}; free disk space or make the folder "
                         "writable (or point DASHBOARD_RUNS_DIR elsewhere)") from e
    except BaseException:
        rundirs.restore(saved)
        raise
    finally:
        if journal is not None:
            journal.unlink(missing_ok=True)
    return result


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


def recover(store: Store, runs_dir: Path) -> int:
    """Undo the run.json files of imports killed before their DB transaction committed; the number undone.
    The transaction is all or nothing, so one entry tells whether the DB has the import."""
    undone = 0
    for journal, entries in rundirs.open_journals(runs_dir):
        committed = bool(entries) and store.digest_of(entries[0]["run_id"]) == entries[0]["digest"]
        if not committed:
            rundirs.restore({Path(e["path"]): e["previous"] for e in entries})
            undone += len(entries)
        journal.unlink(missing_ok=True)
    return undone


def write_records(records: list[RunRecord], runs_dir: Path, saved: dict | None = None):
    """Write runs/<id>/run.json for each record, without a DB (a cluster worker's side; the driver ingests)."""
    for record in records:
        path = rundirs.record_path(runs_dir, record.run_id)
        text = rundirs.dump(record)
        if (saved or {}).get(path) != text:
            rundirs.write_atomic(path, text, durable=False)
    rundirs.flush(runs_dir)  # one flush for the batch: the files are on disk before the DB says they are imported


def rebuild(store: Store, runs_dir: Path | None = None, reference_dir: Path | None = None) -> int:
    """Make the DB equal to runs/*/run.json; invalid files abort the rebuild (DB unchanged). With
    ``reference_dir``, the reference runs a first start seeded are restored too if their files are gone."""
    runs_dir = _runs_dir(store, runs_dir)
    recover(store, runs_dir)
    records, failures = rundirs.read_all(runs_dir)
    if failures:
        raise ImportErrors(failures)
    count = store.rebuild(records)
    if reference_dir is not None:
        store.set_meta(SEEDED_KEY, "")
        report = seed_reference(store, runs_dir, reference_dir)
        count += len(report.result.added) if report else 0
    return count


def delete_runs(run_ids: list[str], store: Store, runs_dir: Path | None = None) -> int:
    """Remove runs from the DB and move their folders to runs/.trash/ (recoverable, and rebuild agrees)."""
    runs_dir = _runs_dir(store, runs_dir)
    count = store.delete(run_ids)
    for run_id in run_ids:
        rundirs.trash(runs_dir, run_id)
    return count


def seed_reference(store: Store, runs_dir: Path, reference_dir: Path) -> ImportReport | None:
    """Import the shipped reference runs once per DB, into its runs folder, so a first start shows real
    published figures."""
    store.migrate()
    if store.get_meta(SEEDED_KEY):
        return None
    reference_dir = Path(reference_dir)
    if not reference_dir.is_dir():
        return None
    report = import_paths(sorted(reference_dir.iterdir()), store=store, runs_dir=runs_dir)
    store.set_meta(SEEDED_KEY, "1")
    return report
