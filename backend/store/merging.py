"""Rows on their way into the DB: an import's private staging file, and the merge that moves them in all or
nothing while holding the write lock briefly whatever the size (the algorithm behind ``Store.merge``)."""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from backend.records import RunRecord
from backend.runcolumns import RunColumns
from backend.store.schema import (
    METRIC_COLUMNS,
    MIGRATIONS,
    NOT_PENDING,
    PROBLEM_COLUMNS,
    QUERY_COLUMNS,
    RELEVANT_COLUMNS,
    ROW_TABLES,
    RUN_COLUMNS,
    TABLES,
)

MERGE_ROWS = 1_000_000  # rows per early merge transaction: about half a second of write lock here


class StoreError(RuntimeError):
    """The DB cannot be used as asked; the message names the fix."""


@dataclass
class IngestResult:
    added: list[str]
    replaced: list[str]
    unchanged: list[str]
    lock_seconds: float = 0.0  # how long the DB's write lock was held


_EMPTY: list[Path] = []  # the empty staging file of this process


def _empty_staging_file() -> Path:
    """A staging file with the schema and nothing in it, made once per process: copying it takes a third of the
    time of creating the schema in each import's file (a tenth of a small import)."""
    if not _EMPTY:
        folder = Path(tempfile.mkdtemp(prefix="dashboard-staging-"))
        atexit.register(shutil.rmtree, folder, True)
        con = duckdb.connect(str(folder / "empty.duckdb"))
        con.execute("BEGIN TRANSACTION")
        for sql in MIGRATIONS:
            con.execute(sql)
        # No key: staging refuses a run id twice itself (Stage._check_ids); an index would grow with the import.
        con.execute("CREATE TABLE staged_order (seq BIGINT, run_id VARCHAR, origin VARCHAR)")
        con.execute("COMMIT")
        con.close()
        _EMPTY.append(folder / "empty.duckdb")
    return _EMPTY[0]


