"""Graded, multi-relevance metrics against pytrec_eval, per query, on real TREC files and on generated data."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.retrieval import graded, trecfiles
from backend.retrieval.metrics import metrics_from_ranks

pytrec_eval = pytest.importorskip("pytrec_eval")
DATA = Path(__file__).parent / "data" / "trec"
REAL = [("trec_eval-qrels-302.test", "trec_eval-results-302.test"), ("ranx-qrels.txt", "ranx-run.txt")]
METRICS = ["ndcg@1", "ndcg@10", "ndcg@1000", "mrr", "recall@1", "recall@10", "recall@100", "map", "p@5", "p@200"]


def _nested(columns: graded.Columns, cast) -> dict:
    out = {}
    for q, d, v in zip(columns.query, columns.doc, columns.value):
        out.setdefault(q, {})[d] = cast(v)
    return out


def _assert_as_pytrec_eval(qrels: dict, run: dict, metrics=METRICS):
    names = dict(graded.trec_measure(m) for m in metrics)
    theirs = pytrec_eval.RelevanceEvaluator(qrels, set(names)).evaluate(run)
    queries, ours = graded.score(graded.Columns.from_dict(qrels, np.int64), graded.Columns.from_dict(run), metrics)
    assert sorted(queries) == sorted(theirs)  # the same queries scored
    for metric in metrics:
        key = graded.trec_measure(metric)[1]
        for i, q in enumerate(queries):
            assert abs(ours[metric][i] - theirs[q][key]) <= 1e-12, (metric, q, ours[metric][i], theirs[q][key])


@pytest.mark.parametrize("qrels_file,run_file", REAL)
def test_real_files_score_as_pytrec_eval(qrels_file, run_file):
    qrels, run = trecfiles.read_qrels(DATA / qrels_file), trecfiles.read_run(DATA / run_file)
    _assert_as_pytrec_eval(_nested(qrels, int), _nested(run, float))


def test_trec_eval_topic_302_has_what_makes_it_hard():
    """The real file exercises what a one-gold scorer cannot: many relevant, judged non-relevant, missed ones."""
    qrels = trecfiles.read_qrels(DATA / "trec_eval-qrels-302.test")
    run = trecfiles.read_run(DATA / "trec_eval-results-302.test")
    relevant = set(qrels.doc[qrels.value > 0])
    assert len(relevant) == 77 and (qrels.value == 0).sum() == 984
    assert 0 < len(relevant & set(run.doc)) < 77  # some relevant documents were never retrieved
    assert len(run.value) - len(np.unique(run.value)) == 2  # exact score ties, broken by document id


@st.composite
def graded_runs(draw):
    n_queries = draw(st.integers(1, 6))
    docs = [f"d{j}" for j in range(draw(st.integers(1, 25)))]  # d10 < d2 byte-wise: not index order
    qrels, run = {}, {}
    for q in range(n_queries):
        judged = draw(st.lists(st.sampled_from(docs), unique=True, max_size=len(docs)))
        if judged:
            qrels[f"q{q}"] = {d: draw(st.integers(-1, 4)) for d in judged}
        retrieved = draw(st.lists(st.sampled_from(docs), unique=True, max_size=len(docs)))
        if retrieved:  # scores on a coarse grid: many ties
            run[f"q{q}"] = {d: draw(st.sampled_from([0.0, 0.5, 1.0, 1.5, -2.0])) for d in retrieved}
    return qrels, run


# Three times the profile's count (30 in the fast tier, 300 in the full profile): ties and grades have many cases.
@settings(max_examples=3 * settings.default.max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graded_runs())
def test_generated_graded_runs_with_ties_score_as_pytrec_eval(data):
    qrels, run = data
    if not qrels or not run:
        return
    _assert_as_pytrec_eval(qrels, run, METRICS[:-1] + ["p@3", "ndcg@3", "recall@3"])


def test_one_gold_case_is_exactly_todays_rank_metrics():
    rng = np.random.default_rng(0)
    ranks = rng.integers(1, 300, size=500)
    today = metrics_from_ranks(ranks)
    values = graded.per_query(graded.Judged.one_gold(ranks), ["ndcg@10", "mrr", "recall@1", "recall@5", "recall@10",
                                                                "mrr@10"])
    for metric, v in values.items():
        assert float(np.mean(v)) == today[metric], metric  # bit for bit, not approximately


def test_metric_names():
    assert graded.parse_metric("ndcg@20") == ("ndcg", 20) and graded.parse_metric("MAP") == ("map", None)
    assert graded.parse_metric("precision@5") == ("p", 5)
    for bad in ("ndcg@0", "ndcg", "bpref", "p@x"):
        with pytest.raises(ValueError, match="use ndcg@K"):
            graded.parse_metric(bad)


def test_metrics_command_on_real_files_with_extra_fields(tmp_path):
    from backend.__main__ import main
    run = tmp_path / "run.trec"  # a field after the run tag, as some tools write: ignored, as trec_eval does
    run.write_text("".join(line + " extra 9\n" for line in (DATA / "ranx-run.txt").read_text().splitlines()))
    out = tmp_path / "m.csv"
    assert main(["metrics", str(DATA / "ranx-qrels.txt"), str(run), "-o", str(out), "--metric", "ndcg@20",
                 "--metric", "map"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["query_id", "metric", "value"]
    assert set(table["metric"]) == {"ndcg@20", "map"} and set(table["query_id"]) == {"q_1", "q_2", "all"}
    theirs = pytrec_eval.RelevanceEvaluator(_nested(trecfiles.read_qrels(DATA / "ranx-qrels.txt"), int),
                                            {"ndcg_cut.20", "map"}).evaluate(_nested(trecfiles.read_run(run), float))
    values = table.set_index(["query_id", "metric"])["value"]
    for q, m in theirs.items():
        assert abs(values[(q, "ndcg@20")] - m["ndcg_cut_20"]) <= 1e-12 and abs(values[(q, "map")] - m["map"]) <= 1e-12
    assert values[("all", "map")] == pytest.approx(np.mean([m["map"] for m in theirs.values()]), abs=1e-12)
    default = tmp_path / "d.csv"
    assert main(["metrics", str(DATA / "trec_eval-qrels-302.test"), str(DATA / "trec_eval-results-302.test"),
                 "-o", str(default)]) == 0
    assert list(pd.read_csv(default)["metric"].unique()) == ["ndcg@10", "mrr", "recall@10", "map", "p@5"]


def test_query_coverage_matches_pytrec_eval_and_complete_counts_missing_queries(tmp_path):
    qrels = {"a": {"d1": 1}, "b": {"d1": 0}, "c": {"d2": 2}}  # b: judged, nothing relevant; c: not in the run
    run = {"a": {"d1": 1.0}, "b": {"d1": 1.0}, "z": {"d1": 1.0}}  # z: not judged
    _assert_as_pytrec_eval(qrels, run)
    queries, values = graded.score(graded.Columns.from_dict(qrels, np.int64), graded.Columns.from_dict(run),
                                   ["map"], complete=True)
    assert queries == ["a", "b", "c"] and values["map"].tolist() == [1.0, 0.0, 0.0]


def test_bad_files_are_refused_with_the_line(tmp_path):
    bad = tmp_path / "run"
    bad.write_text("q1 Q0 d1 1 0.5\n")
    with pytest.raises(ValueError, match="line 1 has 5 fields"):
        trecfiles.read_run(bad)
    bad.write_text("q1 Q0 d1 1 0.5 t\nq1 Q0 d1 2 0.4 t\n")
    with pytest.raises(ValueError, match="lists document d1 2 times"):
        trecfiles.read_run(bad)
    bad.write_text("q1 0 d1 high\n")
    with pytest.raises(ValueError, match="relevance 'high' is not a number"):
        trecfiles.read_qrels(bad)
    bad.write_text("q1 0 d1 0.5\n")
    with pytest.raises(ValueError, match="whole number"):
        trecfiles.read_qrels(bad)


def test_line_order_and_uneven_depths_do_not_change_anything():
    """trec_eval does not care how a run file is ordered; nor how deep each query's list is (two code paths)."""
    rng = np.random.default_rng(4)
    qrels = {f"q{q}": {f"d{d}": int(rng.integers(0, 3)) for d in rng.choice(300, 15, replace=False)} for q in range(30)}
    run = {f"q{q}": {f"d{d}": float(np.round(rng.random(), 1))
                     for d in rng.choice(300, 250 if q == 0 else int(rng.integers(1, 5)), replace=False)}
           for q in range(30)}  # one deep list among short ones: too uneven to pad
    _assert_as_pytrec_eval(qrels, run)
    columns = graded.Columns.from_dict(run)
    shuffled = rng.permutation(len(columns.query))  # queries' lines interleaved
    mixed = graded.Columns(columns.query[shuffled], columns.doc[shuffled], columns.value[shuffled])
    q_cols = graded.Columns.from_dict(qrels, np.int64)
    assert {k: v.tolist() for k, v in graded.score(q_cols, mixed, METRICS)[1].items()} == \
        {k: v.tolist() for k, v in graded.score(q_cols, columns, METRICS)[1].items()}


