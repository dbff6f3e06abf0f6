"""What the DB is asked, each a function of an open connection returning a DataFrame (or rows): the store's
read side. Rows of a merge still under way (no ``runs`` row yet) are never returned."""
from __future__ import annotations

import hashlib

import pandas as pd

from backend.store.schema import NOT_PENDING, TABLES
from backend.vocab import Language

LISTED = f"(SELECT run_id FROM runs WHERE {NOT_PENDING})"  # the runs a reader may see


def frame(con, sql: str, params=None) -> pd.DataFrame:
    """``con.execute(sql, params).df()``, the same frame (dtypes included), read through Arrow: DuckDB's own
    conversion of text columns is 2-3x slower, and the first page load after a write reads 100k runs and 600k
    metric rows. DuckDB's rules kept: text is pandas' str, or object when a column has no value (or
    there are no rows); an integer column with a NULL is Int64."""
    import pyarrow as pa
    table = con.sql(sql, params=params).to_arrow_table()
    out = table.to_pandas()
    for name, column in zip(table.column_names, table.columns):
        text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if not len(column) and text:
            out[name] = out[name].astype(object)
        if not column.null_count:
            continue
        if pa.types.is_integer(column.type):
            values = column.fill_null(0).to_numpy()
            out[name] = pd.arrays.IntegerArray(values.astype(f"int{column.type.bit_width}"),
                                               column.is_null().to_numpy(zero_copy_only=False))
        elif text and column.null_count == len(column):
            out[name] = pd.Series([None] * len(column), dtype=object, index=out.index)
    return out


def wanted(con, run_ids) -> str:
    """A subquery of ``run_ids``, handed to DuckDB as an Arrow column: binding 100k ids as one list parameter
    took 0.1 s per read, a tenth of that this way."""
    import pyarrow as pa
    con.register("wanted_runs", pa.table({"run_id": pa.array(list(run_ids), pa.string())}))
    return "SELECT run_id FROM wanted_runs"


def runs(con) -> pd.DataFrame:
    return frame(con, f"""SELECT * EXCLUDE (digest) FROM runs WHERE {NOT_PENDING}
                          ORDER BY created_at DESC NULLS LAST, run_id""")  # languages: kept per run


def metrics(con, run_ids=None, names=None) -> pd.DataFrame:
    """Metric rows, of ``run_ids`` and of the metrics ``names`` only when given (DuckDB filters: a page that
    shows one metric of one evaluation does not read the whole table)."""
    where, params = [f"run_id IN {LISTED}"], []  # not rows of a merge still under way
    if run_ids is not None:
        where.append(f"run_id IN ({wanted(con, run_ids)})")
    if names is not None:
        # A list of values, not ``IN (SELECT unnest(?))``: DuckDB filters the scan by it instead of joining (a
        # metric of 100k runs read in half the time).
        where.append(f"metric IN ({', '.join('?' * len(names))})" if names else "FALSE")
        params.extend(names)
    return frame(con, "SELECT * FROM metrics WHERE " + " AND ".join(where) + " ORDER BY run_id, language, metric",
                 params)


def metric_by_language(con, metric: str, run_ids=None) -> pd.DataFrame:
    """One metric as a row per run (sorted) and a column per language it has a value in (sorted), NaN where a
    run has none: ``frames.by_language``'s table, with 100k run ids read instead of 600k long rows."""
    where, params = [f"run_id IN {LISTED}", "metric = ?"], [metric]
    if run_ids is not None:
        where.append(f"run_id IN ({wanted(con, run_ids)})")
    languages = sorted(lang.value for lang in Language)  # the column's CHECK: no other language is stored
    columns = ", ".join(f"first(value) FILTER (WHERE language = '{lang}') AS \"{lang}\"" for lang in languages)
    out = frame(con, f"SELECT run_id, {columns} FROM metrics WHERE {' AND '.join(where)} GROUP BY run_id "
                     "ORDER BY run_id", params).set_index("run_id")
    out = out[[lang for lang in languages if out[lang].notna().any()]].astype(float)
    out.columns = pd.Index(list(out.columns), name="language")
    return out


def metric_names(con) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT metric FROM metrics WHERE run_id IN {LISTED} "
                                      "ORDER BY 1").fetchall()]


def problem_results(con, run_ids) -> pd.DataFrame:
    return frame(con, f"SELECT * FROM problem_results WHERE run_id IN ({wanted(con, run_ids)}) "
                      "ORDER BY run_id, language, problem_id, sample")


def relevant_ranks(con, run_ids) -> pd.DataFrame:
    return frame(con, f"SELECT * FROM relevant_ranks WHERE run_id IN ({wanted(con, run_ids)}) "
                      "ORDER BY run_id, language, query_id, rank")


def query_results(con, run_ids) -> pd.DataFrame:
    return frame(con, f"SELECT * FROM query_results WHERE run_id IN ({wanted(con, run_ids)}) "
                      "ORDER BY run_id, language, query_id")


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
