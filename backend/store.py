"""The only module that touches DuckDB: schema and migrations, ingest, deletes, queries -> DataFrames.

Connections are short-lived (open, work, close) because DuckDB lets one process write at a time: the
dashboard, runners and imports then take turns, waiting for the lock instead of failing.
"""
from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from backend.records import RunRecord
from backend.vocab import Language, RunStatus, Source

RUN_COLUMNS = ["run_id", "kind", "name", "status", "created_at", "finished_at", "benchmark", "protocol", "model",
               "params", "trainable_params", "disk_mb", "peak_memory_mb", "train_seconds", "encode_throughput",
               "tokens_per_s", "config", "source", "provenance", "error", "digest", "ingested_at"]
METRIC_COLUMNS = ["run_id", "language", "metric", "value", "n"]
QUERY_COLUMNS = ["run_id", "language", "query_id", "gold_rank"]
PROBLEM_COLUMNS = ["run_id", "language", "problem_id", "sample", "status"]
RELEVANT_COLUMNS = ["run_id", "language", "query_id", "doc_id", "grade", "rank"]
TABLES = ("runs", "metrics", "query_results", "problem_results", "relevant_ranks")
ROW_TABLES = TABLES[1:]  # rows per run; a row without its runs row is not shown (Store.metrics ...)
MERGE_ROWS = 1_000_000  # rows per early merge transaction: about half a second of write lock here


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)  # enum literals are ours, never user text


MIGRATIONS: list[str] = []
migration = MIGRATIONS.append
migration(f"""
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ({_in(RunStatus)})),
    created_at TIMESTAMP, finished_at TIMESTAMP, benchmark VARCHAR, protocol VARCHAR, model VARCHAR,
    params BIGINT, trainable_params BIGINT, disk_mb DOUBLE, peak_memory_mb DOUBLE, train_seconds DOUBLE,
    encode_throughput DOUBLE, config VARCHAR, source VARCHAR NOT NULL CHECK (source IN ({_in(Source)})),
    provenance VARCHAR, error VARCHAR, digest VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);
CREATE TABLE metrics (
    run_id VARCHAR NOT NULL, language VARCHAR NOT NULL CHECK (language IN ({_in(Language)})),
    metric VARCHAR NOT NULL, value DOUBLE NOT NULL, n BIGINT, PRIMARY KEY (run_id, language, metric));
CREATE TABLE query_results (
    run_id VARCHAR NOT NULL, language VARCHAR NOT NULL, query_id VARCHAR NOT NULL, gold_rank BIGINT NOT NULL,
    PRIMARY KEY (run_id, language, query_id));
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
""")
migration("""
ALTER TABLE runs ADD COLUMN tokens_per_s DOUBLE;
CREATE TABLE problem_results (
    run_id VARCHAR NOT NULL, language VARCHAR NOT NULL, problem_id VARCHAR NOT NULL, sample INTEGER NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('PASS', 'FAIL', 'TIMEOUT', 'ERROR')),
    PRIMARY KEY (run_id, language, problem_id, sample));
""")
# Tables without primary keys: their index made a 100k-run merge hold the write lock 4.4 s instead of 0.9 s.
# Uniqueness holds without it: records refuse duplicate rows, staging refuses a run id twice, and _merge is the
# only writer (delete, then insert; one merge at a time).
for _table, _columns in (
        ("metrics", f"""run_id VARCHAR NOT NULL, language VARCHAR NOT NULL CHECK (language IN ({_in(Language)})),
                        metric VARCHAR NOT NULL, value DOUBLE NOT NULL, n BIGINT"""),
        ("query_results", "run_id VARCHAR NOT NULL, language VARCHAR NOT NULL, query_id VARCHAR NOT NULL, "
                          "gold_rank BIGINT NOT NULL"),
        ("problem_results", "run_id VARCHAR NOT NULL, language VARCHAR NOT NULL, problem_id VARCHAR NOT NULL, "
                            "sample INTEGER NOT NULL, status VARCHAR NOT NULL "
                            "CHECK (status IN ('PASS', 'FAIL', 'TIMEOUT', 'ERROR'))")):
    migration(f"""
CREATE TABLE {_table}_unkeyed ({_columns});
INSERT INTO {_table}_unkeyed SELECT * FROM {_table} ORDER BY ALL;
DROP TABLE {_table};
ALTER TABLE {_table}_unkeyed RENAME TO {_table};
""")
# The runs table too: its index was 0.9 s of a 1M-run merge's last transaction (the one that holds the lock).
migration(f"""
CREATE TABLE runs_unkeyed (
    run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ({_in(RunStatus)})),
    created_at TIMESTAMP, finished_at TIMESTAMP, benchmark VARCHAR, protocol VARCHAR, model VARCHAR,
    params BIGINT, trainable_params BIGINT, disk_mb DOUBLE, peak_memory_mb DOUBLE, train_seconds DOUBLE,
    encode_throughput DOUBLE, config VARCHAR, source VARCHAR NOT NULL CHECK (source IN ({_in(Source)})),
    provenance VARCHAR, error VARCHAR, digest VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL, tokens_per_s DOUBLE);
INSERT INTO runs_unkeyed SELECT * FROM runs ORDER BY run_id;
DROP TABLE runs;
ALTER TABLE runs_unkeyed RENAME TO runs;
""")


