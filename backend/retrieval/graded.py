"""Graded, multi-relevance retrieval metrics with trec_eval's definitions (and so pytrec_eval's), vectorised.

Every metric here depends only on where each judged-relevant document of a query was ranked, so a run is
reduced to one row per (query, relevant document): its grade and its rank (0: not retrieved). That is the
one-gold ``gold_rank`` generalised; with one relevant document of grade 1 every formula is today's.

Definitions (trec_eval 9, ``relevance_level`` 1):
- ranks: the run's documents sorted by score, descending, ties by document id, descending (byte order);
  the rank field of a run file is ignored, as trec_eval ignores it;
- ``ndcg@k`` (trec_eval ``ndcg_cut.k``): gain = the qrels grade, discount log2(rank + 1), DCG over the first k
  retrieved; the ideal DCG sorts every judged document with grade > 0 by grade (retrieved or not);
- ``mrr`` (``recip_rank``): 1 / the rank of the first relevant document retrieved (grade >= 1), else 0;
  ``mrr@k``: the same, 0 beyond rank k;
- ``recall@k``: relevant documents in the first k / relevant documents judged; ``p@k`` (``P.k``): / k;
- ``map``: the mean, over all judged relevant documents, of the precision at each one's rank (0 if missed).
Grades <= 0 (judged non-relevant) count for nothing, as in trec_eval."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

METRIC_RE = re.compile(r"^(?:(ndcg|recall|p|mrr)@([1-9][0-9]*)|(mrr|map))$")
DEFAULT_METRICS = ("ndcg@10", "mrr", "recall@10", "map", "p@5")
# The names pytrec_eval gives the same measures (tests and the benchmark ask it for these).
TREC_NAMES = {"ndcg": "ndcg_cut_{k}", "recall": "recall_{k}", "p": "P_{k}", "mrr": "recip_rank", "map": "map"}


def parse_metric(name: str) -> tuple[str, int | None]:
    """('ndcg', 10) for 'ndcg@10', ('map', None) for 'map'; ValueError naming the accepted spellings."""
    m = METRIC_RE.match(str(name).strip().lower().replace("precision@", "p@"))
    if not m:
        raise ValueError(f"unknown metric {name!r}; use ndcg@K, recall@K, p@K, mrr, mrr@K or map (K a whole number)")
    return (m.group(1), int(m.group(2))) if m.group(1) else (m.group(3), None)


def trec_measure(name: str) -> tuple[str, str]:
    """(pytrec_eval measure to ask for, key of its answer) for one of our metric names (not mrr@k)."""
    family, k = parse_metric(name)
    if family == "mrr" and k:
        raise ValueError("mrr@k has no trec_eval measure")
    key = TREC_NAMES[family].format(k=k)
    return (".".join(key.rsplit("_", 1)) if k else key), key


@dataclass
class Judged:
    """One row per (query, judged document with grade > 0): the query's index, the grade and the rank the run
    gave it (0: not retrieved). ``n_queries``: queries scored, including any without a row."""
    query: np.ndarray
    grade: np.ndarray
    rank: np.ndarray
    n_queries: int
    doc: np.ndarray | None = None  # the judged documents' ids, where known

    @classmethod
    def one_gold(cls, ranks) -> "Judged":
        """The one-gold case: query i's single relevant document (grade 1) at ranks[i]."""
        r = np.asarray(ranks, dtype=np.int64)
        return cls(np.arange(len(r)), np.ones(len(r)), r, len(r))


def per_query(judged: Judged, metrics=DEFAULT_METRICS) -> dict[str, np.ndarray]:
    """{metric: value per query (index 0..n_queries-1)} for every metric name in ``metrics``."""
    order = np.lexsort((_rank_key(judged.rank), judged.query))  # by query, then rank (missed last)
    q, grade, rank = judged.query[order], judged.grade[order].astype(np.float64), judged.rank[order]
    n = judged.n_queries
    relevant = grade >= 1  # trec_eval's relevance_level 1: what P, recall, recip_rank and map count
    hit = relevant & (rank > 0)
    num_rel = np.bincount(q, weights=relevant, minlength=n)
    out = {}
    for name in metrics:
        family, k = parse_metric(name)
        if family == "ndcg":
            out[name] = _ndcg(q, grade, rank, n, k)
        elif family == "mrr":
            first = np.full(n, np.inf)
            np.minimum.at(first, q[hit], rank[hit].astype(np.float64))
            value = 1.0 / first
            out[name] = np.where(first <= k, value, 0.0) if k else value
        elif family in ("recall", "p"):
            found = np.bincount(q, weights=hit & (rank <= k), minlength=n)
            out[name] = found / k if family == "p" else _safe_div(found, num_rel)
        else:  # map: precision at each relevant document's rank; rows are in rank order within a query
            position = _position_in_group(q[hit])
            precision = np.bincount(q[hit], weights=position / rank[hit], minlength=n)
            out[name] = _safe_div(precision, num_rel)
    return out


