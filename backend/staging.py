"""An import staged beside runs/ and the DB, then committed in one short step.

Records arrive in batches (importers stream them): each batch is checked, its run.json files are written to a
private folder under runs/.staging and its rows to a private DuckDB file, so memory grows little with the number
of runs and nothing anyone else reads changes. ``commit`` moves the files into place (journaled first, so a
killed import is undone at the next start) and merges the rows in one DB transaction: the write lock is held
for that merge only.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from itertools import islice
from pathlib import Path

from backend import rundirs
from backend.importers import ImportFailure, stream_path
from backend.processes import alive
from backend.records import RunRecord
from backend.store import IngestResult, StagedRows, Store

BATCH = 2000  # records per staged batch: bounds memory, large enough that per-batch costs vanish
MAX_FAILURES = 50  # listed one per line; the rest are counted


class Stage:
    """One import in progress. ``files=False`` stages rows only (a rebuild: the files are already in place)."""

    def __init__(self, runs_dir: Path, replace: bool = False, files: bool = True):
        self.runs_dir, self.replace, self.files = Path(runs_dir), replace, files
        parent = self.runs_dir / rundirs.STAGING_DIR
        parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
        self.rows = StagedRows(self.dir / "rows.duckdb")
        self.failures: list[ImportFailure] = []
        self.more_failures = 0
        self.notes: dict[str, None] = {}  # what importers left out, once each, in order

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.rows.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def add_path(self, path: Path, fmt: str | None = None):
        """Stage every record of one file or folder; a bad file becomes one failure line."""
        stream = stream_path(Path(path), fmt)
        try:
            while batch := list(islice(stream, BATCH)):
                self.add(batch, str(path))
        except ImportFailure as e:
            self.fail(e)

    def add(self, records: list[RunRecord], origin: str):
        ids = [r.run_id for r in records]
        clashes = self.rows.origins(ids)
        seen = set()
        for record in records:
            earlier = clashes.get(record.run_id) or (origin if record.run_id in seen else None)
            if earlier is not None:
                where = "appears twice" if earlier == origin else f"is also in {earlier}"
                self.fail(ImportFailure(origin, f"run_id {record.run_id} {where}; import one of them or rename "
                                                "the run"))
            seen.add(record.run_id)
            for note in (record.provenance or {}).get("import_notes") or []:
                self.notes.setdefault(note, None)
        if self.files:
            self._stage_files(records, origin)
        if not self.failures:  # once anything failed, only checking goes on
            self.rows.add(records, origin)

    def _stage_files(self, records: list[RunRecord], origin: str):
        for record in records:
            stored = rundirs.stored_digest(self.runs_dir, record.run_id)
            if stored == record.digest():
                continue  # the same run.json is already there
            if stored is not None and not self.replace:
                self.fail(ImportFailure(origin, f"run {record.run_id} already exists in {self.runs_dir} with "
                                                "different content; use --replace to overwrite it or give it "
                                                "another run_id"))
            elif not self.failures:
                rundirs.write_new(self.dir / f"{record.run_id}.json", rundirs.dump(record))

    def fail(self, failure: ImportFailure):
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(failure)
        else:
            self.more_failures += 1

    def commit(self, store: Store, everything: bool = False) -> IngestResult:
        """Move the staged files into runs/ and merge the rows into ``store``; on any failure put every file
        back. ``everything``: the staged rows become the DB's whole content."""
        journal, moved = rundirs.Journal(self.runs_dir), 0
        try:
            # The run.json files this import writes (the others are identical); moving out entries already listed
            # does not disturb the listing.
            with os.scandir(self.dir) as staged:
                while entries := list(islice(staged, BATCH)):
                    batch = [e.name[:-5] for e in entries if e.name.endswith(".json")]
                    self._move(journal, batch)
                    moved += len(batch)
            if moved:
                rundirs.flush(self.runs_dir)  # the files are on disk before the DB says they are imported
            result = store.merge(self.rows, replace=self.replace, everything=everything, token=journal.token)
        except BaseException:
            journal.undo()
            raise
        finally:
            journal.close()
        store.delete_meta(journal.token)  # the journal is gone: nobody needs to ask any more
        return result

    def _move(self, journal: rundirs.Journal, run_ids: list[str]):
        targets = [rundirs.record_path(self.runs_dir, run_id) for run_id in run_ids]
        journal.write([{"path": str(t), "previous": rundirs.read_text(t)} for t in targets])
        for run_id, target in zip(run_ids, targets):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.dir / f"{run_id}.json", target)


def undo_dead_imports(store: Store, runs_dir: Path) -> int:
    """Undo the run.json files of imports killed before their DB transaction committed; how many imports.
    The transaction stores the journal's token, so its presence tells whether the DB has the import."""
    undone = 0
    for journal, token in rundirs.dead_journals(runs_dir):
        if token is None:
            pass  # written half, before any run.json moved
        elif store.get_meta(token):
            store.delete_meta(token)
        else:
            rundirs.undo_journal(journal)
            store.drop_unlisted_rows()  # rows a large merge inserted before it was killed
            undone += 1
        journal.unlink(missing_ok=True)
    for leftover in (Path(runs_dir) / rundirs.STAGING_DIR).glob("*"):
        pid = leftover.name.split("-")[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)
    return undone
