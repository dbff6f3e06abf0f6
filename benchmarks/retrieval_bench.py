"""Retrieval benchmarks, each printed as a ratio against a named peer measured in the same run.

1. Metric computation: our rank-based metrics vs pytrec_eval on the same random rankings, with heavily tied
   scores (both break ties by document id, descending) — pytrec_eval's input dictionaries are built before
   its clock starts; ours starts from the score matrix.
2. Encode throughput: a Model2Vec student vs its MiniLM teacher on the same benchmark code documents.

Usage: python benchmarks/retrieval_bench.py [--queries 2000] [--docs 1000] [--encode-docs 500] [--bench ID]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def metric_speed(n_queries: int, n_docs: int):
    import pytrec_eval

    from backend.retrieval.metrics import gold_ranks, id_order, metrics_from_ranks
    rng = np.random.default_rng(0)
    scores = np.round(rng.random((n_queries, n_docs)), 2)  # a grid of scores: ~10 documents tie with each gold
    gold = rng.integers(0, n_docs, n_queries)
    ids = [f"d{j}" for j in range(n_docs)]
    qrels = {f"q{i}": {ids[gold[i]]: 1} for i in range(n_queries)}
    run = {f"q{i}": {ids[j]: float(scores[i, j]) for j in range(n_docs)} for i in range(n_queries)}
    start = time.perf_counter()
    ours = metrics_from_ranks(gold_ranks(scores, gold, id_order(ids)))
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank", "recall.1", "recall.5",
                                                       "recall.10"}).evaluate(run)
    theirs = np.mean([q["ndcg_cut_10"] for q in per_query.values()])
    t_theirs = time.perf_counter() - start
    assert abs(ours["ndcg@10"] - theirs) < 1e-6, (ours["ndcg@10"], theirs)
    print(f"metrics on {n_queries:,} queries x {n_docs:,} docs: ours {t_ours * 1000:.1f} ms, "
          f"pytrec_eval {t_theirs * 1000:.1f} ms -> ours {t_theirs / t_ours:.0f}x faster (goal >= 10x); "
          f"NDCG@10 equal to 1e-6 ({ours['ndcg@10']:.6f})")


def encode_speed(n_docs: int, bench: str | None):
    from model2vec.distill import distill

    from backend.bench import dataset
    from backend.config import settings
    from backend.retrieval.encoders import load_encoder
    from backend.retrieval.models import resolve
    b = dataset.load(bench, settings().bench_dir)
    docs = [p["code"] for lang in b.languages for p in b.pairs(lang, "test")[: max(1, n_docs // len(b.languages))]]
    student_dir = Path(tempfile.mkdtemp()) / "m2v"
    distill(model_name=str(resolve("minilm", settings().cache_dir)), pca_dims=256).save_pretrained(str(student_dir))
    results = {}
    for label, ref in (("MiniLM teacher", "minilm"), ("Model2Vec student", str(student_dir))):
        encoder = load_encoder(ref, settings().cache_dir)
        encoder.encode(docs[:8])  # warm-up
        start = time.perf_counter()
        encoder.encode(docs, 32)
        results[label] = len(docs) / (time.perf_counter() - start)
        print(f"{label:18} {results[label]:10.1f} docs/s on {len(docs)} code documents from {b.id}")
    print(f"student vs teacher encode throughput: {results['Model2Vec student'] / results['MiniLM teacher']:.0f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--encode-docs", type=int, default=600)
    ap.add_argument("--bench", default=None)
    args = ap.parse_args()
    metric_speed(args.queries, args.docs)
    encode_speed(args.encode_docs, args.bench)


if __name__ == "__main__":
    main()
