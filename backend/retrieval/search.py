"""Live code search: corpora, FAISS indexes cached per (model, corpus) under runs/.index/, one search function.

The page, the CLI (``python -m backend search``) and the tests all call ``search()``.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from backend.retrieval.metrics import gold_ranks, id_order, normalize
from backend.retrieval.models import TEACHERS, available

APPROX_THRESHOLD = 50_000  # above this many documents an HNSW index answers instead of the exact flat one
MAX_QUERY_CHARS = 2_000
RECALL_SAMPLE = 200
CALIBRATION_QUERIES = 200


class SearchError(ValueError):
    """Bad search input (empty query, unreadable corpus, missing model); the message says what to do."""


@dataclass
class Corpus:
    id: str
    label: str
    docs: list[dict]  # id, language, func_name, path, code (+ query for benchmark pairs)

    @cached_property
    def positions(self) -> dict[str, int]:
        return {d.get("id"): i for i, d in enumerate(self.docs)}

    @cached_property
    def id_order(self) -> np.ndarray:
        """The evaluation's tie-break key for each document (ids in byte order)."""
        return id_order([d.get("id", "") for d in self.docs])


@dataclass
class SearchIndex:
    kind: str  # "flat" (exact) or "hnsw" (approximate)
    faiss_index: object
    size: int
    recall_at_10: float | None  # of an approximate index against exact search, measured when built
    reused: bool  # loaded from runs/.index/ instead of encoding the corpus
    calibration: dict | None = None  # best scores of the corpus's benchmark queries (see ``calibrate``)

    @property
    def nbytes(self) -> int:
        """Memory the index holds: its vectors, and for HNSW its level-0 links."""
        links = self.faiss_index.hnsw.nb_neighbors(0) * 4 if self.kind == "hnsw" else 0  # 2M int32 at level 0
        return self.size * (self.faiss_index.d * 4 + links)

    def vectors(self) -> np.ndarray:
        """The stored (normalized) document vectors, without a copy: the index is their only home."""
        import faiss
        flat = faiss.downcast_index(self.faiss_index.storage) if self.kind == "hnsw" else self.faiss_index
        return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)


@dataclass
class Hit:
    rank: int
    score: float
    doc: dict


@dataclass
class SearchResult:
    hits: list[Hit]
    encode_ms: float
    search_ms: float
    query_vector: np.ndarray  # kept so the gold rank needs no second encoding of the query


def _corpus_id(docs: list[dict]) -> str:
    h = hashlib.sha256()
    for d in docs:
        h.update(d["code"].encode("utf-8", "replace") + b"\0")
    return h.hexdigest()[:16]


def open_corpus(folder: str, language: str | None, bench_ref: str | None, bench_dir: Path) -> Corpus:
    """A source folder mined on the fly (``language`` its language) or a benchmark's language (None: all)."""
    if folder:
        return corpus_from_dir(folder, language or "python")
    from backend.bench import dataset
    return corpus_from_benchmark(dataset.load(bench_ref, bench_dir), language)


def corpus_from_benchmark(bench, language: str | None = None) -> Corpus:
    """All documents of one language of a benchmark (mined: test and train; imported: its corpus), or of all
    its languages."""
    languages = [language] if language else bench.languages
    docs = [doc for lang in languages for doc in bench.documents(lang)]  # mined: test then train pairs
    return Corpus(_corpus_id(docs), f"{bench.id} · {language or 'all languages'}", docs)


def corpus_from_dir(path: str, language: str) -> Corpus:
    """Functions mined on the fly from a user's folder with the benchmark miner."""
    from backend.bench.miner import check_language, mine_source
    from backend.bench.sources import iter_files
    check_language(language)
    root = Path(path).expanduser()
    if not root.is_dir():
        raise SearchError(f"{root} is not a folder; give the root of a source tree")
    docs = []
    for rel, data in iter_files([root], language):
        if b"\0" in data[:4096]:
            continue  # a binary file with a source extension
        docs.extend({**pair, "id": f"{rel}:{pair['line']}"} for pair in mine_source(data, language, rel))
    if not docs:
        raise SearchError(f"no documented {language} functions found under {root}; pick the folder of a "
                          f"{language} project (files ending in the language's extensions, with doc comments)")
    return Corpus(_corpus_id(docs), f"{root.name} · {language}", docs)


LEXICAL_KINDS = ("bm25",)  # runs without an embedding model: not offered, and not a problem either
AS_IS_KINDS = ("teacher-eval", "eval")  # kinds whose config ``model`` is the model evaluated (else: the teacher)