# Graded / multi-relevance benchmarks: where a run ranked each judged document with grade > 0 (rank 0: not
# retrieved), from which every trec_eval metric of any cutoff follows (backend/retrieval/graded.py).
migration("""
CREATE TABLE relevant_ranks (
    run_id VARCHAR NOT NULL, language VARCHAR NOT NULL, query_id VARCHAR NOT NULL, doc_id VARCHAR NOT NULL,
    grade DOUBLE NOT NULL, rank BIGINT NOT NULL);
""")


class StoreError(RuntimeError):
    """The DB cannot be used as asked; the message names the fix."""


@dataclass
class IngestResult:
    added: list[str]
    replaced: list[str]
    unchanged: list[str]
    lock_seconds: float = 0.0  # how long the DB's write lock was held


class StagedRows:
    """Rows of an import on their way in: a private DuckDB file the import appends to batch by batch (memory
    stays flat in the number of runs), merged into the store in one short transaction (``Store.merge``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.count = 0  # runs
        self.rows = 0  # rows of the row tables (metrics, queries, problems)
        self._con = duckdb.connect(str(self.path))
        self._con.execute("SET memory_limit = '256MB'")
        for sql in MIGRATIONS:
            self._con.execute(sql)
        self._con.execute("CREATE TABLE staged_order (seq BIGINT, run_id VARCHAR PRIMARY KEY, origin VARCHAR)")

    def origins(self, run_ids: list[str]) -> dict[str, str]:
        """Where each of ``run_ids`` already staged came from."""
        return dict(self._con.execute("SELECT run_id, origin FROM staged_order WHERE run_id IN (SELECT unnest(?))",
                                      [list(run_ids)]).fetchall())

    def add(self, records: list[RunRecord], origin: str):
        for table, df in _staged_frames(records, self.count, origin).items():
            if len(df):
                self._con.register("incoming", df)
                self._con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                self._con.unregister("incoming")
                self.rows += len(df) if table in ROW_TABLES else 0
        self.count += len(records)

    def close(self):
        """Done adding (idempotent): the file can be attached."""
        self._con.close()


class Store:
    def __init__(self, path: Path, lock_timeout_s: float = 30.0, runs_dir: Path | None = None):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.runs_dir = Path(runs_dir) if runs_dir else None  # the runs/ folder this DB indexes

    @contextmanager
    def connect(self, write: bool = False):
        """A connection that waits (up to lock_timeout_s) while another process holds the write lock."""
        if write:
            self._prepare_dir()
        elif not self.path.exists():
            self.migrate()
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=not write)
                break
            except duckdb.IOException as e:
                if "lock" not in str(e).lower() or time.monotonic() > deadline:
                    raise StoreError(f"cannot open {self.path}: {e}") from e
                time.sleep(0.05)
        try:
            yield con
        finally:
            con.close()

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
        """Apply pending migrations; returns the schema version."""
        with self.connect(write=True) as con:
            con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
            done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
            for version, sql in enumerate(MIGRATIONS, start=1):
                if version in done:
                    continue
                con.execute("BEGIN TRANSACTION")
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, now())", [version])
                con.execute("COMMIT")
        return len(MIGRATIONS)

    # -- writes ----------------------------------------------------------------------------------------
    def ingest(self, records: list[RunRecord], replace: bool = False) -> IngestResult:
        """Insert records in one transaction. Identical re-ingest is a no-op; a changed record needs replace."""
        self.migrate()
        incoming = _staged_frames(records)

        def merge(con):
            for table, df in incoming.items():
                con.register(f"incoming_{table}", df)
            return _merge(con, lambda table: f"incoming_{table}", replace)
        with self._merging():
            result, held = self._write(merge)
        result.lock_seconds = held
        return result

    def merge(self, staged: "StagedRows", replace: bool = False, everything: bool = False,
              token: str | None = None) -> IngestResult:
        """Merge what ``staged`` holds, all or nothing, holding the write lock briefly whatever the size: rows
        of new runs go in first, in transactions of about MERGE_ROWS rows with the lock released between them
        (invisible to readers until their ``runs`` row exists), then one transaction adds the ``runs`` rows and
        replaces changed runs. ``everything``: the staged rows replace the whole content (a rebuild).
        ``token``: stored in meta in the final transaction, so the import's journal can tell whether it
        committed. ``lock_seconds`` is the longest single hold."""
        self.migrate()
        staged.close()
        attach = f"ATTACH {_literal(staged.path)} AS staged (READ_ONLY)"
        early = not everything and staged.rows > MERGE_ROWS

        def final(con):
            con.execute(attach)
            return _merge(con, lambda t: f"staged.{t}", replace, everything, token, rows_of_new_runs_in=early)
        with self._merging():
            holds = []
            try:
                if early:
                    for first, last in _chunks(staged):
                        holds.append(self._write(lambda con: _insert_new_rows(con, attach, first, last))[1])
                result, held = self._write(final)
            except BaseException:
                if early:
                    self._write(_drop_unlisted_rows)
                raise
        result.lock_seconds = max(holds + [held])
        return result

    @contextmanager
    def _merging(self):
        """One merge at a time across processes (a file lock beside the DB): rows a merge inserted early must
        not meet another writer's rows of the same run. Readers never take it."""
        import fcntl
        self._prepare_dir()
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def drop_unlisted_rows(self):
        """Delete rows whose run has no ``runs`` row (left by a merge killed half way)."""
        with self._merging():
            self._write(_drop_unlisted_rows)

    def _write(self, work) -> tuple[object, float]:
        """(``work(con)``'s result, seconds the write lock was held) for ``work`` in one write transaction."""
        with self.transaction() as con:
            start = time.monotonic()
            con.execute("SET memory_limit = '1GB'")  # a large merge spills to disk instead of growing the process
            result = work(con)
        return result, time.monotonic() - start  # the commit's checkpoint and the close included

    def delete(self, run_ids: list[str]) -> int:
        with self.transaction() as con:
            return _delete(con, run_ids)

    def set_meta(self, key: str, value: str):
        self.migrate()
        with self.connect(write=True) as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def delete_meta(self, key: str):
        with self.connect(write=True) as con:
            con.execute("DELETE FROM meta WHERE key = ?", [key])

    # -- reads -----------------------------------------------------------------------------------------
    def digest_of(self, run_id: str) -> str | None:
        """The stored content hash of a run (None if absent)."""
        self.migrate()
        with self.connect() as con:
            row = con.execute("SELECT digest FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return row[0] if row else None

    def get_meta(self, key: str) -> str | None:
        with self.connect() as con:
            row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def runs(self) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("""
                SELECT r.* EXCLUDE (digest), coalesce(m.languages, 0) AS languages
                FROM runs r LEFT JOIN (SELECT run_id, count(DISTINCT language) AS languages
                                       FROM metrics GROUP BY run_id) m USING (run_id)
                ORDER BY r.created_at DESC NULLS LAST, r.run_id""").df()

    def metrics(self, run_ids: list[str] | None = None, names: list[str] | None = None) -> pd.DataFrame:
        """Metric rows, of ``run_ids`` and of the metrics ``names`` only when given (DuckDB filters: a page
        that shows one metric of one evaluation does not read the whole table)."""
        where, params = ["run_id IN (SELECT run_id FROM runs)"], []  # not rows of a merge still under way
        if run_ids is not None:
            where.append("run_id IN (SELECT unnest(?))")
            params.append(list(run_ids))
        if names is not None:
            where.append("metric IN (SELECT unnest(?))")
            params.append(list(names))
        with self.connect() as con:
            return con.execute("SELECT * FROM metrics WHERE " + " AND ".join(where)
                               + " ORDER BY run_id, language, metric", params).df()

    def metric_names(self) -> list[str]:
        with self.connect() as con:
            return [r[0] for r in con.execute("SELECT DISTINCT metric FROM metrics WHERE run_id IN "
                                              "(SELECT run_id FROM runs) ORDER BY 1").fetchall()]

    def problem_results(self, run_ids: list[str]) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("SELECT * FROM problem_results WHERE run_id IN (SELECT unnest(?)) "
                               "ORDER BY run_id, language, problem_id, sample", [list(run_ids)]).df()

    def relevant_ranks(self, run_ids: list[str]) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("SELECT * FROM relevant_ranks WHERE run_id IN (SELECT unnest(?)) "
                               "ORDER BY run_id, language, query_id, rank", [list(run_ids)]).df()

    def query_results(self, run_ids: list[str] | str) -> pd.DataFrame:
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        with self.connect() as con:
            return con.execute("SELECT * FROM query_results WHERE run_id IN (SELECT unnest(?)) "
                               "ORDER BY run_id, language, query_id", [ids]).df()

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
        out = {}
        with self.connect() as con:
            for table in TABLES + ("meta",):
                rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                out[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16])
        return out


