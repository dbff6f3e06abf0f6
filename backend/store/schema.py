"""The DB's schema, written once: each table's columns, and the migrations that made the schema what it is (a DB
applies those it has not yet, in order; their text never changes once released)."""
from __future__ import annotations

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


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)  # enum literals are ours, never user text


# Each table's columns as SQL, once: the first migrations declared them with primary keys, later ones rebuilt
# the tables without (see below); both take their columns from here.
RUNS_SQL = f"""kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ({_in(RunStatus)})),
    created_at TIMESTAMP, finished_at TIMESTAMP, benchmark VARCHAR, protocol VARCHAR, model VARCHAR,
    params BIGINT, trainable_params BIGINT, disk_mb DOUBLE, peak_memory_mb DOUBLE, train_seconds DOUBLE,
    encode_throughput DOUBLE, config VARCHAR, source VARCHAR NOT NULL CHECK (source IN ({_in(Source)})),
    provenance VARCHAR, error VARCHAR, digest VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL"""  # after run_id
ROW_TABLES_SQL = {
    "metrics": f"""run_id VARCHAR NOT NULL, language VARCHAR NOT NULL CHECK (language IN ({_in(Language)})),
                   metric VARCHAR NOT NULL, value DOUBLE NOT NULL, n BIGINT""",
    "query_results": "run_id VARCHAR NOT NULL, language VARCHAR NOT NULL, query_id VARCHAR NOT NULL, "
                     "gold_rank BIGINT NOT NULL",
    "problem_results": "run_id VARCHAR NOT NULL, language VARCHAR NOT NULL, problem_id VARCHAR NOT NULL, "
                       "sample INTEGER NOT NULL, status VARCHAR NOT NULL "
                       "CHECK (status IN ('PASS', 'FAIL', 'TIMEOUT', 'ERROR'))",
}

MIGRATIONS: list[str] = []
migration = MIGRATIONS.append
migration(f"""
CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, {RUNS_SQL});
CREATE TABLE metrics ({ROW_TABLES_SQL["metrics"]}, PRIMARY KEY (run_id, language, metric));
CREATE TABLE query_results ({ROW_TABLES_SQL["query_results"]}, PRIMARY KEY (run_id, language, query_id));
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
""")
migration(f"""
ALTER TABLE runs ADD COLUMN tokens_per_s DOUBLE;
CREATE TABLE problem_results ({ROW_TABLES_SQL["problem_results"]}, PRIMARY KEY (run_id, language, problem_id, sample));
""")
# Tables without primary keys: their index made a 100k-run merge hold the write lock 4.4 s instead of 0.9 s.
# Uniqueness holds without it: records refuse duplicate rows, staging refuses a run id twice, and the merge is the
# only writer (delete, then insert; one merge at a time).
for _table, _columns in ROW_TABLES_SQL.items():
    migration(f"""
CREATE TABLE {_table}_unkeyed ({_columns});
INSERT INTO {_table}_unkeyed SELECT * FROM {_table} ORDER BY ALL;
DROP TABLE {_table};
ALTER TABLE {_table}_unkeyed RENAME TO {_table};
""")
# The runs table too: its index was 0.9 s of a 1M-run merge's last transaction (the one that holds the lock).
migration(f"""
CREATE TABLE runs_unkeyed (run_id VARCHAR NOT NULL, {RUNS_SQL}, tokens_per_s DOUBLE);
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

# Which stored import file (runs/.imports/<key>/) holds each run read from one; runs with a folder have no row.
migration("""
CREATE TABLE run_files (run_id VARCHAR NOT NULL, file VARCHAR NOT NULL);
""")

# Per-run aggregate kept with the run (every page's runs read counted it over the whole metrics table, the
# first load after a write at 100k runs paid it): how many languages the run has metrics for.
migration("""
ALTER TABLE runs ADD COLUMN languages BIGINT NOT NULL DEFAULT 0;
UPDATE runs SET languages = c.n FROM (SELECT run_id, count(DISTINCT language) AS n FROM metrics GROUP BY run_id) c
WHERE runs.run_id = c.run_id;
""")

# Runs of a large import under way whose runs rows went in early (written while its file was read, a slice at a
# time): every read leaves them out until the import's last transaction empties this table, so that transaction
# makes a million runs visible at once without copying their rows while it holds the write lock.
migration("""
CREATE TABLE pending_runs (run_id VARCHAR NOT NULL);
""")

# A run a reader may see: not one whose rows an import is still writing early (listed in pending_runs).
NOT_PENDING = "run_id NOT IN (SELECT run_id FROM pending_runs)"
