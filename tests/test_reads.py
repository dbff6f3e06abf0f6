"""The store's reads through Arrow (queries.frame) are DuckDB's own frames, dtypes included, and frames.isin is
pandas' isin: the pages' cold reads got faster without changing what any view computes from them."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from backend.frames import isin
from backend.records import record_from_dict
from backend.store import Store, queries


def _record(i: int, **extra) -> object:
    return record_from_dict({"schema_version": 1, "run_id": f"r{i}", "kind": "m2v-distill", "name": f"run {i}",
                             "benchmark": "bench", "protocol": "full", "created_at": "2026-01-01T00:00:00Z",
                             "metrics": [{"language": "python", "metric": "ndcg@10", "value": 0.5 + i / 100}],
                             **extra})


@pytest.fixture()
def con(tmp_path):
    store = Store(tmp_path / "runs" / "dashboard.duckdb")
    # params on one run only (an integer column with NULLs), no model anywhere (a text column without a value)
    store.ingest([_record(0, params=1000), _record(1), _record(2, disk_mb=12.5)])
    with duckdb.connect(str(store.path), read_only=True) as c:
        yield c


def test_arrow_reads_are_duckdbs_frames(con, monkeypatch):
    ids = ["r0", "r2", "nope"]
    reads = {"runs": lambda: queries.runs(con), "metrics": lambda: queries.metrics(con),
             "some metrics": lambda: queries.metrics(con, ids, ["ndcg@10"]),
             "no metrics": lambda: queries.metrics(con, [], ["ndcg@10"]),
             "queries": lambda: queries.query_results(con, ids), "problems": lambda: queries.problem_results(con, ids),
             "ranks": lambda: queries.relevant_ranks(con, ids)}
    arrow = {name: read() for name, read in reads.items()}
    monkeypatch.setattr(queries, "frame", lambda c, sql, params=None: c.execute(sql, params).df())
    assert arrow["runs"]["params"].dtype == "Int64" and arrow["runs"]["model"].dtype == object  # the cases it mends
    for name, read in reads.items():
        duck = read()
        pd.testing.assert_frame_equal(arrow[name], duck, check_exact=True, obj=name)
        assert list(arrow[name].dtypes) == list(duck.dtypes), name


@pytest.mark.parametrize("values", [["a", "c"], ("c",), set(), pd.Series(["b", "x"]), ["a", None], [1, "a"]])
def test_isin_is_pandas_isin(values):
    column = pd.Series(["a", "b", None, "c", "a"], dtype="str")
    assert isin(column, values).tolist() == column.isin(values).tolist()
    assert isin(column.astype(object), values).tolist() == column.astype(object).isin(values).tolist()


def test_a_metric_by_language_read_is_by_language_of_its_rows(tmp_path):
    """``Store.metric_by_language`` (one row per run, read in SQL) is ``frames.by_language`` of the same
    metric rows: overall values, missing languages, a subset of runs, and runs of an import under way left out."""
    from backend.frames import by_language
    store = Store(tmp_path / "runs" / "dashboard.duckdb")
    records = [record_from_dict({
        "schema_version": 1, "run_id": f"r{i}", "kind": "m2v-distill", "name": f"run {i}", "benchmark": "b",
        "protocol": "full", "created_at": "2026-01-01T00:00:00Z",
        "metrics": [{"language": lang, "metric": m, "value": i / 10 + j / 100}
                    for j, lang in enumerate(["python", "java", "go", "overall"]) if (i + j) % 3
                    for m in ("ndcg@10", "mrr")]}) for i in range(8)]
    store.ingest(records)
    with store.connect(write=True) as c:
        c.execute("INSERT INTO pending_runs VALUES ('r3')")  # as an import's early writes leave it
    for run_ids in (None, ["r1", "r2", "r3", "r5", "nosuch"], []):
        for metric in ("ndcg@10", "mrr", "nosuch"):
            got = store.metric_by_language(metric, run_ids)
            rows = store.metrics(run_ids, [metric])
            pd.testing.assert_frame_equal(got, by_language(rows))
            assert "r3" not in got.index
    assert list(store.metric_by_language("mrr").columns) == ["go", "java", "overall", "python"]


def test_row_means_are_pandas_groupby_means_of_the_long_rows_to_the_last_digit():
    """Efficiency scores are means over a run's languages from the by-language table; they must be the floats
    the long rows' groupby mean gave (the exports were made with it), with gaps and more than 8 values a run."""
    import numpy as np

    from backend.frames import by_language, row_means
    rng = np.random.default_rng(0)
    columns = [f"l{i:02d}" for i in range(17)]
    rows = pd.DataFrame([(f"r{i:04d}", c, float(rng.random() * 10.0 ** rng.integers(-3, 3)))
                         for i in range(2000) for c in columns if rng.random() < 0.7],
                        columns=["run_id", "language", "value"])
    expected = rows.groupby("run_id")["value"].agg(["mean", "count"])
    mean, count = row_means(by_language(rows))
    assert (mean == expected["mean"].to_numpy()).all() and (count == expected["count"].to_numpy()).all()
    mean, count = row_means(pd.DataFrame({"a": [np.nan, 1.0], "b": [np.nan, 2.0]}))
    assert np.isnan(mean[0]) and mean[1] == 1.5 and count.tolist() == [0, 2]
