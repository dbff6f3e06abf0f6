"""Evaluation on a graded benchmark (imported BEIR-style: several relevant documents per query, graded):
each query ranked against every document of its language by exact inner product, the rank of each of its
judged documents found with the evaluation's tie rule (score descending, ties by document id descending, as
trec_eval), and the metrics computed from those ranks with trec_eval's definitions (backend/retrieval/graded.py).

Shared by every retrieval run kind (model evaluations) and by the TREC run importer and BM25 (their ranks)."""
from __future__ import annotations

import numpy as np

from backend.retrieval import graded
from backend.retrieval.metrics import id_order, normalize

METRICS = ("ndcg@10", "mrr", "mrr@10", "recall@1", "recall@5", "recall@10", "map", "p@5", "p@10")
PROTOCOL_NOTE = ("each query against every document of its language; graded judgments, several relevant "
                 "documents per query (trec_eval's definitions)")


def judged_pairs(queries: list[dict], qrels: dict, doc_index: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """(query index, document index or -1 when not in the ranked corpus, grade, doc ids) of every judged
    document with grade > 0 of each query."""
    jq, jd, grade, ids = [], [], [], []
    for i, q in enumerate(queries):
        for doc_id, g in sorted(qrels.get(q["id"], {}).items()):
            if g > 0:
                jq.append(i)
                jd.append(doc_index.get(doc_id, -1))
                grade.append(float(g))
                ids.append(doc_id)
    return np.array(jq, dtype=np.int64), np.array(jd, dtype=np.int64), np.array(grade), ids


def ranks_by_scores(query_vecs: np.ndarray, doc_vecs: np.ndarray, doc_ids: list[str], jq: np.ndarray, jd: np.ndarray,
                    block: int = 256) -> np.ndarray:
    """Rank of each judged (query jq, document jd) among all documents (0 when jd is -1), blockwise."""
    q, d = normalize(query_vecs), normalize(doc_vecs)
    order = id_order(doc_ids)
    rank = np.zeros(len(jq), dtype=np.int64)
    for start in range(0, len(q), block):
        scores = q[start:start + block] @ d.T
        pick = np.flatnonzero((jq >= start) & (jq < start + len(scores)) & (jd >= 0))
        rank[pick] = ranks_in_rows(scores, jq[pick] - start, jd[pick], order)
    return rank


def ranks_in_rows(scores: np.ndarray, rows: np.ndarray, docs: np.ndarray, order: np.ndarray) -> np.ndarray:
    """1 + the documents scoring higher + those scoring the same whose id sorts after (trec_eval's tie rule)."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    s = scores[rows]
    own = s[np.arange(len(rows)), docs][:, None]
    return 1 + np.count_nonzero(s > own, axis=1) + np.count_nonzero((s == own) & (order[None, :] > order[docs][:, None]),
                                                                     axis=1)


def language_rows(language: str, queries: list[dict], jq, grade, rank, doc_ids) -> tuple[list, list, list]:
    """(metric rows, query rows: the first relevant document's rank, for the drill-down; relevant rows) of one
    language of a run."""
    judged = graded.Judged(jq, grade, rank, len(queries))
    values = graded.per_query(judged, METRICS)
    metrics = [{"language": language, "metric": m, "value": float(np.mean(v)), "n": len(queries)}
               for m, v in values.items()]
    first = np.full(len(queries), np.iinfo(np.int64).max)
    hit = rank > 0
    np.minimum.at(first, jq[hit], rank[hit])
    query_rows = [{"language": language, "query_id": q["id"], "gold_rank": int(r)}
                  for q, r in zip(queries, first) if r != np.iinfo(np.int64).max]
    relevant = [{"language": language, "query_id": queries[i]["id"], "doc_id": d, "grade": float(g), "rank": int(r)}
                for i, d, g, r in zip(jq, doc_ids, grade, rank)]
    return metrics, query_rows, relevant


def evaluate(encoders: dict, config, ctx, bench, languages: list[str], share: tuple[float, float]) -> dict:
    """Encode each language's corpus and evaluation queries, rank, and return the record fields (metrics,
    queries, relevant, encode_throughput) of the ``full`` protocol."""
    from backend.progress import Meter
    import time
    metrics, queries_rows, relevant, seconds, n_docs = [], [], [], 0.0, 0
    for i, lang in enumerate(languages):
        encoder = encoders[lang]
        docs = bench.eval_corpus(lang)
        queries = bench.queries(lang)[: config.max_queries or None]
        step = (share[1] - share[0]) / len(languages)
        meter = Meter(ctx.progress, f"{lang} ({i + 1}/{len(languages)}): encoding", len(docs) + len(queries), "texts",
                      (share[0] + step * i, share[0] + step * (i + 1)))
        start = time.perf_counter()
        doc_vecs = encoder.encode([d["text"] for d in docs], config.batch_size, meter.advance)
        seconds += time.perf_counter() - start
        n_docs += len(docs)
        query_vecs = encoder.encode([q["text"] for q in queries], config.batch_size, meter.advance)
        doc_ids = [d["id"] for d in docs]
        jq, jd, grade, judged_ids = judged_pairs(queries, bench.qrels(lang), {d: j for j, d in enumerate(doc_ids)})
        rank = ranks_by_scores(query_vecs, doc_vecs, doc_ids, jq, jd)
        m, q, r = language_rows(lang, queries, jq, grade, rank, judged_ids)
        metrics += m
        queries_rows += q
        relevant += r
    return {"metrics": metrics, "queries": queries_rows, "relevant": relevant,
            "encode_throughput": n_docs / seconds if seconds else None}