def _ndcg(q, grade, rank, n, k) -> np.ndarray:
    gain = grade > 0
    counted = gain & (rank > 0) & (rank <= k)
    dcg = np.bincount(q[counted], weights=grade[counted] / np.log2(rank[counted] + 1.0), minlength=n)
    # Ideal: every judged grade > 0 of the query, best first, at positions 1..k.
    order = np.lexsort((-grade[gain], q[gain]))
    iq, ig = q[gain][order], grade[gain][order]
    position = _position_in_group(iq)
    top = position <= k
    ideal = np.bincount(iq[top], weights=ig[top] / np.log2(position[top] + 1.0), minlength=n)
    return _safe_div(dcg, ideal)


def _rank_key(rank: np.ndarray) -> np.ndarray:
    return np.where(rank > 0, rank, np.iinfo(np.int64).max)


def _position_in_group(sorted_groups: np.ndarray) -> np.ndarray:
    """1-based position of each element within its run of equal values (the input sorted by group)."""
    if len(sorted_groups) == 0:
        return np.zeros(0)
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    lengths = np.diff(np.r_[starts, len(sorted_groups)])
    return (np.arange(len(sorted_groups)) - np.repeat(starts, lengths) + 1).astype(np.float64)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


# -- runs and qrels as columns -------------------------------------------------------------------------------
@dataclass
class Columns:
    """A TREC qrels or run as parallel arrays: query id, document id, value (a grade or a score)."""
    query: np.ndarray
    doc: np.ndarray
    value: np.ndarray

    @classmethod
    def from_dict(cls, nested: dict[str, dict[str, float]], dtype=np.float64) -> "Columns":
        q = [qid for qid, docs in nested.items() for _ in docs]
        d = [doc for docs in nested.values() for doc in docs]
        v = [value for docs in nested.values() for value in docs.values()]
        return cls(np.array(q, dtype=object), np.array(d, dtype=object), np.array(v, dtype=dtype))


@dataclass
class Encoded:
    """Qrels and run over shared integer codes (made once, as pytrec_eval's dicts are): ``queries`` and ``docs``
    hold the ids; ``doc_order`` each document's place in byte order of ids (the tie-break key)."""
    queries: np.ndarray
    docs: np.ndarray
    doc_order: np.ndarray
    qrels_query: np.ndarray
    qrels_doc: np.ndarray
    grade: np.ndarray
    run_query: np.ndarray
    run_doc: np.ndarray
    score: np.ndarray


def encode(qrels: Columns, run: Columns) -> Encoded:
    import pandas as pd
    nq = len(qrels.query)
    q_codes, queries = pd.factorize(np.concatenate([qrels.query, run.query]).astype(object))
    d_codes, docs = pd.factorize(np.concatenate([qrels.doc, run.doc]).astype(object))
    queries, docs = np.asarray(queries, dtype=str), np.asarray(docs, dtype=str)
    doc_order = np.empty(len(docs), dtype=np.int64)
    doc_order[np.argsort(docs, kind="stable")] = np.arange(len(docs))  # code-point order = UTF-8 byte order
    return Encoded(queries, docs, doc_order, q_codes[:nq], d_codes[:nq], np.asarray(qrels.value, np.float64),
                   q_codes[nq:], d_codes[nq:], np.asarray(run.value, np.float64))


def judge_encoded(e: Encoded, complete: bool = False) -> tuple[list[str], Judged]:
    """(query ids scored, their Judged rows), with pytrec_eval's query coverage: the queries of the run that
    the qrels judge (a query whose judgments are all non-relevant scores 0); queries of the run absent from the
    qrels are ignored; ``complete`` (trec_eval -c): every query the qrels judge, those the run lacks scoring 0.

    A judged document's rank is 1 + the run's documents of its query scoring higher + those scoring the same
    whose id sorts after its own: counted over its query's rows only, no sort of the run."""
    nq = len(e.queries)
    judged_q = np.zeros(nq, bool)
    judged_q[e.qrels_query] = True
    scored = judged_q.copy()
    if not complete:
        in_run = np.zeros(nq, bool)
        in_run[e.run_query] = True
        scored &= in_run
    codes = np.flatnonzero(scored)
    codes = codes[np.argsort(e.queries[codes], kind="stable")]  # report queries in id order
    index_of = np.full(nq, -1)
    index_of[codes] = np.arange(len(codes))
    keep = (e.grade > 0) & scored[e.qrels_query]
    jq, jd, grade = e.qrels_query[keep], e.qrels_doc[keep], e.grade[keep]
    in_scope = scored[e.run_query]
    rq, rd, rs = e.run_query, e.run_doc, e.score
    if not in_scope.all():
        rq, rd, rs = rq[in_scope], rd[in_scope], rs[in_scope]
    if not _contiguous(rq, nq):  # a run file lists each query's documents together; if not, group them
        by_query = np.argsort(rq, kind="stable")
        rq, rd, rs = rq[by_query], rd[by_query], rs[by_query]
    rank = _padded_ranks(rq, rd, rs, e.doc_order[rd], jq, jd, nq, len(e.docs))
    if rank is None:  # run depths too uneven to pad into one matrix: one broadcast per query instead
        by_query = np.argsort(rq, kind="stable")
        rq, rd, rs = rq[by_query], rd[by_query], rs[by_query]
        rank = _judged_ranks(rq, rd, rs, e.doc_order[rd], jq, jd)
    return list(e.queries[codes]), Judged(index_of[jq], grade, rank, len(codes), e.docs[jd])