@pytest.mark.parametrize("seed", [0, 1])
def test_anserini_cacm_qrels_with_a_generated_tied_run_score_as_pytrec_eval(seed, tmp_path):
    """Real qrels (52 queries, up to 51 relevant each) against a 300-deep run per query on a coarse score grid,
    a third of each query's relevant documents in it, through the CLI as a file."""
    from backend.__main__ import main
    qrels = _nested(trecfiles.read_qrels(DATA / "anserini-qrels.cacm.txt"), int)
    rng = np.random.default_rng(seed)
    lines = []
    for q, judged in qrels.items():
        relevant = [d for d in judged if rng.random() < 1 / 3]
        others = [f"CACM-{i}" for i in rng.choice(np.arange(1, 3205), 300, replace=False) if f"CACM-{i}" not in judged]
        docs = relevant + others[: 300 - len(relevant)]
        lines += [f"{q} Q0 {d} 0 {s:g} gen" for d, s in zip(docs, np.round(rng.random(len(docs)) * 4) / 4)]
    (tmp_path / "run").write_text("\n".join(lines) + "\n")
    run = _nested(trecfiles.read_run(tmp_path / "run"), float)
    _assert_as_pytrec_eval(qrels, run)
    assert main(["metrics", str(DATA / "anserini-qrels.cacm.txt"), str(tmp_path / "run"), "-o", str(tmp_path / "m.csv"),
                 "--metric", "ndcg@100"]) == 0
    values = pd.read_csv(tmp_path / "m.csv", dtype={"query_id": str}).set_index("query_id")["value"]
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.100"}).evaluate(run)
    assert len(theirs) == 52 and all(abs(values[q] - m["ndcg_cut_100"]) <= 1e-12 for q, m in theirs.items())
