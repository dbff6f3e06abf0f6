"""Metric functions against pytrec_eval on random rankings; rank computations against brute force."""
import numpy as np
import pytest

from backend.config import settings
from backend.retrieval.metrics import metrics_from_ranks, ranks_full, ranks_sampled


def _random_run(seed, n_queries=200, n_docs=300):
    rng = np.random.default_rng(seed)
    scores = rng.random((n_queries, n_docs))
    gold = rng.integers(0, n_docs, n_queries)
    ranks = 1 + (scores > scores[np.arange(n_queries), gold][:, None]).sum(1)
    qrels = {f"q{i}": {f"d{gold[i]}": 1} for i in range(n_queries)}
    run = {f"q{i}": {f"d{j}": float(scores[i, j]) for j in range(n_docs)} for i in range(n_queries)}
    return ranks, qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_pytrec_eval(seed):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    ranks, qrels, run = _random_run(seed)
    ours = metrics_from_ranks(ranks)
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank", "recall.5", "recall.10"}).evaluate(run)
    mean = lambda key: np.mean([m[key] for m in per_query.values()])  # noqa: E731
    assert ours["ndcg@10"] == pytest.approx(mean("ndcg_cut_10"), abs=1e-6)
    assert ours["mrr"] == pytest.approx(mean("recip_rank"), abs=1e-6)
    assert ours["recall@5"] == pytest.approx(mean("recall_5"), abs=1e-6)
    assert ours["recall@10"] == pytest.approx(mean("recall_10"), abs=1e-6)


def test_rank_statistics_and_bad_input():
    m = metrics_from_ranks([1, 2, 3, 100])
    assert m["mean_rank"] == pytest.approx(26.5) and m["median_rank"] == pytest.approx(2.5)
    assert m["recall@1"] == 0.25 and m["mrr@10"] == pytest.approx((1 + 0.5 + 1 / 3) / 4)
    with pytest.raises(ValueError):
        metrics_from_ranks([])
    with pytest.raises(ValueError):
        metrics_from_ranks([0, 1])


def test_full_ranks_match_brute_force():
    rng = np.random.default_rng(5)
    q, d = rng.normal(size=(120, 16)), rng.normal(size=(120, 16))
    qn, dn = q / np.linalg.norm(q, axis=1, keepdims=True), d / np.linalg.norm(d, axis=1, keepdims=True)
    s = qn @ dn.T
    brute = 1 + (s > np.diag(s)[:, None]).sum(1)
    assert ranks_full(q, d, block=50).tolist() == brute.tolist()


def _tied(seed, n_queries=300, n_docs=200):
    """Scores on a coarse grid: about a tenth of the documents tie with each gold."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random((n_queries, n_docs)), 1)
    gold = rng.integers(0, n_docs, n_queries)
    ids = [f"d{j}" for j in range(n_docs)]  # d10 < d2 in byte order: the tie rule is not index order
    qrels = {f"q{i}": {ids[gold[i]]: 1} for i in range(n_queries)}
    run = {f"q{i}": {ids[j]: float(scores[i, j]) for j in range(n_docs)} for i in range(n_queries)}
    return scores, gold, ids, qrels, run


@pytest.mark.parametrize("seed", [0, 1])
def test_heavily_tied_scores_score_as_pytrec_eval(seed):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    from backend.retrieval.metrics import gold_ranks, id_order, score_trec
    scores, gold, ids, qrels, run = _tied(seed)
    ours = metrics_from_ranks(gold_ranks(scores, gold, id_order(ids)))
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank", "recall.1", "recall.10"}).evaluate(run)
    mean = lambda key: np.mean([m[key] for m in per_query.values()])  # noqa: E731
    for key, metric in (("ndcg_cut_10", "ndcg@10"), ("recip_rank", "mrr"), ("recall_1", "recall@1"),
                        ("recall_10", "recall@10")):
        assert ours[metric] == pytest.approx(mean(key), abs=1e-9), metric
    _, trec_mean = score_trec(qrels, run)
    assert trec_mean["ndcg@10"] == pytest.approx(mean("ndcg_cut_10"), abs=1e-9)
    optimistic = metrics_from_ranks(1 + (scores > scores[np.arange(len(gold)), gold][:, None]).sum(1))
    assert optimistic["ndcg@10"] > 1.5 * ours["ndcg@10"]  # the old optimistic tie rule read far higher


def test_both_protocols_use_the_same_tie_rule():
    """Identical vectors tie everything: the full protocol and csn-1000 rank gold by the same id rule."""
    from backend.retrieval.metrics import id_order
    q = np.ones((20, 4))
    ids = [f"doc{i:02d}" for i in range(20)]
    full = ranks_full(q, q.copy(), ids)
    sampled, _ = ranks_sampled(q, q.copy(), q.copy(), candidates=20, pool_ids=ids)
    expected = 1 + (len(ids) - 1 - id_order(ids))  # every id sorting after the gold's comes first
    assert full.tolist() == sampled.tolist() == expected.tolist()


def test_metrics_command_scores_trec_files_as_pytrec_eval(tmp_path):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    import pandas as pd

    from backend.__main__ import main
    _, _, _, qrels, run = _tied(3, n_queries=40, n_docs=30)
    (tmp_path / "qrels").write_text("".join(f"{q} 0 {d} 1\n" for q, rel in qrels.items() for d in rel))
    (tmp_path / "run").write_text("".join(f"{q} Q0 {d} 0 {s} ours\n" for q, docs in run.items() for d, s in docs.items()))
    assert main(["metrics", str(tmp_path / "qrels"), str(tmp_path / "run"), "-o", str(tmp_path / "m.csv")]) == 0
    table = pd.read_csv(tmp_path / "m.csv").set_index(["query_id", "metric"])["value"]
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
    assert table[("all", "mrr")] == pytest.approx(np.mean([m["recip_rank"] for m in theirs.values()]), abs=1e-9)
    assert all(table[(q, "mrr")] == pytest.approx(m["recip_rank"]) for q, m in theirs.items())


def test_sampled_ranks_use_distinct_distractors_without_gold():
    rng = np.random.default_rng(6)
    q = rng.normal(size=(30, 8))
    pool = np.vstack([q * 10, rng.normal(size=(50, 8))])  # gold = the query itself: always rank 1
    ranks, n = ranks_sampled(q, pool[:30], pool, seed=1, candidates=40)
    assert n == 39 and ranks.tolist() == [1] * 30
    small, n_small = ranks_sampled(q[:5], pool[:5], pool[:5], candidates=1000)
    assert n_small == 4 and small.max() == 1


@pytest.mark.integration
def test_hf_encoder_sorts_by_length_and_returns_the_callers_order(tmp_path):
    """A plain Hugging Face folder (a KD student's layout): batching longest-first must not change any vector."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from backend.retrieval.encoders import load_encoder
    from backend.retrieval.models import resolve
    tokenizer = AutoTokenizer.from_pretrained(str(resolve("minilm", settings().cache_dir)), local_files_only=True)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(tmp_path / "tiny", safe_serialization=True)
    tokenizer.save_pretrained(tmp_path / "tiny")
    encoder = load_encoder(str(tmp_path / "tiny"), settings().cache_dir)
    texts = ["x = 1", "def parse(date):\n    return date.split('-') if date else None", "sort a list",
             "class A:\n    pass\n" * 5, "return"]
    alone = np.vstack([encoder.encode([t], 1) for t in texts])  # no padding at all
    for batch in (2, 3, 8):
        assert np.allclose(encoder.encode(texts, batch), alone, atol=1e-5)
