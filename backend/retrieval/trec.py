"""TREC files (qrels and run) scored with our metric code: what ``python -m backend metrics`` writes, to check our
numbers against pytrec_eval or ranx on anyone's data."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backend.retrieval.metrics import score_trec


def read_trec(path, fields: int, what: str) -> dict[str, dict[str, str]]:
    """query id -> {document id: value} of a whitespace-separated TREC file with ``fields`` fields a line."""
    out: dict[str, dict[str, str]] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != fields:
            raise ValueError(f"{path}: line {n} has {len(parts)} fields; a TREC {what} line has {fields}")
        qid, docid, value = parts[0], parts[2], parts[3] if fields == 4 else parts[4]
        out.setdefault(qid, {})[docid] = value
    return out


def score_files(qrels_path, run_path) -> tuple[pd.DataFrame, dict[str, float], int]:
    """(rows query_id, metric, value with the means under query_id 'all'; the means; the number of queries)."""
    qrels = read_trec(qrels_path, 4, "qrels (qid iter docid relevance)")
    run = read_trec(run_path, 6, "run (qid Q0 docid rank score tag)")
    per_query, mean = score_trec(
        {q: {d: int(float(v)) for d, v in docs.items()} for q, docs in qrels.items()},
        {q: {d: float(v) for d, v in docs.items()} for q, docs in run.items()})
    rows = [(q, k, v) for q, m in per_query.items() for k, v in m.items()] + [("all", k, v) for k, v in mean.items()]
    return pd.DataFrame(rows, columns=["query_id", "metric", "value"]), mean, len(per_query)