def model_ref(run: dict) -> str:
    """The loadable model of a run: its saved folder or teacher name (older runs of a kind that evaluates a model
    as is: the config's model — a trained run's config names its teacher, which must never stand in for it)."""
    for ref in (run.get("model"), _config(run).get("model") if run.get("kind") in AS_IS_KINDS else None):
        if isinstance(ref, str) and ref and (ref in TEACHERS or Path(ref).exists()):  # NaN: a run without one
            return ref
    raise SearchError(f"run {run.get('run_id')} has no model files any more (looked for {run.get('model')!r}); "
                      "pick another run or launch it again")


def _config(run: dict) -> dict:
    config = run.get("config")
    try:
        return json.loads(config) if isinstance(config, str) else (config or {})
    except ValueError:
        return {}


def model_key(path: Path) -> str:
    """Changes when the model's files change, so a cached index never outlives its model."""
    path = Path(path)
    stat = [(p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in sorted(path.glob("*")) if p.is_file()]
    return hashlib.sha256(f"{path.resolve()}|{stat}".encode()).hexdigest()[:16]


def index_folder(cache_dir: Path, ref: str, corpus_id: str, model_cache: Path) -> Path:
    """Where the index of model ``ref`` over a corpus lives: cache_dir/<model files' key>--<corpus id>/."""
    from backend.retrieval.models import resolve
    return Path(cache_dir) / f"{model_key(resolve(ref, model_cache))}--{corpus_id}"


def open_saved_index(folder: Path) -> SearchIndex | None:
    """The complete index saved in ``folder`` (its meta.json is written last), or None."""
    meta_path = Path(folder) / "meta.json"
    if not meta_path.is_file():
        return None
    import faiss
    meta = json.loads(meta_path.read_text())
    return SearchIndex(meta["kind"], faiss.read_index(str(Path(folder) / "index.faiss")), meta["size"],
                       meta["recall_at_10"], True, meta.get("calibration"))


def load_or_build_index(encoder, ref: str, corpus: Corpus, cache_dir: Path, progress=None,
                        approx_threshold: int = APPROX_THRESHOLD) -> SearchIndex:
    """An index saved under cache_dir/<model>--<corpus>/ is reused; otherwise encode (``progress(done, total)``
    per batch of documents). The vectors are stored once, inside the index."""
    import faiss
    folder = Path(cache_dir) / f"{model_key(encoder.path)}--{corpus.id}"
    index_path, meta_path = folder / "index.faiss", folder / "meta.json"
    (folder / "embeddings.npy").unlink(missing_ok=True)  # a second copy of the vectors that older versions kept
    if not meta_path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        # Two sessions (or processes) asking for the same index: one encodes, the other waits and loads it.
        with open(folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not meta_path.is_file():
                emb = _encode_corpus(encoder, corpus, progress)
                index, kind, recall = _make_index(emb, approx_threshold)
                del emb  # the index holds its own copy
                calibration = calibrate(encoder, index, corpus)
                faiss.write_index(index, str(index_path))
                meta = {"kind": kind, "size": index.ntotal, "recall_at_10": recall, "corpus": corpus.label,
                        "model": ref, "calibration": calibration}
                meta_path.write_text(json.dumps(meta))  # written last: its presence means the folder is complete
                return SearchIndex(kind, index, index.ntotal, recall, False, calibration)
    return open_saved_index(folder)


def calibrate(encoder, index, corpus: Corpus, sample: int = CALIBRATION_QUERIES) -> dict | None:
    """What a real query's best score looks like with this model on this corpus: the best scores of up to
    ``sample`` of its benchmark queries (seeded), as percentiles. None for a corpus without queries (a folder).

    Cosine scores are not comparable across models (a static model scores lower than its teacher), so a fixed
    cut-off would flag everything of one model and nothing of another; a query whose best match scores below
    what 95 % of the benchmark's own queries reach finds nothing like itself here."""
    queries = [d["query"] for d in corpus.docs if d.get("query")]
    if not queries:
        return None
    picked = [queries[i] for i in sorted(np.random.default_rng(0).choice(len(queries), min(sample, len(queries)),
                                                                          replace=False))]
    best, _ = index.search(normalize(encoder.encode(picked)), 1)
    p5, p50 = np.percentile(best[:, 0], [5, 50])
    return {"queries": len(picked), "p5": round(float(p5), 4), "p50": round(float(p50), 4)}


def weak_best(best_score: float, calibration: dict | None) -> bool:
    """True when a query's best score is below the 5th percentile of the benchmark queries' best scores."""
    return bool(calibration) and best_score < calibration["p5"]


def _encode_corpus(encoder, corpus: Corpus, progress, batch: int = 32) -> np.ndarray:
    """Normalized vectors of the corpus; ``progress(done, total)`` at the start and every few batches (a
    transformer's first report then comes within seconds, not after hundreds of documents)."""
    texts, done = [d["code"] for d in corpus.docs], 0
    if progress is None:
        return normalize(encoder.encode(texts, batch))
    progress(0, len(texts))

    def step(n: int):
        nonlocal done
        done += n
        progress(done, len(texts))
    return normalize(encoder.encode(texts, batch, on_progress=step))


def _make_index(emb: np.ndarray, approx_threshold: int):
    import faiss
    flat = faiss.IndexFlatIP(emb.shape[1])
    flat.add(emb)
    if len(emb) <= approx_threshold:
        return flat, "flat", None
    # M=48, efSearch=256: measured at 100k real code embeddings, recall@10 0.997 at ~1 ms per query
    # (M=32 gave 0.976; see benchmarks/search_bench.py).
    hnsw = faiss.IndexHNSWFlat(emb.shape[1], 48, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    hnsw.add(emb)
    hnsw.hnsw.efSearch = 256
    sample = emb[np.random.default_rng(0).choice(len(emb), min(RECALL_SAMPLE, len(emb)), replace=False)]
    return hnsw, "hnsw", recall_at_10(hnsw, flat, sample)


def recall_at_10(approx, exact, queries: np.ndarray) -> float:
    """Share of the exact top-10 that the approximate index also returns. Tie-aware: a result scoring at
    least the exact 10th score counts, so identical documents (same code twice) are not misses."""
    a_scores, _ = approx.search(queries, 10)
    e_scores, _ = exact.search(queries, 10)
    threshold = e_scores[:, -1:] - 1e-6
    return float(np.mean(np.sum(a_scores >= threshold, axis=1) / 10))


def check_query(query: str) -> str:
    text = (query or "").strip()
    if not text:
        raise SearchError("type a query, e.g. 'read a file line by line'")
    if len(text) > MAX_QUERY_CHARS:
        raise SearchError(f"the query is {len(text):,} characters long; keep it under {MAX_QUERY_CHARS:,} "
                          "(describe what the code does in a sentence)")
    return text


def search(encoder, index: SearchIndex, corpus: Corpus, query: str, k: int = 10) -> SearchResult:
    """Top-k documents for a natural-language query, with the time spent encoding and searching."""
    text = check_query(query)
    start = time.perf_counter()
    q = normalize(encoder.encode([text]))
    encoded = time.perf_counter()
    scores, ids = index.faiss_index.search(q, min(k, index.size))
    done = time.perf_counter()
    hits = [Hit(rank + 1, float(s), corpus.docs[i]) for rank, (s, i) in enumerate(zip(scores[0], ids[0])) if i >= 0]
    return SearchResult(hits, (encoded - start) * 1000, (done - encoded) * 1000, q)


def jaccard(a: list, b: list) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def rank_biased_overlap(a: list, b: list, p: float = 0.9) -> float:
    """RBO of two top-k lists (Webber et al. 2010), extrapolated to the list depth; 1 = identical order."""
    depth = max(len(a), len(b))
    if depth == 0:
        return 1.0
    seen_a, seen_b, overlap, total = set(), set(), 0, 0.0
    for d in range(1, depth + 1):
        x, y = (a[d - 1] if d <= len(a) else None), (b[d - 1] if d <= len(b) else None)
        if x is not None and x == y:
            overlap += 1
        else:
            overlap += (x is not None and x in seen_b) + (y is not None and y in seen_a)
        seen_a.add(x)
        seen_b.add(y)
        total += p ** (d - 1) * overlap / d
    return float((1 - p) * total + p ** depth * overlap / depth)


def searchable_models(runs, model_cache: Path) -> tuple[dict[str, str], list[str]]:
    """(label -> model reference, problems): installed packaged teachers, then each run with a saved model;
    runs whose model files are gone are listed in ``problems`` with the reason."""
    options, problems = {}, []
    for name in TEACHERS:
        if available(name, model_cache):  # not installed: not offered
            options[f"teacher: {name}"] = name
    for run in runs.to_dict("records"):
        try:
            ref = model_ref(run)
        except SearchError as e:
            # Imported and published runs never had files here; a lexical run (BM25) has no encoder to search with.
            if run.get("source") == "local" and run.get("kind") not in LEXICAL_KINDS:
                problems.append(str(e))
            continue
        if ref not in options.values():
            options[f"{run['name']} · {run['run_id']}"] = ref
    return options, problems


def gold_rank(index: SearchIndex, corpus: Corpus, result: SearchResult, gold_id: str) -> int | None:
    """Exact rank of the gold document for the query of ``result`` among all documents (the approximate index
    is for the top k only), ties broken as the evaluation breaks them; None if the corpus lacks it."""
    gold = corpus.positions.get(gold_id)
    if gold is None:
        return None
    scores = index.vectors() @ result.query_vector[0]
    return int(gold_ranks(scores[None, :], np.array([gold]), corpus.id_order)[0])
