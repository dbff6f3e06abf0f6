"""Retrieval evaluation: gold ranks by exact inner-product search, and metrics as pure functions of ranks."""
from __future__ import annotations

import numpy as np

PROTOCOLS = ("full", "csn-1000")
CSN_CANDIDATES = 1000  # gold + 999 distractors, as CodeSearchNet scored its test set


def metrics_from_ranks(ranks) -> dict[str, float]:
    """Every metric from 1-based gold ranks (one relevant document per query)."""
    r = np.asarray(ranks, dtype=np.float64)
    if r.size == 0 or (r < 1).any():
        raise ValueError("ranks must be a non-empty array of values >= 1")
    top10 = r <= 10
    return {
        "ndcg@10": float(np.mean(np.where(top10, 1.0 / np.log2(r + 1.0), 0.0))),
        "mrr": float(np.mean(1.0 / r)),
        "mrr@10": float(np.mean(np.where(top10, 1.0 / r, 0.0))),
        "recall@1": float(np.mean(r <= 1)),
        "recall@5": float(np.mean(r <= 5)),
        "recall@10": float(np.mean(top10)),
        "mean_rank": float(np.mean(r)),
        "median_rank": float(np.median(r)),
    }


def normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ranks_full(queries: np.ndarray, docs: np.ndarray, block: int = 256) -> np.ndarray:
    """Gold rank of query i (gold = document i) among all documents: FAISS exact inner-product search."""
    import faiss
    q, d = normalize(queries), normalize(docs)
    index = faiss.IndexFlatIP(d.shape[1])
    index.add(d)
    ranks = np.empty(len(q), dtype=np.int64)
    for start in range(0, len(q), block):
        _, ids = index.search(q[start:start + block], len(d))
        gold = np.arange(start, start + len(ids))[:, None]
        ranks[start:start + len(ids)] = np.argmax(ids == gold, axis=1) + 1
    return ranks


def ranks_sampled(queries: np.ndarray, docs: np.ndarray, pool: np.ndarray, seed: int = 0,
                  candidates: int = CSN_CANDIDATES) -> tuple[np.ndarray, int]:
    """Gold rank of query i against its gold (docs[i]) plus seeded distractors drawn from ``pool``.

    ``pool`` holds docs first (pool[i] is docs[i]) and then extra documents; returns (ranks, distractors).
    """
    q, pool = normalize(queries), normalize(pool)
    n_distractors = min(candidates - 1, len(pool) - 1)
    rng = np.random.default_rng(seed)
    scores = q @ pool.T
    gold = scores[np.arange(len(q)), np.arange(len(q))]
    ranks = np.empty(len(q), dtype=np.int64)
    for i in range(len(q)):
        choice = rng.choice(len(pool) - 1, size=n_distractors, replace=False)
        choice[choice >= i] += 1  # skip the gold document itself
        ranks[i] = 1 + int(np.count_nonzero(scores[i, choice] > gold[i]))
    return ranks, n_distractors