def _delete(con, run_ids: list[str]) -> int:
    count = con.execute("SELECT count(*) FROM runs WHERE run_id IN (SELECT unnest(?))", [run_ids]).fetchone()[0]
    for table in TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?))", [run_ids])
    return count


def _merge(con, source, replace: bool, everything: bool = False, token: str | None = None,
           rows_of_new_runs_in: bool = False) -> IngestResult:
    """Merge staged rows (``source(table)`` names each of TABLES and staged_order) into the DB, inside ``con``'s
    transaction; identical runs are left alone, changed ones need ``replace``; ``everything`` replaces all.
    ``rows_of_new_runs_in``: _insert_new_rows already inserted the row tables' rows of new runs."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE incoming AS
        SELECT o.seq, o.run_id, s.digest, r.digest AS old
        FROM {source('staged_order')} o JOIN {source('runs')} s USING (run_id) LEFT JOIN runs r USING (run_id)""")
    if not replace and not everything:
        clash = con.execute("SELECT run_id FROM incoming WHERE old <> digest ORDER BY seq LIMIT 1").fetchone()
        if clash:
            raise StoreError(f"run {clash[0]} already exists with different content; re-run with --replace to "
                             "overwrite it, or give the new run another run_id")
    changed = everything or con.execute("SELECT count(*) FROM incoming WHERE old <> digest").fetchone()[0]
    for table in TABLES:
        if everything:
            con.execute(f"DELETE FROM {table}")
        elif changed:  # a delete scans the table: skipped when nothing is replaced (a run finishing, a new import)
            con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM incoming WHERE old <> digest)")
        fresh = "old IS NOT NULL AND old <> digest" if rows_of_new_runs_in and table != "runs" else \
            "old IS DISTINCT FROM digest"
        where = "" if everything else f" WHERE run_id IN (SELECT run_id FROM incoming WHERE {fresh})"
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {source(table)}{where}")
    if token:
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, 'committed')", [token])
    lists = {"added": [], "replaced": [], "unchanged": []}
    added = "TRUE" if everything else "old IS NULL"
    for kind, ids in con.execute(f"""
            SELECT CASE WHEN {added} THEN 'added' WHEN old = digest THEN 'unchanged' ELSE 'replaced' END AS kind,
                   list(run_id ORDER BY seq)
            FROM incoming GROUP BY kind""").fetchall():
        lists[kind] = ids
    con.execute("DROP TABLE incoming")
    return IngestResult(**lists)


