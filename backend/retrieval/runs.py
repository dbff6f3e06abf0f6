"""Retrieval run kinds: teacher-eval / eval (a model as is) and m2v-distill (Model2Vec distillation, then eval).

Each evaluation yields one run per protocol: ``<id>`` (full) and ``<id>--csn-1000``.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.bench.miner import check_language
from backend.device import check_name, name_of
from backend.options import check_choices, choice, device_field
from backend.progress import Meter
from backend.retrieval import metrics
from backend.retrieval.models import TEACHER_NAMES, TEACHERS, resolve
from backend.sizes import folder_mb
from backend.timestamps import now


@dataclass
class EvalConfig:
    model: str = field(default="minilm", metadata={"help": "teacher short name (minilm, mpnet) or a model folder"})
    bench: str = field(default="", metadata={"help": "benchmark id or folder (default: the newest built)"})
    languages: str = field(default="", metadata={"help": "comma-separated languages (default: all of the benchmark)"})
    max_queries: int = field(default=0, metadata={"help": "evaluate only the first N test pairs per language (0: all)"})
    batch_size: int = field(default=32, metadata={"help": "encoding batch size"})
    seed: int = field(default=0, metadata={"help": "seed: csn-1000 distractor sampling; data order and init of training kinds"})
    device: str = device_field()

    def __post_init__(self):
        check_choices(self)
        self.device = check_name(self.device)
        for lang in self.language_list():
            check_language(lang)
        for name in ("max_queries", "batch_size", "seed"):
            if int(getattr(self, name)) < 0 or (name == "batch_size" and self.batch_size < 1):
                raise ValueError(f"{name} must be a positive whole number")

    def language_list(self) -> list[str]:
        """The chosen languages ([] means all of the benchmark)."""
        return [lang.strip() for lang in self.languages.split(",") if lang.strip()]

    def label(self) -> str:
        path = Path(self.model)
        # A run's saved model lives in runs/<run_id>/model: name it after the run, not "model".
        return TEACHER_NAMES.get(self.model) or (path.parent.name if path.name == "model" else path.name)


@dataclass
class TeacherEvalConfig(EvalConfig):
    model: str = choice(TEACHERS, "packaged teacher (evaluate any other model folder with: python -m backend eval PATH)")


@dataclass
class DistillConfig(EvalConfig):
    pca_dims: int = field(default=256, metadata={"help": "PCA dimensions of the static embeddings (0: no PCA)"})
    vocabulary_file: str = field(default="", metadata={"help": "extra vocabulary, one token per line"})

    def label(self) -> str:
        return f"{super().label()} PCA {self.pca_dims}"


def run_eval(config: EvalConfig, ctx) -> list:
    from backend.retrieval.encoders import load_encoder
    ctx.progress(0.0, f"loading {config.model}")
    encoder = load_encoder(config.model, ctx.settings.cache_dir, ctx.device)
    # ``model`` stays loadable (a teacher's short name or a folder): live search reopens it from there.
    model_ref = config.model if config.model in TEACHERS else str(encoder.path)
    return evaluate(encoder, config, ctx, model=model_ref, disk_mb=folder_mb(encoder.path), name=config.label(),
                    teacher=TEACHERS.get(config.model))


def run_m2v_distill(config: DistillConfig, ctx) -> list:
    from model2vec.distill import distill

    from backend.retrieval.encoders import load_encoder
    teacher = resolve(config.model, ctx.settings.cache_dir)
    vocabulary = None
    if config.vocabulary_file:
        vocabulary = [w.strip() for w in Path(config.vocabulary_file).read_text().splitlines() if w.strip()]
    ctx.progress(0.0, f"distilling {config.model} (pca {config.pca_dims})")
    start = time.perf_counter()
    # model2vec picks a GPU by itself when given no device: the run's device, named
    # Most of the run: the teacher encodes ~30k tokens; the static student's evaluation then takes seconds.
    with distill_progress(ctx.progress, (0.0, 0.8)):
        model = distill(model_name=str(teacher), pca_dims=config.pca_dims or None, vocabulary=vocabulary,
                        device=name_of(ctx.device))
    seconds = time.perf_counter() - start
    model_dir = ctx.dir / "model"
    model.save_pretrained(str(model_dir))
    encoder = load_encoder(str(model_dir), ctx.settings.cache_dir, ctx.device)
    return evaluate(encoder, config, ctx, share=(0.8, 1.0), model=str(model_dir), disk_mb=folder_mb(model_dir),
                    train_seconds=seconds,
                    name=f"Model2Vec distill of {config.label()}", teacher=TEACHERS.get(config.model, str(teacher)))


@contextmanager
def distill_progress(report, span: tuple[float, float]):
    """model2vec counts the vocabulary tokens it encodes on a tqdm bar (off here: TQDM_DISABLE); for the length
    of the block that bar is a Meter of the run's progress, so the distillation is not a silent empty bar."""
    from model2vec.distill import inference
    original = getattr(inference, "tqdm", None)

    class Bar:
        def __init__(self, iterable=None, total=None, **_):
            self.iterable = iterable
            total = total if total is not None else len(iterable) if hasattr(iterable, "__len__") else None
            self.meter = Meter(report, "distilling: the teacher encodes its vocabulary", total, "tokens", span)

        def __iter__(self):
            for item in self.iterable:
                yield item
                self.meter.advance(1)

        def update(self, n=1):
            self.meter.advance(n)

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False
    if original is not None:  # another model2vec layout: no progress, but the distillation still runs
        inference.tqdm = Bar
    try:
        yield
    finally:
        if original is not None:
            inference.tqdm = original


