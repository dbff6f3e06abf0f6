"""What the DB is asked, each a function of an open connection returning a DataFrame (or rows): the store's
read side. Rows of a merge still under way (no ``runs`` row yet) are never returned."""
from __future__ import annotations

import hashlib

import pandas as pd

from backend.store.schema import TABLES

# The runs a reader may see: not those of an import still under way (their rows went in early).
LISTED = "(SELECT run_id FROM runs WHERE run_id NOT IN (SELECT run_id FROM pending_runs))"


def runs(con) -> pd.DataFrame:
    return con.execute("""SELECT * EXCLUDE (digest) FROM runs WHERE run_id NOT IN (SELECT run_id FROM pending_runs)
                          ORDER BY created_at DESC NULLS LAST, run_id""").df()  # languages: kept per run


def metrics(con, run_ids=None, names=None) -> pd.DataFrame:
    """Metric rows, of ``run_ids`` and of the metrics ``names`` only when given (DuckDB filters: a page that
    shows one metric of one evaluation does not read the whole table)."""
    where, params = [f"run_id IN {LISTED}"], []  # not rows of a merge still under way
    if run_ids is not None:
        where.append("run_id IN (SELECT unnest(?))")
        params.append(list(run_ids))
    if names is not None:
        where.append("metric IN (SELECT unnest(?))")
        params.append(list(names))
    return con.execute("SELECT * FROM metrics WHERE " + " AND ".join(where)
                       + " ORDER BY run_id, language, metric", params).df()


def metric_names(con) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT metric FROM metrics WHERE run_id IN {LISTED} "
                                      "ORDER BY 1").fetchall()]


def problem_results(con, run_ids) -> pd.DataFrame:
    return con.execute("SELECT * FROM problem_results WHERE run_id IN (SELECT unnest(?)) "
                       "ORDER BY run_id, language, problem_id, sample", [list(run_ids)]).df()


def relevant_ranks(con, run_ids) -> pd.DataFrame:
    return con.execute("SELECT * FROM relevant_ranks WHERE run_id IN (SELECT unnest(?)) "
                       "ORDER BY run_id, language, query_id, rank", [list(run_ids)]).df()


def query_results(con, run_ids) -> pd.DataFrame:
    return con.execute("SELECT * FROM query_results WHERE run_id IN (SELECT unnest(?)) "
                       "ORDER BY run_id, language, query_id", [list(run_ids)]).df()


def meta(con, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def fingerprint(con) -> dict[str, tuple[int, str]]:
    """(row count, content hash) per table: equal fingerprints mean equal content (an import's commit token in
    meta is bookkeeping, not content)."""
    out = {}
    for table in TABLES + ("run_files", "meta"):
        if not _has_table(con, table):
            continue
        where = " WHERE key NOT LIKE 'import:%'" if table == "meta" else ""
        rows = con.execute(f"SELECT * FROM {table}{where} ORDER BY ALL").fetchall()
        out[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16])
    return out


def held_by_others(con) -> dict[str, list[str]]:
    """Runs staged (schema ``staged``) that a stored import holds today but will not after the merge."""
    return dict(con.execute("""
        SELECT f.file, list(f.run_id ORDER BY f.run_id) FROM run_files f JOIN staged.staged_order o USING (run_id)
        LEFT JOIN staged.run_files s USING (run_id) WHERE s.file IS DISTINCT FROM f.file AND f.run_id IN """ + LISTED
        + " GROUP BY f.file").fetchall())


def changed(con, limit: int) -> list[tuple[str, str]]:
    return con.execute("""
        SELECT o.run_id, o.origin FROM staged.staged_order o JOIN staged.runs s USING (run_id) JOIN runs r USING (run_id)
        WHERE r.digest <> s.digest AND r.run_id IN """ + LISTED + " ORDER BY o.seq LIMIT ?", [limit]).fetchall()


def owners(con, run_ids: list[str]) -> dict[str, list[str]]:
    if not _has_table(con, "run_files"):
        return {}
    return dict(con.execute("""SELECT file, list(run_id ORDER BY run_id) FROM run_files
                               WHERE run_id IN (SELECT unnest(?)) GROUP BY file""", [list(run_ids)]).fetchall())


def _has_table(con, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0])
