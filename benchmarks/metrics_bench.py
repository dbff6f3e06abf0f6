"""Graded metrics (ndcg@10, mrr, recall@10, map, p@5) of one run: ours (backend/retrieval/graded.py) against
pytrec_eval, side by side in one process, alternating rounds, with the per-query values checked equal.

Each side starts from its own in-memory form of the same run and qrels, built before timing: pytrec_eval from
nested dicts (what it takes), ours from integer-coded columns (graded.encode: the ids factorized once, as the
dicts are built once). Timed: pytrec_eval's RelevanceEvaluator + evaluate; our judge_encoded + per_query,
which finds each judged document's rank in the run (score descending, ties by id descending) and computes the
metrics. Also printed: ours with the encoding of the id strings included, and the metrics alone from stored
relevant ranks (what the deltas page recomputes).

Usage: python benchmarks/metrics_bench.py [--queries 1000] [--depth 1000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

METRICS = ["ndcg@10", "mrr", "recall@10", "map", "p@5"]


def make_run(queries: int, depth: int, seed: int = 0):
    """A run of ``depth`` documents per query from a pool of 5 x depth, scores on a grid (ties), and graded
    qrels: 1-20 judged documents per query, grades 0-3."""
    rng = np.random.default_rng(seed)
    pool = 5 * depth
    qrels, run = {}, {}
    for q in range(queries):
        judged = rng.choice(pool, size=rng.integers(1, 21), replace=False)
        qrels[f"q{q}"] = {f"doc{d}": int(rng.integers(0, 4)) for d in judged}
        retrieved = rng.choice(pool, size=depth, replace=False)
        run[f"q{q}"] = {f"doc{d}": float(s) for d, s in zip(retrieved, np.round(rng.random(depth), 3))}
    return qrels, run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=1000, help="documents retrieved per query")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import pytrec_eval

    from backend.retrieval import graded
    qrels, run = make_run(args.queries, args.depth)
    qrels_cols, run_cols = graded.Columns.from_dict(qrels, np.int64), graded.Columns.from_dict(run)
    measures = dict(graded.trec_measure(m) for m in METRICS)
    encoded = graded.encode(qrels_cols, run_cols)
    theirs_t, ours_t, whole_t, stored_t = [], [], [], []
    for _ in range(args.rounds):  # alternating: both sides see the same machine load
        start = time.perf_counter()
        theirs = pytrec_eval.RelevanceEvaluator(qrels, set(measures)).evaluate(run)
        theirs_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        queries, judged = graded.judge_encoded(encoded)
        ours = graded.per_query(judged, METRICS)
        ours_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        graded.score(qrels_cols, run_cols, METRICS)
        whole_t.append(time.perf_counter() - start)
    for _ in range(args.rounds):
        start = time.perf_counter()
        graded.per_query(judged, METRICS)
        stored_t.append(time.perf_counter() - start)
    worst = max(abs(ours[m][i] - theirs[q][graded.trec_measure(m)[1]]) for m in METRICS for i, q in enumerate(queries))
    t, o, w, s = np.median(theirs_t), np.median(ours_t), np.median(whole_t), np.median(stored_t)
    print(f"{args.queries:,} queries x {args.depth:,} retrieved documents, {len(judged.rank):,} judged relevant; "
          f"metrics {', '.join(METRICS)}; medians of {args.rounds} alternating rounds")
    print(f"pytrec_eval (evaluator + evaluate, from dicts): {t * 1000:9.1f} ms")
    print(f"ours (judged ranks + metrics, coded columns):   {o * 1000:9.1f} ms   {t / o:6.1f}x faster")
    print(f"ours (the same, encoding the id strings too):   {w * 1000:9.1f} ms   {t / w:6.1f}x faster")
    print(f"ours (metrics from stored relevant ranks):      {s * 1000:9.1f} ms   {t / s:6.1f}x faster")
    print(f"largest per-query difference from pytrec_eval: {worst:.1e}")


if __name__ == "__main__":
    main()