def evaluate(encoder, config: EvalConfig, ctx, name: str, teacher: str | None = None,
             share: tuple[float, float] = (0.0, 1.0), made: dict | None = None, **fields) -> list:
    """Encode each language's test pairs, rank under both protocols, return one record per protocol.

    ``encoder``: one Encoder, or {language: Encoder} when each language has its own (per-language adapters).
    ``share``: the part of the run's progress bar evaluation fills (training runs fill the first part).
    ``made``: more of how the model was made, for the provenance (its training corpus, what its size counts)."""
    bench = ctx.benchmark(config.bench)
    languages = config.language_list() or bench.languages
    if bench.graded:
        return [_evaluate_graded(encoder, config, ctx, bench, languages, name, teacher, share, made, fields)]
    ranks = {p: {} for p in metrics.PROTOCOLS}
    docs_seconds, n_docs, distractors = 0.0, 0, {}
    encoders = encoder if isinstance(encoder, dict) else dict.fromkeys(languages, encoder)  # per-language adapters
    for i, lang in enumerate(languages):
        encoder = encoders[lang]
        test = bench.pairs(lang, "test")[: config.max_queries or None]
        extra = bench.pairs(lang, "train")[: len(test)]  # widens the csn-1000 distractor pool beyond the test set
        step = (share[1] - share[0]) / len(languages)
        meter = Meter(ctx.progress, f"{lang} ({i + 1}/{len(languages)}): encoding", 2 * len(test) + len(extra),
                      "texts", (share[0] + step * i, share[0] + step * (i + 1)))
        start = time.perf_counter()
        docs = encoder.encode([p["code"] for p in test], config.batch_size, meter.advance)
        docs_seconds += time.perf_counter() - start
        n_docs += len(test)
        queries = encoder.encode([p["query"] for p in test], config.batch_size, meter.advance)
        pool = np.vstack([docs, encoder.encode([p["code"] for p in extra], config.batch_size, meter.advance)]) \
            if extra else docs
        ids = [p["id"] for p in test]
        ranks["full"][lang] = (metrics.ranks_full(queries, docs, ids), ids)
        csn, distractors[lang] = metrics.ranks_sampled(queries, docs, pool, seed=config.seed,
                                                       pool_ids=ids + [p["id"] for p in extra])
        ranks["csn-1000"][lang] = (csn, ids)
    ctx.progress(1.0, "done")
    common = {"name": name, "benchmark": bench.id, "params": encoder.params,
              "encode_throughput": n_docs / docs_seconds if docs_seconds else None, "status": "finished",
              "finished_at": now(), **fields}
    records = []
    # A subset of the test queries is a different evaluation: the protocol says so, and comparisons follow.
    subset = f":first-{config.max_queries}" if config.max_queries else ""
    for protocol in metrics.PROTOCOLS:
        run_id = ctx.run_id if protocol == "full" else f"{ctx.run_id}--{protocol}"
        provenance = {"encoder": encoder.name, "encode_device": encoder.device,
                      "protocol_note": _note(protocol, distractors),
                      **({"teacher": teacher} if teacher else {}), **(made or {})}
        records.append(ctx.record(run_id=run_id, protocol=protocol + subset, provenance=provenance,
                                  metrics=_metric_rows(ranks[protocol]), queries=_query_rows(ranks[protocol]),
                                  **common))
    return records


def _evaluate_graded(encoder, config: EvalConfig, ctx, bench, languages, name, teacher, share, made, fields):
    """A graded (imported BEIR-style) benchmark: one run, the ``full`` protocol, trec_eval's graded metrics and
    the rank of every judged relevant document stored (csn-1000 samples distractors around one gold: not
    defined with several relevant documents)."""
    from backend.retrieval import graded_eval
    encoders = encoder if isinstance(encoder, dict) else dict.fromkeys(languages, encoder)
    made = graded_eval.evaluate(encoders, config, ctx, bench, languages, share)
    ctx.progress(1.0, "done")
    one = next(iter(encoders.values()))
    subset = f":first-{config.max_queries}" if config.max_queries else ""
    provenance = {"encoder": one.name, "protocol_note": graded_eval.PROTOCOL_NOTE,
                  **({"teacher": teacher} if teacher else {}), **(made or {})}
    return ctx.record(run_id=ctx.run_id, protocol="full" + subset, provenance=provenance, name=name,
                      benchmark=bench.id, params=one.params, status="finished", finished_at=now(), **made, **fields)


def _note(protocol: str, distractors: dict) -> str:
    if protocol == "full":
        return "each query against every test document of its language"
    return "each query against its gold + seeded distractors from test and train documents: " + ", ".join(
        f"{lang} {n}" for lang, n in distractors.items())


def _metric_rows(by_language: dict) -> list[dict]:
    rows = []
    for lang, (ranks, _) in by_language.items():
        rows.extend({"language": lang, "metric": m, "value": v, "n": len(ranks)}
                    for m, v in metrics.metrics_from_ranks(ranks).items())
    return rows


def _query_rows(by_language: dict) -> list[dict]:
    return [{"language": lang, "query_id": qid, "gold_rank": int(r)}
            for lang, (ranks, ids) in by_language.items() for r, qid in zip(ranks, ids)]
