"""A TREC run file from any system (BM25 from anserini or pyserini, a hosted embedding API's ranking, ...) scored
against a benchmark's judgments and stored as a run: per-query relevant ranks, so deltas with intervals,
drill-down and the efficiency table treat it like a run made here (its size and parameters unknown unless given).

Scoring is trec_eval's (backend/retrieval/graded.py: documents by score, ties by id descending; the rank field
and the fields after the run tag are ignored), per language of the benchmark, over the benchmark's evaluation
queries: a query the run lacks scores 0 (trec_eval -c), so the run is compared with model runs on the same
queries. What does not fit is counted in one ``note:`` line each: queries that are not the benchmark's,
documents that are not in the query's language corpus (they take their ranks, as trec_eval lets them)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from backend.records import SCHEMA_VERSION, RunRecord, record_from_dict
from backend.retrieval import graded, graded_eval, trecfiles

PROTOCOL_NOTE = ("a TREC run file scored against the benchmark's judgments with trec_eval's definitions; "
                 "queries the run lacks score 0 (trec_eval -c)")


def score_run(run: graded.Columns, bench) -> tuple[dict, list[str]]:
    """(record fields: metrics, queries, relevant; notes) of a run against every language of a benchmark."""
    fields = {"metrics": [], "queries": [], "relevant": []}
    notes, known_queries = [], set()
    run_q, run_d = run.query.astype(str), run.doc.astype(str)
    for lang in bench.languages:
        queries = bench.queries(lang)
        qids = {q["id"] for q in queries}
        known_queries |= qids
        judgments = bench.qrels(lang)
        qrels = graded.Columns.from_dict({q: judgments[q] for q in sorted(qids)}, np.int64)
        mine = np.isin(run_q, list(qids))
        ids, judged = graded.judge(qrels, graded.Columns(run.query[mine], run.doc[mine], run.value[mine]),
                                   complete=True)
        missing = len(qids - set(run_q[mine]))
        if missing:
            notes.append(f"{lang}: {missing} of {len(qids)} benchmark queries are not in the run; they score 0")
        corpus = {d["id"] for d in bench.eval_corpus(lang)}
        foreign = int((~np.isin(run_d[mine], list(corpus))).sum())
        if foreign:
            notes.append(f"{lang}: {foreign} retrieved document(s) are not in the {lang} corpus of the benchmark; "
                         "they keep their ranks and count as not relevant")
        by_id = {q["id"]: q for q in queries}
        m, q, r = graded_eval.language_rows(lang, [by_id[i] for i in ids], judged.query, judged.grade, judged.rank,
                                            list(judged.doc))
        for key, rows in (("metrics", m), ("queries", q), ("relevant", r)):
            fields[key] += rows
    stray = sorted(set(run_q) - known_queries)
    if stray:
        notes.append(f"{len(stray)} run quer(ies) are not evaluation queries of the benchmark, ignored "
                     f"(e.g. {', '.join(stray[:3])})")
    return fields, notes


def import_run(path: Path, bench, run_id: str | None = None, name: str | None = None,
               disk_mb: float | None = None, params: int | None = None) -> RunRecord:
    """The run record of a TREC run file against a benchmark (notes in its provenance's import_notes)."""
    from backend.bench.sources import sha256_file
    path = Path(path)
    run = trecfiles.read_run(path)
    fields, notes = score_run(run, bench)
    sha = sha256_file(path)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", path.stem).strip("-").lower()[:60] or "run"
    tags = sorted({line.split()[5] for line in path.read_text(encoding="utf-8").splitlines() if line.split()})
    return record_from_dict({
        "schema_version": SCHEMA_VERSION, "run_id": run_id or f"trec--{slug}--{sha[:8]}", "kind": "external-retrieval",
        "name": name or f"{path.name} (TREC run, tag {', '.join(tags[:3])})", "benchmark": bench.id, "protocol": "full",
        "model": ", ".join(tags[:3]), "source": "imported", "disk_mb": disk_mb, "params": params, **fields,
        "provenance": {"format": "trec-run", "file": path.name, "sha256": sha, "run_tags": tags,
                       "protocol_note": PROTOCOL_NOTE, "size_basis": "given" if disk_mb is not None else "unknown",
                       "import_notes": [f"{path.name}: {n}" for n in notes] or None}})
