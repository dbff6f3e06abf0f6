"""The only code that opens DuckDB: connections that wait for another process's write lock, migrations, writes in
one transaction each, and the reads (their SQL in queries.py, the merge algorithm in merging.py).

Connections are short-lived (open, work, close) because DuckDB lets one process write at a time: the
dashboard, runners and imports then take turns, waiting for the lock instead of failing.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from backend.records import RunRecord
from backend.runcolumns import RunColumns
from backend.store import merging, queries
from backend.store.merging import IngestResult, StagedRows, StoreError
from backend.store.schema import MIGRATIONS

EARLY_MEMORY = "128MB"  # an early write appends a slice (no join): it needs less than a merge, beside the reader's
EARLY_ROWS = 600_000  # metric rows per early write: about an 8 MB block of a wide CSV (a million held the lock 4 s)
_HELD = threading.local()  # the merge locks this thread holds (by DB path): taking one again does not wait


# DB files (path, device, inode, change time) this process has found or brought on the current schema.
_CURRENT: set[tuple] = set()


class Store:
    def __init__(self, path: Path, lock_timeout_s: float = 30.0, runs_dir: Path | None = None):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.runs_dir = Path(runs_dir) if runs_dir else None  # the runs/ folder this DB indexes

    @contextmanager
    def connect(self, write: bool = False):
        """A connection that waits (up to lock_timeout_s) while another process holds the write lock, on the
        current schema: a write connection applies pending migrations first; a read of a store made by older
        code brings it up to date (a write) before it reads."""
        if write:
            self._prepare_dir()
        elif not self.path.exists():
            self.migrate()
        con = self._open(write)
        try:
            if self._file() not in _CURRENT:
                if write:
                    self._apply_migrations(con)
                elif self._versions(con) != len(MIGRATIONS):
                    con.close()
                    self.migrate()
                    con = self._open(write)
                else:
                    _CURRENT.add(self._file())
            yield con
        finally:
            con.close()
        if write:  # what this connection wrote is on the current schema: no check after our own writes
            _CURRENT.add(self._file())

    def _open(self, write: bool):
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=not write)
            except duckdb.IOException as e:
                if "lock" not in str(e).lower() or time.monotonic() > deadline:
                    raise StoreError(f"cannot open {self.path}: {e}") from e
                time.sleep(0.05)

    def _prepare_dir(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create {self.path.parent}: {e.strerror}; set DASHBOARD_DB or --db") from e

    @contextmanager
    def transaction(self):
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- schema ----------------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version. Every connection does this itself (``connect``);
        it is not checked again while the file is unchanged: a DuckDB instance's start costs about 14 ms here."""
        if self._file() not in _CURRENT:
            with self.connect(write=True):
                pass
        return len(MIGRATIONS)

    @staticmethod
    def _versions(con) -> int:
        """How many migrations the DB on ``con`` has (reads only)."""
        # fetchall: a result left open would refuse the connection's next query
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'").fetchall()[0][0]:
            return 0
        return con.execute("SELECT count(*) FROM schema_migrations").fetchall()[0][0]

    def _apply_migrations(self, con):
        # Reads only when the schema is current: a DDL statement, even a no-op one, is a commit to disk.
        if self._versions(con) == len(MIGRATIONS):
            _CURRENT.add(self._file())
            return
        con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
        done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            con.execute("BEGIN TRANSACTION")
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, now())", [version])
            con.execute("COMMIT")
        _CURRENT.add(self._file())

    def _file(self) -> tuple:
        """The DB file as it is now: a file replaced (a rebuild, a DB deleted or copied in) is another, and so is
        one another process has written since (its change time)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return ()
        return str(self.path.resolve()), stat.st_dev, stat.st_ino, stat.st_ctime_ns

    # -- writes ----------------------------------------------------------------------------------------
    def ingest(self, records: list[RunRecord], replace: bool = False) -> IngestResult:
        """Insert records in one transaction. Identical re-ingest is a no-op; a changed record needs replace."""
        incoming = merging.staged_frames(records)

        def merge(con):
            for table, df in incoming.items():
                con.register(f"incoming_{table}", df)
            return merging.merge_rows(con, lambda table: f"incoming_{table}", replace)
        with self.one_merge():
            result, held = self._write(merge)
        result.lock_seconds = held
        return result

    def merge(self, staged: "StagedRows", replace: bool = False, everything: bool = False,
              token: str | None = None, open_tokens=()) -> IngestResult:
        """Merge what ``staged`` holds, all or nothing, holding the write lock briefly whatever the size: rows
        of new runs go in first, in transactions of about merging.MERGE_ROWS rows with the lock released between them
        (invisible to readers until their ``runs`` row exists), then one transaction adds the ``runs`` rows and
        replaces changed runs. ``everything``: the staged rows replace the whole content (a rebuild).
        ``token``: stored in meta in the final transaction, so the import's journal can tell whether it
        committed; the tokens of earlier imports whose journal is gone (not in ``open_tokens``) are deleted there
        (a write connection of its own after each import cost a tenth of a small import).
        ``lock_seconds`` is the longest single hold."""
        staged.close()
        attach = f"ATTACH {merging.literal(staged.path)} AS staged (READ_ONLY)"
        early = not everything and staged.rows > merging.MERGE_ROWS

        def final(con):
            con.execute(attach)
            if token:
                con.execute("DELETE FROM meta WHERE key LIKE 'import:%' AND key NOT IN (SELECT unnest(?))",
                            [[token, *open_tokens]])
            return merging.merge_rows(con, lambda t: f"staged.{t}", replace, everything, token,
                                     rows_of_new_runs_in=early, new=new, pending=staged.pending)
        with self.one_merge():
            holds = []
            new = None if everything else self._all_new(attach)
            try:
                if early:
                    for first, last, rows in merging.chunks(staged):
                        holds.append(self._write(
                            lambda con: merging.insert_new_rows(con, attach, first, last, rows))[1])
                result, held = self._write(final)
            except BaseException:
                if early or staged.holds:
                    self._write(merging.drop_unlisted_rows)
                raise
        result.lock_seconds = max(holds + staged.holds + [held])
        return result

    def _all_new(self, attach: str) -> list[str] | None:
        """The staged run ids in order if the DB holds none of them (read before the merge's last transaction:
        with the merge lock held nothing can add one), else None."""
        with self.connect() as con:
            con.execute(attach)
            if con.execute(f"SELECT count(*) FROM staged.staged_order WHERE run_id IN {queries.LISTED}").fetchone()[0]:
                return None
            return con.execute("SELECT list(run_id ORDER BY seq) FROM staged.staged_order").fetchone()[0] or []

    def write_new_rows(self, staged: "StagedRows", columns: RunColumns, file: str) -> tuple[pa.Table, list[str]]:
        """Insert now the rows of those runs of ``columns`` the DB does not hold (their runs and metric rows, and
        that ``file`` holds them), listed as pending: unseen until ``merge`` empties pending_runs; the caller holds
        ``one_merge()`` from here to that merge. Returns the ids the DB holds and their metric rows (to be staged:
        the merge decides whether they replace)."""
        run_ids, metrics, new_rows = columns.runs.column("run_id"), columns.metrics, []

        def first(con):
            con.execute(f"SET memory_limit = '{EARLY_MEMORY}'")
            con.register("incoming_ids", pa.table({"run_id": run_ids}))
            held = [r[0] for r in con.execute("SELECT run_id FROM incoming_ids "
                                              "WHERE run_id IN (SELECT run_id FROM runs)").fetchall()]
            new = " WHERE run_id NOT IN (SELECT run_id FROM runs)" if held else ""
            # Where the new runs are held, and their runs rows, go in now too: out of the merge's last transaction.
            con.execute(f"INSERT INTO run_files SELECT run_id, ? FROM incoming_ids{new}", [file])
            con.execute(f"INSERT INTO pending_runs SELECT run_id FROM incoming_ids{new}")
            merging.insert_runs(con, columns, new)
            con.unregister("incoming_ids")
            new_rows.append(metrics.filter(pc.invert(pc.is_in(metrics.column("run_id"), pa.array(held, pa.string()))))
                            if held else metrics)
            rows(con, 0)
            return held

        def rows(con, start):
            con.execute(f"SET memory_limit = '{EARLY_MEMORY}'")
            con.register("incoming", new_rows[0].slice(start, EARLY_ROWS))
            con.execute("INSERT INTO metrics BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
        with self.one_merge():
            held, seconds = self._write(first)
            staged.holds.append(seconds)
            for start in range(EARLY_ROWS, new_rows[0].num_rows, EARLY_ROWS):  # the lock held briefly each time
                staged.holds.append(self._write(lambda con: rows(con, start))[1])
        staged.direct += new_rows[0].num_rows
        staged.pending += len(columns) - len(held)
        return metrics.filter(pc.is_in(metrics.column("run_id"), pa.array(held, pa.string()))), held

    @contextmanager
    def one_merge(self):
        """One merge at a time across processes (a file lock beside the DB): rows a merge inserted early must
        not meet another writer's rows of the same run. Readers never take it; a thread holding it already (an
        import writing rows early, then merging) does not wait for itself."""
        import fcntl
        held = _HELD.__dict__.setdefault("paths", set())
        key = str(self.path.resolve())
        if key in held:
            yield
            return
        self._prepare_dir()
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            held.add(key)
            try:
                yield
            finally:
                held.discard(key)

    def drop_unlisted_rows(self):
        """Delete rows whose run has no ``runs`` row or a pending one (left by an import killed half way)."""
        with self.one_merge():
            self._write(merging.drop_unlisted_rows)

    def _write(self, work) -> tuple[object, float]:
        """(``work(con)``'s result, seconds the write lock was held) for ``work`` in one write transaction."""
        with self.transaction() as con:
            start = time.monotonic()
            con.execute("SET memory_limit = '256MB'")  # a large merge spills to disk instead of growing the process
            result = work(con)
        return result, time.monotonic() - start  # the commit's checkpoint and the close included

    def held_by_others(self, staged: "StagedRows") -> dict[str, list[str]]:
        """{stored import: its runs that ``staged`` holds elsewhere now (another file, or a folder)}."""
        staged.close()
        with self.connect() as con:
            con.execute(f"ATTACH {merging.literal(staged.path)} AS staged (READ_ONLY)")
            return queries.held_by_others(con)

    def changed(self, staged: "StagedRows", limit: int) -> list[tuple[str, str]]:
        """(run id, origin) of staged runs the DB holds with different content, in staged order."""
        staged.close()
        with self.connect() as con:
            con.execute(f"ATTACH {merging.literal(staged.path)} AS staged (READ_ONLY)")
            return queries.changed(con, limit)

    def owners(self, run_ids: list[str]) -> dict[str, list[str]]:
        """{stored import: those of ``run_ids`` it holds} (runs with a folder are in none)."""
        with self.connect() as con:
            return queries.owners(con, run_ids)

    def delete(self, run_ids: list[str]) -> int:
        with self.transaction() as con:
            return merging.delete_runs(con, run_ids)

    def set_meta(self, key: str, value: str):
        with self.connect(write=True) as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def delete_meta(self, key: str):
        with self.connect(write=True) as con:
            con.execute("DELETE FROM meta WHERE key = ?", [key])

    # -- reads (the SQL: queries.py) ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.connect() as con:
            return queries.meta(con, key)

    def runs(self) -> pd.DataFrame:
        with self.connect() as con:
            return queries.runs(con)

    def metrics(self, run_ids: list[str] | None = None, names: list[str] | None = None) -> pd.DataFrame:
        """Metric rows, of ``run_ids`` and of the metrics ``names`` only when given."""
        with self.connect() as con:
            return queries.metrics(con, run_ids, names)

    def metric_by_language(self, metric: str, run_ids: list[str] | None = None) -> pd.DataFrame:
        """``metric`` as a row per run and a column per language (frames.by_language's table)."""
        with self.connect() as con:
            return queries.metric_by_language(con, metric, run_ids)

    def metric_names(self) -> list[str]:
        with self.connect() as con:
            return queries.metric_names(con)

    def problem_results(self, run_ids: list[str]) -> pd.DataFrame:
        with self.connect() as con:
            return queries.problem_results(con, run_ids)

    def relevant_ranks(self, run_ids: list[str]) -> pd.DataFrame:
        with self.connect() as con:
            return queries.relevant_ranks(con, run_ids)

    def query_results(self, run_ids: list[str] | str) -> pd.DataFrame:
        with self.connect() as con:
            return queries.query_results(con, [run_ids] if isinstance(run_ids, str) else run_ids)

    def version(self) -> tuple:
        """Changes whenever the DB is written (by any process): the file's and its write-ahead log's size and
        modification time, read without opening the DB. Pages cache what they read under it."""
        out = []
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                stat = path.stat()
                out += [stat.st_mtime_ns, stat.st_size]
            except FileNotFoundError:
                out += [0, 0]
        return tuple(out)

    def fingerprint(self) -> dict[str, tuple[int, str]]:
        """(row count, content hash) per table: equal fingerprints mean equal content."""
        with self.connect() as con:
            return queries.fingerprint(con)
