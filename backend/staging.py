"""An import staged beside runs/ and the DB, then committed in one short step.

Records arrive in batches (importers stream them): each batch is checked, its run.json files are written to a
private folder under runs/.staging and its rows to a private DuckDB file, so memory grows little with the number
of runs and nothing anyone else reads changes. A file of a format read in columns is not split into run.json
files: it is copied once (``importfiles``), its runs staged from the columns, and the copy moves into
runs/.imports/ at the commit. ``commit`` moves the files into place (journaled first, so a
killed import is undone at the next start) and merges the rows in one DB transaction: the write lock is held
for that merge only.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import ExitStack
from itertools import islice
from pathlib import Path

from backend import importfiles, rundirs
from backend.importers import ImportFailure, importer_for, stream_batches
from backend.processes import alive
from backend.records import RunRecord
from backend.runcolumns import RunColumns
from backend.store import IngestResult, StagedRows, Store

BATCH = 2000  # records per staged batch: bounds memory, large enough that per-batch costs vanish
DIRECT_ROWS = 100_000  # a batch of a stored file with this many metric rows writes those of new runs to the DB at once
MAX_FAILURES = 50  # listed one per line; the rest are counted


class Stage:
    """One import in progress. ``files=False`` stages rows only (a rebuild: the files are already in place).
    ``store``: large batches of a stored file write the rows of their new runs to it as they come (unseen until
    the commit lists their runs; one copy of each row instead of two), holding its merge lock until the end."""

    def __init__(self, runs_dir: Path, replace: bool = False, files: bool = True, store: Store | None = None):
        self.runs_dir, self.replace, self.files, self.store = Path(runs_dir), replace, files, store
        self._lock = ExitStack()
        self.committed = False
        parent = self.runs_dir / rundirs.STAGING_DIR
        parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))
        self.rows = StagedRows(self.dir / "rows.duckdb")
        self.failures: list[ImportFailure] = []
        self.more_failures = 0
        self.notes: dict[str, None] = {}  # what importers left out, once each, in order
        self.stored: list[tuple[str, Path, dict]] = []  # (key, staged copy, import.json) of files stored once
        self._folders: set[str] | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.rows.close()
        with self._lock:  # the merge lock (if taken) is released last
            if self.rows.holds and not self.committed:
                self.store.drop_unlisted_rows()  # rows written early, of runs this import never listed
            shutil.rmtree(self.dir, ignore_errors=True)

    def add_path(self, path: Path, fmt: str | None = None):
        """Stage every record of one file or folder; a bad file becomes one failure line."""
        path = Path(path)
        try:
            if self.files and path.is_file() and importer_for(path, fmt).stored:
                return self._add_stored(path, importer_for(path, fmt).name)
            for batch in stream_batches(path, fmt, BATCH):
                self._add_batch(batch, str(path))
        except ImportFailure as e:
            self.fail(e)

    def _add_batch(self, batch: RunColumns | list[RunRecord], origin: str, file: str | None = None) -> list[str]:
        """Stage one batch; the run ids that keep their folders (``file``: the stored import that holds the rest)."""
        return (self.add_columns if isinstance(batch, RunColumns) else self.add)(batch, origin, file)

    def _add_stored(self, path: Path, fmt: str):
        """A file stored once: copied (and hashed) into the stage, its runs read from the copy."""
        key, copy = importfiles.copy_in(path, self.dir / "imports")
        existing = importfiles.read_meta(self.runs_dir, key)
        if existing is not None and existing["file"] != path.name:  # the same bytes under another name
            key = f"{key}-{hashlib.sha256(path.name.encode()).hexdigest()[:12]}"
            (self.dir / "imports" / key).mkdir()
            copy = copy.replace(self.dir / "imports" / key / path.name)
            existing = importfiles.read_meta(self.runs_dir, key)
        held, count = [], 0
        try:
            for batch in stream_batches(copy, fmt, BATCH):
                held += self._add_batch(batch, str(path), key)
                count += len(batch)
        except ImportFailure as e:
            raise ImportFailure(path, e.message) from e
        if len(held) == count:  # every run keeps its folder: nothing is read from this file
            return
        meta = importfiles.new_meta(key, path.name, fmt, held)
        if existing is not None and existing["file"] == path.name:  # imported again: every run of it is back
            meta = {**existing, "deleted": [], "held_elsewhere": meta["held_elsewhere"]}
        self.stored.append((key, copy, meta))

    def add_stored_copy(self, data: Path, meta: dict):
        """Stage the runs of a stored import (a rebuild), but those not taken from it."""
        skip = importfiles.excluded(meta)
        for batch in stream_batches(data, meta["format"], BATCH):
            if skip:
                keep = [i for i in (batch.run_ids if isinstance(batch, RunColumns) else [r.run_id for r in batch])
                        if i not in skip]
                batch = batch.where(keep) if isinstance(batch, RunColumns) else [r for r in batch if r.run_id in keep]
            if len(batch):
                self._add_batch(batch, str(data), data.parent.name)

    def add(self, records: list[RunRecord], origin: str, file: str | None = None) -> list[str]:
        self._check_ids([r.run_id for r in records], origin)
        for record in records:
            for note in (record.provenance or {}).get("import_notes") or []:
                self.notes.setdefault(note, None)
        held = self._in_folders([r.run_id for r in records]) if file and self.files else set()
        if self.files:
            self._stage_files([r for r in records if r.run_id in held] if file else records, origin)
        if not self.failures:  # once anything failed, only checking goes on
            self.rows.add(records, origin)
            if file:
                self.rows.hold([r.run_id for r in records if r.run_id not in held], file)
        return sorted(held)

    def add_columns(self, columns: RunColumns, origin: str, file: str | None = None) -> list[str]:
        """Stage runs held in columns: rows only (``file`` holds them), but for runs that keep a folder."""
        ids = columns.run_ids
        self._check_ids(ids, origin, unique=True)
        # Runs get (or keep) a folder unless a stored file holds them: those already with one, when stored.
        held = (self._in_folders(ids) if file else set(ids)) if self.files else set()
        if held:
            self._stage_files(columns.where(held).records(), origin)
        if not self.failures:
            metrics, files = None, None if held else file
            if file and not held and self.store is not None and self.files and columns.metrics.num_rows >= DIRECT_ROWS:
                if not self.rows.holds:  # the first early write: no other merge until this one's
                    self._lock.enter_context(self.store.one_merge())
                metrics, in_db = self.store.write_new_rows(self.rows, columns, file)
                files = (file, in_db)
            self.rows.add_columns(columns, origin, files, metrics)
            if held and file:
                self.rows.hold([i for i in ids if i not in held], file)
        return sorted(held)

    def _check_ids(self, ids: list[str], origin: str, unique: bool = False):
        """A run id staged twice (in this file or another) is a failure naming both."""
        clashes = self.rows.origins(ids)
        seen: set[str] = set()
        for run_id in (clashes if unique else ids):
            earlier = clashes.get(run_id) or (origin if run_id in seen else None)
            if earlier is not None:
                where = "appears twice" if earlier == origin else f"is also in {earlier}"
                self.fail(ImportFailure(origin, f"run_id {run_id} {where}; import one of them or rename the run"))
            seen.add(run_id)

    def _in_folders(self, ids: list[str]) -> set[str]:
        """Those of ``ids`` that have a run folder (they keep it: a stored import does not take them)."""
        if self._folders is None:
            self._folders = {e.name for e in os.scandir(self.runs_dir) if not e.name.startswith(".")}
        return self._folders.intersection(ids)

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

    def check_changed(self, store: Store):
        """Without ``replace``, a run the DB holds with other content is a failure (a folder's was found while
        staging; a stored file's runs are found here, all at once)."""
        if self.replace or not self.stored:
            return
        for run_id, origin in store.changed(self.rows, MAX_FAILURES + 1):
            self.fail(ImportFailure(origin, f"run {run_id} already exists in {self.runs_dir} with different content; "
                                            "use --replace to overwrite it or give it another run_id"))

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
            self._place_imports(journal, store)
            if moved or self.stored:
                rundirs.flush(self.runs_dir)  # the files are on disk before the DB says they are imported
            result = store.merge(self.rows, replace=self.replace, everything=everything, token=journal.token,
                                 open_tokens=rundirs.journal_tokens(self.runs_dir))
            self.committed = True
        except BaseException:
            journal.undo()
            raise
        finally:
            journal.close()  # its token stays in meta until the next import's commit (nobody asks for it)
        return result

    def _place_imports(self, journal: rundirs.Journal, store: Store):
        """Move the stored files in (journaled), and record in earlier imports the runs this one takes."""
        for key, runs in store.held_by_others(self.rows).items():
            meta = importfiles.read_meta(self.runs_dir, key)
            if meta is not None:
                self._write_meta(journal, key, importfiles.with_deleted(meta, runs))
        for key, copy, meta in self.stored:
            target = importfiles.import_dir(self.runs_dir, key) / copy.name
            if not target.exists():
                journal.write([{"path": str(target), "created": True}])
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(copy, target)
            self._write_meta(journal, key, meta)

    def _write_meta(self, journal: rundirs.Journal, key: str, meta: dict):
        path = importfiles.import_dir(self.runs_dir, key) / importfiles.META
        previous = rundirs.read_text(path)
        if previous == importfiles.meta_text(meta):
            return
        journal.write([{"path": str(path), "previous": previous}])
        rundirs.write_atomic(path, importfiles.meta_text(meta), durable=False)

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
    dead = False
    for leftover in (Path(runs_dir) / rundirs.STAGING_DIR).glob("*"):
        pid = leftover.name.split("-")[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)
            dead = True
    if dead:
        store.drop_unlisted_rows()  # rows a large import wrote while it read its file, before it was killed
    return undone
