"""The wide CSV read in columns (pyarrow) and checked a column at a time.

Every check the row reader (``widecsv``) makes is made here on whole columns: cells stripped as Python strips
them, numbers in a strict grammar, finite and in each metric's range, languages, kinds, statuses and times
checked once per distinct value with the row reader's own functions, run columns that agree on every row of a
run, no (run, language) twice. A file these checks do not clear completely — a bad cell, quotes, a cell the row
reader reads more leniently, a large file whose runs are apart — raises ``NotColumnar`` before anything is
yielded: the row reader then reads it and names the first problem by line and column, as it always did.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from backend import runcolumns
from backend.kinds import get_kind
from backend.records import MAX_TEXT, RUN_FIELDS, RUN_ID_RE, _timestamp
from backend.vocab import METRICS, Language, RunStatus, Source, enum_value

# What str.strip() removes (every c with c.isspace(); a test checks the list is whole).
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
INT = r"^[0-9]{1,18}$"  # below 2**62, as records require
BLOCK_BYTES = 8 * 2**20  # a large file is read a block at a time: memory flat in the number of runs
WHOLE_BYTES = 128 * 2**20  # files up to this size are read at once (one pass)


class NotColumnar(Exception):
    """The file needs the row reader (which names its problem, or reads what only it accepts)."""


def read(path: Path, header: list[str], metric_of: dict[str, str], delimiter: str, together: bool,
         max_rows: int) -> Iterator[runcolumns.RunColumns]:
    """Batches of runs of a wide CSV whose header is ``header``; NotColumnar before the first batch if any check
    fails. ``together``: every run's rows must be consecutive (the row reader's rule for a large file). A file
    beyond WHOLE_BYTES is read by blocks twice: all checks first (nothing kept but the run ids), then the batches."""
    if len(set(metric_of.values())) < len(metric_of):
        raise NotColumnar("two columns name one metric")
    if not _unquoted(path):
        raise NotColumnar("quotes or NUL bytes: the row reader's to read")
    blocks = path.stat().st_size > WHOLE_BYTES
    shape = dict(header=header, metric_of=metric_of, delimiter=delimiter, together=together or blocks,
                 max_rows=max_rows)
    if blocks:
        seen: set[str] = set()
        for table in _tables(path, blocks, **shape):
            _Block(table, path.name, **shape).check(seen)
        del seen  # a million ids: gone before the batches are made
    for table in _tables(path, blocks, **shape):
        block = _Block(table, path.name, **shape)
        if shape["together"] and not block.in_order:
            raise NotColumnar("the rows of a run are not together")
        yield block.columns()
        pa.default_memory_pool().release_unused()  # a block's arrays are gone: memory flat over the blocks


def _tables(path: Path, blocks: bool, header, delimiter, **_) -> Iterator[pa.Table]:
    """The file's non-blank rows, stripped, in tables of whole runs (all of them at once unless ``blocks``)."""
    try:
        reader = pa_csv.open_csv(
            path, read_options=pa_csv.ReadOptions(skip_rows=1, column_names=header,
                                                  block_size=BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, quote_char=False),
            convert_options=pa_csv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                  strings_can_be_null=False))
        if not blocks:  # a small file: all of it at once, a run's rows anywhere
            tables = [_stripped(pa.Table.from_batches([batch])) for batch in reader]
            table = pa.concat_tables(tables) if tables else None
            if table is not None and table.num_rows:
                yield table
            return
        carry = None
        for batch in reader:  # blocks of whole runs: the last run may go on in the next block
            table = _stripped(pa.Table.from_batches([batch]))
            table = pa.concat_tables([carry, table]) if carry is not None else table
            if not table.num_rows:
                continue
            ids = table.column("run_id").combine_chunks()
            last = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(zero_copy_only=False)
            cut = int(np.flatnonzero(last)[-1]) + 1 if last.any() else 0
            table, carry = table.slice(0, cut), table.slice(cut)
            if table.num_rows:
                yield table
        if carry is not None and carry.num_rows:
            yield carry
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        raise NotColumnar(str(e)) from None


def _unquoted(path: Path) -> bool:
    """No quote (the row reader's quoting) and no NUL byte anywhere in the file: one scan of its bytes, not
    one search per cell."""
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK_BYTES):
            if b'"' in chunk or b"\x00" in chunk:
                return False
    return True


