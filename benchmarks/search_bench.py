"""Live search at 100,000 documents: p50/p95 latency per query end to end (encode + search), for a Model2Vec
student and its MiniLM teacher side by side, against a plain exact FAISS flat search of the same embeddings
measured in the same run, and recall@10 of the approximate (HNSW) index against exact search.

Corpus: the newest built benchmark's code documents (all languages, test + train), repeated to 100,000.
The student encodes all distinct documents; each repeat of a vector is moved slightly (Gaussian noise of
norm ~0.05, renormalized: a near-duplicate, as copied code is) so the HNSW graph is not built over identical
points. The teacher (about 30 docs/s here) encodes 2,000 of them; its index repeats those embeddings, which
keeps the search cost (size, dimension) real. Recall is tie-aware. Also printed: the HNSW build time, the
process's peak memory, and the exact gold rank (all documents scored) the page shows for a benchmark query.
Usage: python benchmarks/search_bench.py [--docs 100000] [--queries 200] [--student MODEL_DIR] [--no-teacher]
(1M documents: --docs 1000000 --no-teacher)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentiles(ms: list[float]) -> str:
    return f"p50 {np.percentile(ms, 50):6.2f} ms  p95 {np.percentile(ms, 95):6.2f} ms"


def side(label, encoder, emb, queries, corpus, real_embeddings=True):
    """End-to-end latency through the dashboard's search() on flat and HNSW, and the plain FAISS peer."""
    import faiss

    from backend.retrieval import search
    start = time.perf_counter()
    approx, kind, recall = search._make_index(emb, approx_threshold=0)
    print(f"{label:18} HNSW index over {len(emb):,} vectors built in {time.perf_counter() - start:.1f} s")
    flat = faiss.IndexFlatIP(emb.shape[1])
    flat.add(emb)
    q_emb = search.normalize(encoder.encode(queries[:8]))  # warm-up
    for name, index in (("exact flat", flat), ("HNSW", approx)):
        idx = search.SearchIndex("flat" if index is flat else kind, index, len(emb), recall, False)
        times = []
        for q in queries:
            start = time.perf_counter()
            search.search(encoder, idx, corpus, q, 10)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{label:18} dashboard search(), {name:10}: {percentiles(times)}")
    q_emb = search.normalize(encoder.encode(queries))
    peer = []
    for q in q_emb:
        start = time.perf_counter()
        flat.search(q[None, :], 10)
        peer.append((time.perf_counter() - start) * 1000)
    print(f"{label:18} peer: plain faiss IndexFlatIP.search only (no encode): {percentiles(peer)}")
    idx = search.SearchIndex(kind, approx, len(emb), recall, False)
    ranks = []
    for q, text in zip(q_emb[:50], queries):
        result = search.SearchResult([], 0, 0, q[None, :])
        start = time.perf_counter()
        search.gold_rank(idx, corpus, result, corpus.docs[0]["id"])
        ranks.append((time.perf_counter() - start) * 1000)
    print(f"{label:18} exact gold rank over all {len(emb):,} documents (page's benchmark query): {percentiles(ranks)}")
    if not real_embeddings:  # 50 identical copies of each vector make a degenerate HNSW graph
        print(f"{label:18} HNSW recall: not measured (repeated embeddings); see the student's line")
        return
    print(f"{label:18} HNSW recall@10 vs exact on {len(queries)} real queries: "
          f"{search.recall_at_10(approx, flat, q_emb):.3f} (at build, {recall:.3f} on corpus samples)")


def near_duplicates(emb: np.ndarray, n: int) -> np.ndarray:
    """``n`` vectors: ``emb``, then copies of it moved by small noise (float32, normalized)."""
    from backend.retrieval.metrics import normalize
    out = np.empty((n, emb.shape[1]), dtype=np.float32)
    rng = np.random.default_rng(1)
    for start in range(0, n, len(emb)):
        part = emb[:min(len(emb), n - start)]
        noise = rng.standard_normal(part.shape).astype(np.float32) * (0.05 / np.sqrt(emb.shape[1]))
        out[start:start + len(part)] = part if start == 0 else normalize(part + noise)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--student", default=None, help="Model2Vec folder (default: distil MiniLM here, ~20 s)")
    ap.add_argument("--no-teacher", action="store_true", help="skip the MiniLM side (its 2,000 vectors repeated)")
    args = ap.parse_args()
    from backend.bench import dataset
    from backend.config import settings
    from backend.retrieval import search
    from backend.retrieval.encoders import load_encoder
    bench = dataset.load(None, settings().bench_dir)
    base = search.corpus_from_benchmark(bench)
    docs = [base.docs[i % len(base.docs)] for i in range(args.docs)]
    corpus = search.Corpus("bench", f"{bench.id} x{args.docs / len(base.docs):.1f}", docs)
    rng = np.random.default_rng(0)
    queries = [base.docs[i]["query"] for i in rng.choice(len(base.docs), args.queries, replace=False)]
    print(f"corpus: {len(docs):,} documents ({len(base.docs):,} distinct, {bench.id}); {len(queries)} queries")

    student_dir = args.student
    if student_dir is None:
        from model2vec.distill import distill

        from backend.retrieval.models import resolve
        student_dir = str(Path(settings().cache_dir) / "bench-m2v-minilm")
        if not Path(student_dir, "config.json").is_file():
            distill(model_name=str(resolve("minilm", settings().cache_dir)), pca_dims=256).save_pretrained(student_dir)
    student = load_encoder(student_dir, settings().cache_dir)
    start = time.perf_counter()
    emb = search.normalize(student.encode([d["code"] for d in base.docs], 1024))
    print(f"student encoded {len(base.docs):,} documents in {time.perf_counter() - start:.1f} s")
    side("Model2Vec student", student, near_duplicates(emb, args.docs), queries, corpus)
    import resource
    print(f"peak memory of this process so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    if args.no_teacher:
        return

    teacher = load_encoder("minilm", settings().cache_dir)
    sample = rng.choice(len(base.docs), 2000, replace=False)
    t_emb = search.normalize(teacher.encode([base.docs[i]["code"] for i in sample], 32))
    side("MiniLM teacher", teacher, t_emb[np.arange(args.docs) % len(t_emb)], queries, corpus, real_embeddings=False)


if __name__ == "__main__":
    main()