def _staged_frames(records: list[RunRecord], first: int = 0, origin: str | None = None) -> dict[str, pd.DataFrame]:
    """The rows of each of TABLES for ``records``, and their order (``staged_order``: seq from ``first``)."""
    out = dict(zip(TABLES, frames(records)))
    out["staged_order"] = pd.DataFrame({"seq": range(first, first + len(records)),
                                        "run_id": [r.run_id for r in records], "origin": origin})
    return out


def _chunks(staged: StagedRows) -> list[tuple[int, int]]:
    """Ranges of staged runs (by order) holding about MERGE_ROWS rows each."""
    per_run = max(1.0, staged.rows / max(1, staged.count))
    step = max(1, int(MERGE_ROWS / per_run))
    return [(first, min(first + step, staged.count)) for first in range(0, staged.count, step)]


def _insert_new_rows(con, attach: str, first: int, last: int):
    """Row-table rows of the staged runs first..last-1 that the DB does not have yet (not visible yet)."""
    con.execute(attach)
    ids = f"""SELECT run_id FROM staged.staged_order WHERE seq >= {int(first)} AND seq < {int(last)}
              AND run_id NOT IN (SELECT run_id FROM runs)"""
    for table in ROW_TABLES:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM staged.{table} WHERE run_id IN ({ids})")