class StagedRows:
    """Rows of an import on their way in: a private DuckDB file the import appends to batch by batch (memory
    stays flat in the number of runs), merged into the store in one short transaction (``Store.merge``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.count = 0  # runs
        self.rows = 0  # rows of the row tables (metrics, queries, problems)
        self.per_run: list[np.ndarray] = []  # rows of each staged run in each of ROW_TABLES, batch by batch
        self.direct = 0  # rows of new runs written to the DB already (Store.write_new_rows), not staged here
        self.pending = 0  # runs whose rows are all in the DB already, pending (only their order is staged)
        self.holds: list[float] = []  # seconds the DB's write lock was held for them, each time
        shutil.copyfile(_empty_staging_file(), self.path)
        self._con = duckdb.connect(str(self.path))
        self._con.execute("SET memory_limit = '128MB'")
        # One checkpoint, at close: each automatic one rewrote more of the growing file (0.1 s at 30k runs, 1 s at
        # 300k: a million runs spent 20 s in them).
        self._con.execute("SET checkpoint_threshold = '1TB'")

    def origins(self, run_ids: list[str]) -> dict[str, str]:
        """Where each of ``run_ids`` already staged came from."""
        return dict(self._con.execute("SELECT run_id, origin FROM staged_order WHERE run_id IN (SELECT unnest(?))",
                                      [list(run_ids)]).fetchall())

    def add(self, records: list[RunRecord], origin: str):
        for table, df in staged_frames(records, self.count, origin).items():
            if len(df):
                self._con.register("incoming", df)
                self._con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                self._con.unregister("incoming")
                self.rows += len(df) if table in ROW_TABLES else 0
        self.per_run.append(np.array([[len(r.metrics), len(r.queries), len(r.problems), len(r.relevant)]
                                      for r in records], np.int64).reshape(-1, len(ROW_TABLES)))
        self.count += len(records)

    def add_columns(self, columns: RunColumns, origin: str, file: str | tuple[str, list[str]] | None = None,
                    metrics: pa.Table | None = None):
        """Stage runs held in columns (no per-run object); ``file``: the stored import that holds them, or (it, the
        runs the DB holds) when Store.write_new_rows wrote the others (pending): only their order is staged, and
        ``metrics`` are the metric rows still to stage."""
        runs = columns.runs
        metrics = columns.metrics if metrics is None else metrics
        order = pa.table({"seq": pa.array(range(self.count, self.count + len(columns)), pa.int64()),
                          "run_id": runs.column("run_id"), "origin": pa.array([origin] * len(columns), pa.string())})
        con = self._con
        if isinstance(file, tuple):
            if file[1]:
                held = pc.is_in(runs.column("run_id"), pa.array(file[1], pa.string()))
                insert_runs(con, RunColumns(runs.filter(held), metrics))
        else:
            insert_runs(con, columns)
        con.register("incoming_metrics", metrics)
        con.register("incoming_order", order)
        if metrics.num_rows:
            con.execute("INSERT INTO metrics BY NAME SELECT * FROM incoming_metrics")
        con.execute("INSERT INTO staged_order BY NAME SELECT * FROM incoming_order")
        if isinstance(file, tuple):
            con.execute("INSERT INTO run_files SELECT unnest(?), ?", [file[1], file[0]])
        elif file is not None:
            con.execute("INSERT INTO run_files SELECT run_id, ? FROM incoming_order", [file])
        for name in ("incoming_metrics", "incoming_order"):
            con.unregister(name)
        self.rows += metrics.num_rows
        per_run = np.zeros((len(columns), len(ROW_TABLES)), np.int64)
        run_of_row = pc.index_in(metrics.column("run_id"), runs.column("run_id")).to_numpy(zero_copy_only=False)
        per_run[:, 0] = np.bincount(run_of_row, minlength=len(columns))
        self.per_run.append(per_run)
        self.count += len(columns)

    def hold(self, run_ids: list[str], file: str):
        """Record that the stored import ``file`` holds these staged runs."""
        self._con.execute("INSERT INTO run_files SELECT unnest(?), ?", [list(run_ids), file])

    def close(self):
        """Done adding (idempotent): the file can be attached."""
        self._con.close()


def insert_runs(con, columns: RunColumns, where: str = ""):
    """Insert the ``runs`` rows of runs held in columns (``where``: of those only)."""
    runs = columns.runs
    languages = columns.metrics.group_by("run_id").aggregate([("language", "count_distinct")])
    runs = runs.append_column("languages", pc.fill_null(pc.take(
        languages.column("language_count_distinct"), pc.index_in(runs.column("run_id"), languages.column("run_id"))), 0))
    times = {c: f"strptime({c}, '%Y-%m-%dT%H:%M:%SZ') AS {c}" for c in ("created_at", "finished_at")}
    columns_sql = ", ".join(times.get(c, c) for c in RUN_COLUMNS if c not in ("config", "ingested_at"))
    con.register("incoming_runs", runs)
    con.execute(f"""INSERT INTO runs BY NAME SELECT {columns_sql}, languages, '{{}}' AS config,
                    (now() AT TIME ZONE 'UTC') AS ingested_at FROM incoming_runs {where}""")
    con.unregister("incoming_runs")


def delete_runs(con, run_ids: list[str]) -> int:
    count = con.execute("SELECT count(*) FROM runs WHERE run_id IN (SELECT unnest(?))", [run_ids]).fetchone()[0]
    for table in TABLES + ("run_files",):
        con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?))", [run_ids])
    return count


def merge_rows(con, source, replace: bool, everything: bool = False, token: str | None = None,
           rows_of_new_runs_in: bool = False, new: list[str] | None = None, pending: int = 0) -> IngestResult:
    """Merge staged rows (``source(table)`` names each of TABLES and staged_order) into the DB, inside ``con``'s
    transaction; identical runs are left alone, changed ones need ``replace``; ``everything`` replaces all.
    ``rows_of_new_runs_in``: insert_new_rows already inserted the row tables' rows of new runs. ``new``: every
    staged run is new, these (in order; found before this transaction, under the merge lock): no join at all.
    ``pending``: how many staged runs have their rows in already (Store.write_new_rows: not staged), unseen till now."""
    if new is not None:
        for table in TABLES + ("run_files",):
            if table == "runs" and pending != len(new):
                con.execute(f"INSERT INTO runs BY NAME SELECT * FROM {source(table)}")
            elif table != "runs" and not rows_of_new_runs_in:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {source(table)}")
        return _listed(con, token, IngestResult(added=new, replaced=[], unchanged=[]))
    # A pending run's runs row is not staged: it has no digest here (nor an old one), and counts as added.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE incoming AS
        SELECT o.seq, o.run_id, s.digest, r.digest AS old
        FROM {source('staged_order')} o {'LEFT ' if pending else ''}JOIN {source('runs')} s USING (run_id)
        LEFT JOIN (SELECT run_id, digest FROM runs WHERE {NOT_PENDING}) r USING (run_id)""")
    if not replace and not everything:
        clash = con.execute("SELECT run_id FROM incoming WHERE old <> digest ORDER BY seq LIMIT 1").fetchone()
        if clash:
            raise StoreError(f"run {clash[0]} already exists with different content; re-run with --replace to "
                             "overwrite it, or give the new run another run_id")
    changed = everything or con.execute("SELECT count(*) FROM incoming WHERE old <> digest").fetchone()[0]
    existing = everything or con.execute("SELECT count(*) FROM incoming WHERE old IS NOT NULL").fetchone()[0]
    for table in TABLES:
        if rows_of_new_runs_in and table != "runs" and not changed:
            continue  # every new run's rows are in, and no run is replaced: nothing to scan for
        if everything:
            con.execute(f"DELETE FROM {table}")
        elif changed:  # a delete scans the table: skipped when nothing is replaced (a run finishing, a new import)
            con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM incoming WHERE old <> digest)")
        fresh = "old IS NOT NULL AND old <> digest" if rows_of_new_runs_in and table != "runs" else \
            "old IS DISTINCT FROM digest"
        everyone = everything or (not existing and table == "runs")  # all new: no join to find them
        where = "" if everyone else f" WHERE run_id IN (SELECT run_id FROM incoming WHERE {fresh})"
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {source(table)}{where}")
    # Every staged run is now held where this import says (a stored file, or its folder: no row); new runs'
    # rows may have gone in early, with their rows of the row tables.
    if existing:
        con.execute("DELETE FROM run_files" + ("" if everything else
                    " WHERE run_id IN (SELECT run_id FROM incoming WHERE old IS NOT NULL)"))
    if existing or not rows_of_new_runs_in:
        held = "" if everything or not existing else " WHERE run_id IN (SELECT run_id FROM incoming" + (
            " WHERE old IS NOT NULL)" if rows_of_new_runs_in else ")")
        con.execute(f"INSERT INTO run_files SELECT * FROM {source('run_files')}{held}")
    lists = {"added": [], "replaced": [], "unchanged": []}
    added = "TRUE" if everything else "old IS NULL"
    for kind, ids in con.execute(f"""
            SELECT CASE WHEN {added} THEN 'added' WHEN old = digest THEN 'unchanged' ELSE 'replaced' END AS kind,
                   list(run_id ORDER BY seq)
            FROM incoming GROUP BY kind""").fetchall():
        lists[kind] = ids
    con.execute("DROP TABLE incoming")
    return _listed(con, token, IngestResult(**lists))


