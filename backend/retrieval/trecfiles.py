"""TREC qrels and run files read as trec_eval reads them, into columns (backend.retrieval.graded.Columns).

- qrels: ``query-id iteration doc-id relevance``, whitespace-separated, relevance a whole number (``1.0`` is
  read as 1); several relevant documents per query and judged non-relevant rows (0 or below) are normal;
- run: ``query-id Q0 doc-id rank score run-tag``; fields after the run tag are ignored (as trec_eval ignores
  them), and so is the rank field: documents are ordered by score (ties by document id, descending).
A line with too few fields, a score or relevance that is not a number, or a (query, document) pair listed
twice is refused with its line number (trec_eval refuses duplicates too)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from backend.retrieval.graded import Columns


def read_qrels(path) -> Columns:
    return _read(path, "qrels", (0, 2, 3), exact=4,
                 layout="query-id iteration doc-id relevance (e.g. '1 0 doc7 2')", grade=True)


def read_run(path) -> Columns:
    return _read(path, "run", (0, 2, 4), exact=None,
                 layout="query-id Q0 doc-id rank score run-tag (e.g. '1 Q0 doc7 1 12.5 bm25')", grade=False)


def _read(path, what: str, fields: tuple[int, int, int], exact: int | None, layout: str, grade: bool) -> Columns:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start}); save the {what} file as UTF-8") from None
    need = exact or 6  # a run line has at least query, Q0, doc, rank, score and tag
    queries, docs, values = [], [], []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < need or (exact is not None and len(parts) != exact):
            raise ValueError(f"{path}: line {n} has {len(parts)} fields; a TREC {what} line is {layout}")
        raw = parts[fields[2]]
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{path}: line {n}: {'relevance' if grade else 'score'} {raw!r} is not a number; "
                             f"a TREC {what} line is {layout}") from None
        if not math.isfinite(value) or (grade and value != int(value)):
            raise ValueError(f"{path}: line {n}: {'relevance' if grade else 'score'} {raw!r} must be a finite "
                             f"{'whole ' if grade else ''}number")
        queries.append(parts[fields[0]])
        docs.append(parts[fields[1]])
        values.append(value)
    if not queries:
        raise ValueError(f"{path}: no {what} lines; a TREC {what} line is {layout}")
    out = Columns(np.array(queries, dtype=object), np.array(docs, dtype=object),
                  np.array(values, dtype=np.int64 if grade else np.float64))
    _check_unique(out, path, what)
    return out


def _check_unique(columns: Columns, path: Path, what: str):
    keys = np.char.add(np.char.add(columns.query.astype(str), "\x00"), columns.doc.astype(str))
    unique, first, counts = np.unique(keys, return_index=True, return_counts=True)
    if (counts > 1).any():
        i = int(first[np.argmax(counts > 1)])
        raise ValueError(f"{path}: query {columns.query[i]} lists document {columns.doc[i]} {counts.max()} times; "
                         f"a {what} file lists each (query, document) once (trec_eval refuses duplicates)")