def _drop_unlisted_rows(con):
    for table in ROW_TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id NOT IN (SELECT run_id FROM runs)")


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def frames(records: list[RunRecord]) -> tuple[pd.DataFrame, ...]:
    """The rows of each of TABLES for ``records``, as DataFrames."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    run_rows, metric_rows, query_rows, problem_rows, relevant_rows = [], [], [], [], []
    for r in records:
        row = {c: getattr(r, c, None) for c in RUN_COLUMNS}
        row.update(config=json.dumps(r.config, sort_keys=True), provenance=json.dumps(r.provenance, sort_keys=True),
                   digest=r.digest(), ingested_at=now)
        run_rows.append(row)
        metric_rows.extend({"run_id": r.run_id, **m} for m in r.metrics)
        query_rows.extend({"run_id": r.run_id, **q} for q in r.queries)
        problem_rows.extend({"run_id": r.run_id, **p} for p in r.problems)
        relevant_rows.extend({"run_id": r.run_id, **p} for p in r.relevant)
    runs = pd.DataFrame(run_rows, columns=RUN_COLUMNS)
    for col in ("created_at", "finished_at"):
        runs[col] = pd.to_datetime(runs[col], utc=True).dt.tz_localize(None)
    for col in ("params", "trainable_params"):
        runs[col] = runs[col].astype("Int64")
    metrics = pd.DataFrame(metric_rows, columns=METRIC_COLUMNS).astype({"n": "Int64"})
    return (runs, metrics, pd.DataFrame(query_rows, columns=QUERY_COLUMNS),
            pd.DataFrame(problem_rows, columns=PROBLEM_COLUMNS), pd.DataFrame(relevant_rows, columns=RELEVANT_COLUMNS))