def _listed(con, token: str | None, result: IngestResult) -> IngestResult:
    """The merge's last step: the runs whose rows went in early are shown from now on (one merge at a time:
    every pending run is this one's), and ``token`` says the import committed."""
    con.execute("DELETE FROM pending_runs")
    if token:
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, 'committed')", [token])
    return result


def staged_frames(records: list[RunRecord], first: int = 0, origin: str | None = None) -> dict[str, pd.DataFrame]:
    """The rows of each of TABLES for ``records``, and their order (``staged_order``: seq from ``first``)."""
    out = dict(zip(TABLES, frames(records)))
    out["staged_order"] = pd.DataFrame({"seq": range(first, first + len(records)),
                                        "run_id": [r.run_id for r in records], "origin": origin})
    out["run_files"] = pd.DataFrame({"run_id": pd.Series([], dtype=str), "file": pd.Series([], dtype=str)})
    return out


def chunks(staged: StagedRows) -> list[tuple[int, int, dict[str, tuple[int, int]]]]:
    """Ranges of staged runs (by order) holding about MERGE_ROWS rows each, with where their rows lie in each row
    table (rows are staged in run order: a chunk reads only its own)."""
    per_run = np.concatenate(staged.per_run) if staged.per_run else np.zeros((0, len(ROW_TABLES)), np.int64)
    before = np.vstack([np.zeros((1, len(ROW_TABLES)), np.int64), np.cumsum(per_run, axis=0)])  # rows before run i
    total = before.sum(axis=1)
    out, first = [], 0
    while first < staged.count:
        last = min(max(int(np.searchsorted(total, total[first] + MERGE_ROWS)), first + 1), staged.count)
        out.append((first, last, {t: (int(before[first, j]), int(before[last, j])) for j, t in enumerate(ROW_TABLES)}))
        first = last
    return out