def _contiguous(rq: np.ndarray, n_queries: int) -> bool:
    """Each query's rows in one block (not necessarily in query order)."""
    blocks = 1 + np.count_nonzero(rq[1:] != rq[:-1]) if len(rq) else 0
    return blocks == np.count_nonzero(np.bincount(rq, minlength=n_queries))


def _padded_ranks(rq, rd, rs, ro, jq, jd, n_queries: int, n_docs: int, chunk: int = 1 << 22) -> np.ndarray | None:
    """_judged_ranks without a loop over queries (rows grouped by query, in any query order) when the run fits
    a (queries x deepest list) matrix at most four times its size (a run file's lists mostly have one depth): each judged document is found in the run by
    one hash lookup, and its query's row of scores is compared with its own. None when it does not fit."""
    import pandas as pd
    rank = np.zeros(len(jq), dtype=np.int64)
    if not len(jq) or not len(rq):
        return rank
    starts = np.r_[0, np.flatnonzero(rq[1:] != rq[:-1]) + 1]
    lengths = np.diff(np.r_[starts, len(rq)])
    position = np.arange(len(rq)) - np.repeat(starts, lengths)
    depth = int(lengths.max())
    if n_queries * depth > 4 * len(rq) + 1024:
        return None
    width = np.int64(max(n_docs, 1))
    # Hash the judged pairs (few) and look every run row up among them: judged index of each run row, or -1.
    judged_of_row = pd.Index(jq.astype(np.int64) * width + jd).get_indexer(rq.astype(np.int64) * width + rd)
    rows = np.flatnonzero(judged_of_row >= 0)
    found, row = judged_of_row[rows], rows
    scores = np.full((n_queries, depth), -np.inf)
    order = np.full((n_queries, depth), -1, dtype=np.int64)
    flat = rq * depth + position
    scores.ravel()[flat], order.ravel()[flat] = rs, ro
    step = max(1, chunk // depth)
    for a in range(0, len(found), step):  # retrieved judged documents, about ``chunk`` comparisons at a time
        r = row[a:a + step]
        s, o = scores[rq[r]], order[rq[r]]
        own_s, own_o = rs[r][:, None], ro[r][:, None]
        rank[found[a:a + step]] = 1 + np.count_nonzero((s > own_s) | ((s == own_s) & (o > own_o)), axis=1)
    return rank


def _judged_ranks(rq, rd, rs, ro, jq, jd) -> np.ndarray:
    """Rank of each judged (query jq, document jd) in a run grouped by query (rq sorted; rd documents, rs scores,
    ro tie-break keys), 0 when not retrieved: per query, one broadcast of its judged documents against its
    retrieved ones finds each and counts the rows ahead of it (a higher score, or the same score and a later
    id). The run is never sorted by score."""
    rank = np.zeros(len(jq), dtype=np.int64)
    if not len(jq):
        return rank
    starts, ends = np.searchsorted(rq, jq, side="left"), np.searchsorted(rq, jq, side="right")
    by_query = np.argsort(jq, kind="stable")
    for group in np.split(by_query, np.flatnonzero(np.diff(jq[by_query])) + 1):
        a, b = starts[group[0]], ends[group[0]]
        if a == b:
            continue
        match = rd[a:b][None, :] == jd[group][:, None]
        hit = match.any(axis=1)
        s, o = rs[a:b], ro[a:b]
        at = match.argmax(axis=1)
        gs, go = s[at][:, None], o[at][:, None]
        ahead = np.count_nonzero((s > gs) | ((s == gs) & (o > go)), axis=1)
        rank[group] = np.where(hit, 1 + ahead, 0)
    return rank


def judge(qrels: Columns, run: Columns, complete: bool = False) -> tuple[list[str], Judged]:
    """judge_encoded of qrels and a run given as columns of ids."""
    return judge_encoded(encode(qrels, run), complete)


def score(qrels: Columns, run: Columns, metrics=DEFAULT_METRICS, complete: bool = False
          ) -> tuple[list[str], dict[str, np.ndarray]]:
    """(query ids, {metric: per-query values}) of a run; the mean of each array is the run's score."""
    queries, judged = judge(qrels, run, complete)
    return queries, per_query(judged, metrics)
