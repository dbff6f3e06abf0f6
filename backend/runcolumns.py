"""Validated runs in columns: what a tabular importer hands to staging without one Python object per metric.

A ``RunColumns`` holds the same content as a list of ``RunRecord`` (``records()`` makes them, equal field for
field, digest included): a table of runs (one row each, the record's scalar fields, provenance as JSON text and
the digest) and a table of metric rows in record order. The digest is ``RunRecord.digest()`` byte for byte, its JSON
text put together column by column (no record object, no per-metric dict), so a run imported in columns and the
same run imported as a record are the same run.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backend.records import SCHEMA_VERSION, RunRecord, _dumps

# The runs table's columns (scalar fields of a record, in RunRecord's order) and their Arrow types.
SCALARS: dict[str, pa.DataType] = {
    "run_id": pa.string(), "kind": pa.string(), "name": pa.string(), "status": pa.string(),
    "created_at": pa.string(), "finished_at": pa.string(), "benchmark": pa.string(), "protocol": pa.string(),
    "model": pa.string(), "params": pa.int64(), "trainable_params": pa.int64(), "disk_mb": pa.float64(),
    "peak_memory_mb": pa.float64(), "train_seconds": pa.float64(), "encode_throughput": pa.float64(),
    "tokens_per_s": pa.float64(), "source": pa.string(), "error": pa.string(),
}
DIGEST_RUNS = 5000  # runs whose JSON texts are made at once (about 15 MB at 36 metrics a run)
METRIC_SCHEMA = pa.schema([("run_id", pa.string()), ("language", pa.dictionary(pa.int32(), pa.string())),
                           ("metric", pa.dictionary(pa.int32(), pa.string())), ("value", pa.float64()),
                           ("n", pa.int64())])


@dataclass
class RunColumns:
    runs: pa.Table  # SCALARS + provenance (JSON text, keys sorted) + digest, one row per run
    metrics: pa.Table  # METRIC_SCHEMA, a run's rows together and in its record's order

    def __len__(self) -> int:
        return self.runs.num_rows

    @property
    def run_ids(self) -> list[str]:
        return self.runs.column("run_id").to_pylist()

    def records(self) -> list[RunRecord]:
        """The same runs as records (for a reader that wants objects: load_path, a run folder, the trash)."""
        by_run: dict[str, list[dict]] = {}
        for row in self.metrics.to_pylist():
            by_run.setdefault(row.pop("run_id"), []).append(row)
        out = []
        for run in self.runs.to_pylist():
            digest, provenance = run.pop("digest"), json.loads(run.pop("provenance"))
            record = RunRecord(**{k: v for k, v in run.items() if v is not None},
                               metrics=by_run.get(run["run_id"], []), provenance=provenance)
            record._digest = digest
            out.append(record)
        return out

    def where(self, run_ids) -> "RunColumns":
        """Only the runs of ``run_ids`` (same order)."""
        keep = pa.array(sorted(set(run_ids)), pa.string())
        return RunColumns(self.runs.filter(pc.is_in(self.runs.column("run_id"), keep)),
                          self.metrics.filter(pc.is_in(self.metrics.column("run_id"), keep)))


def build(runs: dict[str, list], provenance: list[str], metrics: pa.Table, counts) -> RunColumns:
    """RunColumns from validated values: ``runs`` maps each of SCALARS to one value per run (None: absent),
    ``provenance`` the JSON text per run, ``metrics`` the metric rows run by run, ``counts`` rows per run."""
    n = len(runs["run_id"])
    runs = {k: runs.get(k) or [None] * n for k in SCALARS}
    table = pa.table({k: pa.array(runs[k], t) for k, t in SCALARS.items()})
    table = table.append_column("provenance", pa.array(provenance, pa.string()))
    digests, ends = [], np.cumsum(counts)
    for first in range(0, n, DIGEST_RUNS):  # slices of runs: the JSON texts of a few thousand runs at a time
        last = min(n, first + DIGEST_RUNS)
        start = int(ends[first - 1]) if first else 0
        digests += _digests(table.slice(first, last - first), metrics.slice(start, int(ends[last - 1]) - start)
                            if last else metrics, counts[first:last])
    return RunColumns(table.append_column("digest", pa.array(digests, pa.string())), metrics)


def _digests(table: pa.Table, metrics: pa.Table, counts) -> list[str]:
    """RunRecord.digest() of each run: the record's JSON (keys sorted, as its encoder writes it), put together
    column by column; only the hash is taken per run."""
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    listed = pc.binary_join(pa.ListArray.from_arrays(offsets, _metric_fragments(metrics)), ", ")
    provenance = _mapped(table.column("provenance"), lambda text: _dumps(json.loads(text)))
    constant = {"schema_version": str(SCHEMA_VERSION), "config": "{}", "queries": "[]", "problems": "[]"}
    before, after = [], []  # the record's text around its metric list: hashed in three parts, never joined
    parts = before
    for i, key in enumerate(sorted([*SCALARS, *constant, "metrics", "provenance"])):
        label = ("{" if i == 0 else ", ") + _dumps(key) + ": "
        if key == "metrics":
            before.append(label + "[")
            parts = after
            after.append("]")
        elif key in constant:
            parts.append(label + constant[key])
        else:
            parts += [label, provenance if key == "provenance" else _json_column(table.column(key))]
    heads = pc.cast(pc.binary_join_element_wise(*before, ""), pa.binary()).to_pylist()
    tails = pc.cast(pc.binary_join_element_wise(*after, "}", ""), pa.binary()).to_pylist()
    out = []
    for head, body, tail in zip(heads, pc.cast(listed, pa.binary()).to_pylist(), tails):
        digest = hashlib.sha256(head)
        digest.update(body)
        digest.update(tail)
        out.append(digest.hexdigest())
    return out


def _metric_fragments(metrics: pa.Table) -> pa.Array:
    """Each metric row as the record's encoder writes it: {"language", "metric", "n", "value"} (keys sorted);
    the part before the value comes from a small table of (language, metric) pairs."""
    language, metric, n = (_dictionary(metrics.column(c)) for c in ("language", "metric", "n"))
    no_n = n.null_count == len(n)
    pairs = pa.array([f'{{"language": {_dumps(lang)}, "metric": {_dumps(name)}, "n": ' + ('null, "value": ' if no_n else "")
                      for lang in language.dictionary.to_pylist() for name in metric.dictionary.to_pylist()], pa.string())
    which = (language.indices.to_numpy(zero_copy_only=False).astype(np.int64) * len(metric.dictionary)
             + metric.indices.to_numpy(zero_copy_only=False))
    head = pairs.take(pa.array(which))
    value = float_reprs(_chunk(metrics.column("value")))
    if no_n:
        return pc.binary_join_element_wise(head, value, "}", "")
    return pc.binary_join_element_wise(head, pc.fill_null(pc.cast(_chunk(metrics.column("n")), pa.string()), "null"),
                                       ', "value": ', value, "}", "")


def _chunk(column):
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _dictionary(column) -> pa.DictionaryArray:
    column = _chunk(column)
    return column if pa.types.is_dictionary(column.type) else column.dictionary_encode()


def _json_column(column) -> pa.Array:
    """Each value as the record's encoder writes it (null: ``null``)."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_string(column.type):
        text = _mapped(column, _dumps)
    elif pa.types.is_integer(column.type):
        text = pc.cast(column, pa.string())
    else:
        text = float_reprs(column)
    return pc.fill_null(text, "null")


def float_reprs(values: pa.Array) -> pa.Array:
    """``repr`` of each float (what json writes), made by Arrow where its shortest digits print the same
    (positional, 1e-4 <= v < 1e15; a whole number gains ".0") and by Python for the rest."""
    text = pc.cast(values, pa.string())
    positional = pc.and_(pc.or_(pc.equal(values, 0), pc.and_(pc.greater_equal(values, 1e-4), pc.less(values, 1e15))),
                         pc.invert(pc.match_substring(text, "e")))
    whole = pc.and_(positional, pc.invert(pc.match_substring(text, ".")))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    other = pc.and_(pc.invert(positional), pc.is_valid(values)).to_numpy(zero_copy_only=False)
    if other.any():
        odd = values.filter(pa.array(other)).to_pylist()
        text = pc.replace_with_mask(text, pa.array(other), pa.array([float.__repr__(v) for v in odd], pa.string()))
    return text


def _mapped(values: pa.Array, convert) -> pa.Array:
    """``convert`` applied once per distinct value (nulls stay null)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    encoded = values.dictionary_encode()
    return pc.take(pa.array([convert(v) for v in encoded.dictionary.to_pylist()], pa.string()), encoded.indices)
