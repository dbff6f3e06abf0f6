"""The lexical floor: a BM25 run kind on the ``bm25s`` package, on any benchmark (mined or imported).

Per language, the documents the ``full`` protocol ranks are tokenized (bm25s: lowercased words of 2+ word
characters, English stop words unless ``--stopwords none``) and indexed; every query scores every document
(``BM25.get_scores``), and each relevant document's rank is taken with the evaluation's tie rule (score
descending, ties by document id descending): BM25 gives many exact ties, and they are broken as for every
other run. A mined benchmark is scored from the gold ranks as model runs are (the same metrics), an imported
one from the graded judgments. The run's disk MB is the size of its saved indexes (``runs/<id>/index/``)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from backend.bench.miner import check_language
from backend.options import choice
from backend.timestamps import now
from backend.sizes import folder_mb

METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")


@dataclass
class Bm25Config:
    bench: str = field(default="", metadata={"help": "benchmark id or folder (default: the newest built)"})
    languages: str = field(default="", metadata={"help": "comma-separated languages (default: all of the benchmark)"})
    max_queries: int = field(default=0, metadata={"help": "evaluate only the first N queries per language (0: all)"})
    k1: float = field(default=1.5, metadata={"help": "BM25 term-frequency saturation k1"})
    b: float = field(default=0.75, metadata={"help": "BM25 length normalisation b"})
    method: str = choice(METHODS, "BM25 variant (bm25s; lucene is Lucene's, as anserini and pyserini)")
    stopwords: str = choice(("en", "none"), "stop words removed before indexing: English (bm25s's list) or none")

    def __post_init__(self):
        for lang in self.language_list():
            check_language(lang)
        if self.max_queries < 0 or self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError("max_queries and k1 must be >= 0, b between 0 and 1")

    def language_list(self) -> list[str]:
        return [lang.strip() for lang in self.languages.split(",") if lang.strip()]

    def label(self) -> str:
        return f"bm25s {self.method} k1 {self.k1:g} b {self.b:g}"


def _scores(retriever, tokens: list[str], n_docs: int) -> np.ndarray:
    """BM25 scores of every document; a query left with no word (all stop words) scores 0 everywhere, as
    bm25s's own retrieve scores it (get_scores refuses an empty query)."""
    return retriever.get_scores(tokens).astype(np.float64) if tokens else np.zeros(n_docs)


def run_bm25(config: Bm25Config, ctx) -> list:
    import bm25s

    from backend.retrieval import graded_eval, metrics
    bench = ctx.benchmark(config.bench)
    languages = config.language_list() or bench.languages
    stopwords = "en" if config.stopwords == "en" else None
    fields = {"metrics": [], "queries": [], "relevant": []}
    index_seconds, n_docs = 0.0, 0
    for i, lang in enumerate(languages):
        ctx.progress(i / len(languages), f"{lang} ({i + 1}/{len(languages)}): indexing")
        docs = bench.eval_corpus(lang)
        queries = bench.queries(lang)[: config.max_queries or None]
        start = time.perf_counter()
        retriever = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        retriever.index(bm25s.tokenize([d["text"] for d in docs], stopwords=stopwords, show_progress=False),
                        show_progress=False)
        index_seconds += time.perf_counter() - start
        n_docs += len(docs)
        retriever.save(str(ctx.dir / "index" / lang), show_progress=False)
        ctx.progress((i + 0.5) / len(languages), f"{lang} ({i + 1}/{len(languages)}): ranking {len(queries)} queries")
        doc_ids = [d["id"] for d in docs]
        order = metrics.id_order(doc_ids)
        jq, jd, grade, judged_ids = graded_eval.judged_pairs(queries, bench.qrels(lang),
                                                             {d: j for j, d in enumerate(doc_ids)})
        rank = np.zeros(len(jq), dtype=np.int64)
        tokens = bm25s.tokenize([q["text"] for q in queries], stopwords=stopwords, show_progress=False,
                                return_ids=False)
        for start in range(0, len(queries), 64):
            block = np.stack([_scores(retriever, t, len(docs)) for t in tokens[start:start + 64]])
            pick = np.flatnonzero((jq >= start) & (jq < start + len(block)) & (jd >= 0))
            rank[pick] = graded_eval.ranks_in_rows(block, jq[pick] - start, jd[pick], order)
        if bench.graded:
            m, q, r = graded_eval.language_rows(lang, queries, jq, grade, rank, judged_ids)
            fields["relevant"] += r
        else:  # one gold per query, every document scored: the gold ranks, as model runs store them
            m = [{"language": lang, "metric": k, "value": v, "n": len(rank)}
                 for k, v in metrics.metrics_from_ranks(rank).items()]
            q = [{"language": lang, "query_id": queries[j]["id"], "gold_rank": int(r)} for j, r in zip(jq, rank)]
        fields["metrics"] += m
        fields["queries"] += q
    ctx.progress(1.0, "done")
    subset = f":first-{config.max_queries}" if config.max_queries else ""
    provenance = {"library": f"bm25s {bm25s.__version__}", "size_basis": "disk: the saved BM25 indexes",
                  "protocol_note": "each query against every document of its language (BM25 scores of all documents)"}
    return [ctx.record(run_id=ctx.run_id, name=f"BM25 ({config.label()})", benchmark=bench.id, protocol="full" + subset,
                       model=f"bm25s-{config.method}", disk_mb=folder_mb(ctx.dir / "index"), status="finished",
                       finished_at=now(), encode_throughput=n_docs / index_seconds if index_seconds else None,
                       provenance=provenance, **fields)]