def _stripped(table: pa.Table) -> pa.Table:
    """Cells stripped as the row reader strips them; rows left empty dropped. Cells beyond the csv module's
    field limit are the row reader's to handle (and quotes and NUL bytes: ``_unquoted``)."""
    columns = {}
    for name in table.column_names:
        raw = table.column(name)
        if (pc.max(pc.binary_length(raw)).as_py() or 0) > csv.field_size_limit():
            raise NotColumnar(f"column {name} needs the row reader")
        columns[name] = pc.utf8_trim(raw, WHITESPACE)
    table = pa.table(columns)
    filled = None
    for column in columns.values():
        some = pc.greater(pc.binary_length(column), 0)
        filled = some if filled is None else pc.or_(filled, some)
    return table.filter(filled)


def _all(mask) -> bool:
    return bool(pc.all(mask).as_py() is not False)


def _mapped(values: pa.Array, convert) -> pa.Array:
    """``convert`` (the row reader's own check) applied once per distinct value; NotColumnar if it refuses."""
    encoded = (values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values).dictionary_encode()
    try:
        mapped = [convert(v) for v in encoded.dictionary.to_pylist()]
    except ValueError as e:
        raise NotColumnar(str(e)) from None
    return pc.take(pa.array(mapped, pa.string()), encoded.indices)


def _numbers(cells: pa.Array, integer: bool) -> pa.Array:
    """Non-empty cells as numbers (empty: null), or NotColumnar for anything outside the strict grammar."""
    filled = pc.greater(pc.binary_length(cells), 0)
    if integer and not _all(pc.or_(pc.invert(filled), pc.match_substring_regex(cells, INT))):
        raise NotColumnar("a number the row reader must read")
    # A float: Arrow's parser reads digits, a point and an exponent as Python's float() does and refuses the
    # rest (1_0, 0x10, ١, spaces) but a sign in front (refused here: "-0" is an int to the row reader) and
    # nan/inf (not finite, refused below). No regex per cell: it was a quarter of reading the file.
    if not integer and pc.any(pc.or_(pc.starts_with(cells, "-"), pc.starts_with(cells, "+"))).as_py():
        raise NotColumnar("a signed number the row reader must read")
    try:
        values = pc.cast(pc.if_else(filled, cells, pa.scalar(None, pa.string())), pa.int64() if integer else pa.float64())
    except pa.ArrowInvalid:
        raise NotColumnar("a number the row reader must read") from None
    if not integer and not _all(pc.is_finite(values)):
        raise NotColumnar("a number too large")
    return values


