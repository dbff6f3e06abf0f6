"""Retrieval evaluation: gold ranks by exact inner-product search, and metrics as pure functions of ranks.

Ties are broken as trec_eval (and so pytrec_eval) breaks them, in both protocols: documents with equal scores
are ordered by document id, descending (byte order). A gold rank is therefore 1 + the documents scoring
higher + the documents scoring the same whose id sorts after the gold's; the metrics then equal pytrec_eval's
on the same scores, ties included (tested)."""
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


def id_order(doc_ids) -> np.ndarray:
    """Each document's position when ids are sorted (byte order): the tie-break key."""
    keys = [str(i).encode() for i in doc_ids]
    order = np.empty(len(keys), dtype=np.int64)
    order[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return order


def gold_ranks(scores: np.ndarray, gold: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Gold rank per row of a (queries x documents) score matrix, ties broken by id descending (trec_eval)."""
    rows = np.arange(len(scores))
    g = scores[rows, gold][:, None]
    tied_ahead = (scores == g) & (order[None, :] > order[gold][:, None])
    return 1 + np.count_nonzero(scores > g, axis=1) + np.count_nonzero(tied_ahead, axis=1)


def ranks_full(queries: np.ndarray, docs: np.ndarray, doc_ids=None, block: int = 256) -> np.ndarray:
    """Gold rank of query i (gold = document i) among all documents (exact inner product, blockwise)."""
    q, d = normalize(queries), normalize(docs)
    order = id_order(doc_ids if doc_ids is not None else [f"{i:09d}" for i in range(len(d))])
    ranks = np.empty(len(q), dtype=np.int64)
    for start in range(0, len(q), block):
        scores = q[start:start + block] @ d.T
        ranks[start:start + len(scores)] = gold_ranks(scores, np.arange(start, start + len(scores)), order)
    return ranks


def ranks_sampled(queries: np.ndarray, docs: np.ndarray, pool: np.ndarray, seed: int = 0,
                  candidates: int = CSN_CANDIDATES, pool_ids=None) -> tuple[np.ndarray, int]:
    """Gold rank of query i against its gold (docs[i]) plus seeded distractors drawn from ``pool``.

    ``pool`` holds docs first (pool[i] is docs[i]) and then extra documents; returns (ranks, distractors).
    """
    q, pool = normalize(queries), normalize(pool)
    n_distractors = min(candidates - 1, len(pool) - 1)
    order = id_order(pool_ids if pool_ids is not None else [f"{i:09d}" for i in range(len(pool))])
    rng = np.random.default_rng(seed)
    scores = q @ pool.T
    gold = scores[np.arange(len(q)), np.arange(len(q))]
    ranks = np.empty(len(q), dtype=np.int64)
    for i in range(len(q)):
        choice = rng.choice(len(pool) - 1, size=n_distractors, replace=False)
        choice[choice >= i] += 1  # skip the gold document itself
        s = scores[i, choice]
        ranks[i] = 1 + int(np.count_nonzero(s > gold[i])) + int(np.count_nonzero((s == gold[i]) & (order[choice] > order[i])))
    return ranks, n_distractors


def score_trec(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]],
               metrics=("ndcg@10", "mrr", "recall@1", "recall@5", "recall@10", "map", "p@5"),
               complete: bool = False) -> tuple[dict, dict]:
    """(per-query metrics, mean metrics) of a TREC run against qrels (graded, any number of relevant documents
    per query) with trec_eval's definitions and tie rule, over the queries pytrec_eval scores
    (backend/retrieval/graded.py): what ``python -m backend metrics`` prints."""
    from backend.retrieval.graded import Columns, score
    queries, values = score(Columns.from_dict(qrels, np.int64), Columns.from_dict(run), metrics, complete)
    per_query = {q: {m: float(v[i]) for m, v in values.items()} for i, q in enumerate(queries)}
    mean = {m: float(np.mean(v)) if len(v) else 0.0 for m, v in values.items()}
    return per_query, mean