def insert_new_rows(con, attach: str, first: int, last: int, rows: dict[str, tuple[int, int]]):
    """Row-table rows of the staged runs first..last-1 that the DB does not have yet (not visible yet)."""
    con.execute(attach)
    ids = f"""SELECT run_id FROM staged.staged_order WHERE seq >= {int(first)} AND seq < {int(last)}
              AND run_id NOT IN (SELECT run_id FROM runs)"""
    for table in ROW_TABLES:
        a, b = rows[table]
        if b > a:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM staged.{table} "
                        f"WHERE rowid >= {int(a)} AND rowid < {int(b)} AND run_id IN ({ids})")
    con.execute(f"INSERT INTO run_files SELECT * FROM staged.run_files WHERE run_id IN ({ids})")


def drop_unlisted_rows(con):
    con.execute("DELETE FROM runs WHERE run_id IN (SELECT run_id FROM pending_runs)")
    con.execute("DELETE FROM pending_runs")
    for table in ROW_TABLES + ("run_files",):
        con.execute(f"DELETE FROM {table} WHERE run_id NOT IN (SELECT run_id FROM runs)")


def literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def frames(records: list[RunRecord]) -> tuple[pd.DataFrame, ...]:
    """The rows of each of TABLES for ``records``, as DataFrames."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    run_rows, metric_rows, query_rows, problem_rows, relevant_rows = [], [], [], [], []
    for r in records:
        row = {c: getattr(r, c, None) for c in RUN_COLUMNS}
        row.update(config=json.dumps(r.config, sort_keys=True), provenance=json.dumps(r.provenance, sort_keys=True),
                   digest=r.digest(), ingested_at=now, languages=len({m["language"] for m in r.metrics}))
        run_rows.append(row)
        metric_rows.extend({"run_id": r.run_id, **m} for m in r.metrics)
        query_rows.extend({"run_id": r.run_id, **q} for q in r.queries)
        problem_rows.extend({"run_id": r.run_id, **p} for p in r.problems)
        relevant_rows.extend({"run_id": r.run_id, **p} for p in r.relevant)
    runs = pd.DataFrame(run_rows, columns=[*RUN_COLUMNS, "languages"])
    for col in ("created_at", "finished_at"):
        runs[col] = pd.to_datetime(runs[col], utc=True).dt.tz_localize(None)
    for col in ("params", "trainable_params"):
        runs[col] = runs[col].astype("Int64")
    metrics = pd.DataFrame(metric_rows, columns=METRIC_COLUMNS).astype({"n": "Int64"})
    return (runs, metrics, pd.DataFrame(query_rows, columns=QUERY_COLUMNS),
            pd.DataFrame(problem_rows, columns=PROBLEM_COLUMNS), pd.DataFrame(relevant_rows, columns=RELEVANT_COLUMNS))