class _Block:
    """One table of whole runs, checked column by column."""

    def __init__(self, table: pa.Table, file_name: str, header, metric_of, delimiter, together, max_rows):
        self.table, self.file_name, self.metric_of, self.together = table, file_name, metric_of, together
        ids = table.column("run_id").combine_chunks()
        if not _all(pc.match_substring_regex(ids, RUN_ID_RE.pattern)):
            raise NotColumnar("a run_id the records refuse")
        encoded = ids.dictionary_encode()
        self.ids, self.codes = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
        self.n_runs = len(self.ids)
        # Codes follow first appearance: a run's first row is where its code exceeds every earlier one.
        codes = self.codes
        self.first = np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]]) if len(codes) else codes
        self.in_order = bool(np.all(codes[1:] >= codes[:-1]))
        self.first_of_row = pa.array(self.first[self.codes])
        if np.bincount(self.codes).max() > max_rows:
            raise NotColumnar("a run with too many rows")

    def check(self, seen: set[str]):
        ids = self.ids.to_pylist()
        changes = int(np.count_nonzero(self.codes[1:] != self.codes[:-1]))
        if changes + 1 != self.n_runs or not seen.isdisjoint(ids):
            raise NotColumnar("the rows of a run are not together")
        seen.update(ids)
        self._runs()
        self._metrics(build=False)

    def columns(self) -> runcolumns.RunColumns:
        runs, provenance = self._runs()
        metrics, counts = self._metrics()
        return runcolumns.build(runs, provenance, metrics, counts)

    def _run_value(self, name: str) -> pa.Array | None:
        """The value of a run column per run: every row of a run agrees (or leaves the cell empty)."""
        if name not in self.table.column_names:
            return None
        cells = self.table.column(name).combine_chunks()
        first = cells.take(self.first_of_row)
        if not _all(pc.or_(pc.equal(pc.binary_length(cells), 0), pc.equal(cells, first))):
            raise NotColumnar(f"run column {name} differs between rows of a run")
        return cells.take(pa.array(self.first))

    def _runs(self) -> tuple[dict[str, list], list[str]]:
        runs: dict[str, list] = {"run_id": self.ids.to_pylist()}
        kind = self._run_value("kind")
        if kind is None or not _all(pc.greater(pc.binary_length(kind), 0)):
            raise NotColumnar("a run without a kind")
        runs["kind"] = _mapped(kind, lambda k: get_kind(k) and k).to_pylist()
        for name in ("name", "benchmark", "protocol", "model", "status", "source", "created_at", "finished_at"):
            values = self._run_value(name)
            if values is None:
                continue
            if pc.max(pc.utf8_length(values)).as_py() > MAX_TEXT:
                raise NotColumnar(f"{name} too long")
            convert = {"status": lambda v: enum_value(RunStatus, v, "status"),
                       "source": lambda v: enum_value(Source, v, "source")}.get(name)
            if name.endswith("_at"):
                convert = lambda v, name=name: _timestamp(v, name)  # noqa: E731
            values = pc.if_else(pc.equal(pc.binary_length(values), 0), pa.scalar(None, pa.string()), values)
            runs[name] = (_mapped(values, convert) if convert and values.null_count < len(values) else values).to_pylist()
        runs["name"] = [n or i for n, i in zip(runs.get("name") or [None] * self.n_runs, runs["run_id"])]
        runs["status"] = [s or RunStatus.FINISHED.value for s in runs.get("status") or [None] * self.n_runs]
        runs["source"] = [s or Source.LOCAL.value for s in runs.get("source") or [None] * self.n_runs]
        for name in ("params", "trainable_params", "disk_mb", "peak_memory_mb", "train_seconds", "encode_throughput"):
            values = self._run_value(name)
            if values is not None:
                runs[name] = _numbers(values, RUN_FIELDS[name][0] == "int").to_pylist()
        notes = self._first_notes()
        base = {"format": "wide-csv", "file": self.file_name}
        texts = {}
        provenance = [texts.get(n) or texts.setdefault(n, json.dumps({**base, **({"notes": n} if n else {})},
                                                                     sort_keys=True)) for n in notes]
        return runs, provenance

    def _first_notes(self) -> list:
        if "notes" not in self.table.column_names:
            return [None] * self.n_runs
        return self.table.column("notes").combine_chunks().take(pa.array(self.first)).to_pylist()

    def _metrics(self, build: bool = True) -> tuple[pa.Table, np.ndarray] | None:
        n = _numbers(self.table.column("n").combine_chunks(), True) if "n" in self.table.column_names else None
        present, values = [], []
        for column, metric in self.metric_of.items():
            numbers = _numbers(self.table.column(column).combine_chunks(), False)
            spec = METRICS[metric]
            valid = pc.greater_equal(numbers, spec.lower)
            if spec.upper is not None:
                valid = pc.and_(valid, pc.less_equal(numbers, spec.upper))
            if not _all(valid):
                raise NotColumnar(f"{metric} out of range")
            present.append(pc.is_valid(numbers).to_numpy(zero_copy_only=False))
            values.append(numbers.to_numpy(zero_copy_only=False))
        present, values = np.column_stack(present), np.column_stack(values)
        rows, cols = np.nonzero(present)  # by row, then by column: each run's record order
        if not self.in_order:  # a small file's run rows apart: a run's rows together, first run first
            order = np.argsort(self.codes[rows], kind="stable")
            rows, cols = rows[order], cols[order]
        with_metrics = np.flatnonzero(present.any(axis=1))
        languages = self.table.column("language").combine_chunks().take(pa.array(with_metrics))
        lang_codes = _mapped(languages, lambda v: enum_value(Language, v, "language")).dictionary_encode()
        lang_of = np.full(self.table.num_rows, -1)
        lang_of[with_metrics] = lang_codes.indices.to_numpy(zero_copy_only=False)
        keys = self.codes[with_metrics].astype(np.int64) * (len(lang_codes.dictionary) + 1) + lang_of[with_metrics]
        if len(keys) and np.bincount(keys).max() > 1:
            raise NotColumnar("a run lists a language twice")
        if not build:
            return None
        names = pa.array(list(self.metric_of.values()), pa.string())
        metrics = pa.table({
            "run_id": self.ids.take(pa.array(self.codes[rows])),
            "language": pa.DictionaryArray.from_arrays(pa.array(lang_of[rows], pa.int32()), lang_codes.dictionary),
            "metric": pa.DictionaryArray.from_arrays(pa.array(cols, pa.int32()), names),
            "value": pa.array(values[rows, cols], pa.float64()),
            "n": n.take(pa.array(rows)) if n is not None else pa.nulls(len(rows), pa.int64()),
        }, schema=runcolumns.METRIC_SCHEMA)
        return metrics, np.bincount(self.codes[rows], minlength=self.n_runs)
