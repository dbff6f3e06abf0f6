"""Wide CSV typed by hand: one row per run x language, one column per metric.

Required columns: run_id, kind, language, and at least one metric column (ndcg@10, mrr, recall@5, mean_rank, ...).
Optional run columns (same value on every row of a run): see RUN_COLUMNS; ``notes`` goes to provenance.
"""
from __future__ import annotations

import csv
import math
import re
from itertools import islice
from pathlib import Path
from typing import Iterator

from backend.importers import csvcolumns
from backend.importers.base import MAX_BYTES, register_importer
from backend.records import (
    RUN_FIELDS,
    SCHEMA_VERSION,
    RecordError,
    RunRecord,
    record_from_dict,
)
from backend.runcolumns import RunColumns
from backend.vocab import METRICS, canonical_metric

RUN_COLUMNS = ["run_id", "kind", "name", "status", "created_at", "finished_at", "benchmark", "protocol", "model",
               "params", "trainable_params", "disk_mb", "peak_memory_mb", "train_seconds", "encode_throughput",
               "source", "notes"]
ROW_COLUMNS = ["language", "n"]
NUMERIC = {k for k, (t, _, _) in RUN_FIELDS.items() if t in ("int", "float")} | {"n"}
GATHER_BYTES = 16 * 2**20  # files up to this size may list a run's rows anywhere
ROW_BATCH = 2000  # records per batch from the row reader
MAX_ROWS_PER_RUN = 1000  # a run has one row per language: more is a broken or hostile file
COLUMN_NAME = re.compile(r"[a-z][a-z0-9_@. -]{0,39}")  # what a typo'd column name looks like


def sniff(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".csv", ".tsv")


def load(path: Path) -> Iterator[RunRecord]:
    """Records one run at a time: the columns' runs as records, or the row reader's (which streams)."""
    columns = _columns(path)
    if columns is None:
        yield from load_rows(path)
        return
    for batch in columns:
        yield from batch.records()


def batches(path: Path) -> Iterator[RunColumns | list[RunRecord]]:
    """The file's runs in batches: in columns (csvcolumns) when its checks clear the whole file, else as records
    from the row reader, which names a problem by line and column."""
    columns = _columns(path)
    if columns is None:
        records = load_rows(path)
        while batch := list(islice(records, ROW_BATCH)):
            yield batch
        return
    yield from columns


def _columns(path: Path) -> Iterator[RunColumns] | None:
    """The file in columns, every check made already (None: it needs the row reader)."""
    try:
        header, metric_of = _plain_header(path)
        columns = csvcolumns.read(path, header, metric_of, _delimiter(path), path.stat().st_size > GATHER_BYTES,
                                  MAX_ROWS_PER_RUN)
        first = next(columns, None)  # every check is made before the first batch
    except (csvcolumns.NotColumnar, RecordError, OSError, UnicodeDecodeError, csv.Error):
        return None
    return _then(first, columns)


def _then(first, rest) -> Iterator[RunColumns]:
    if first is not None:
        yield first
    try:
        yield from rest
    except csvcolumns.NotColumnar:
        raise RecordError("the file changed while it was read; import it again") from None


def _plain_header(path: Path) -> tuple[list[str], dict[str, str]]:
    """The header of a file whose first line holds no quotes (the columnar reader's case), checked."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        line = f.readline()
    if '"' in line or "\x00" in line:
        raise csvcolumns.NotColumnar("a quoted header")
    return _header(next(csv.reader([line], delimiter=_delimiter(path))))


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def load_rows(path: Path) -> Iterator[RunRecord]:
    """Records one run at a time, read row by row. A large file whose rows of each run are together streams (memory flat in
    the number of runs); otherwise (a small file, or rows of a run far apart) the runs are gathered first."""
    size = path.stat().st_size
    gather = size <= GATHER_BYTES or not _runs_together(path)
    if gather and size > MAX_BYTES:
        raise RecordError(f"the rows of a run are not together and the file is larger than {MAX_BYTES // 2**20} "
                          "MB; sort it by run_id first (keep the header line on top) and import it again")
    runs: dict[str, dict] = {}
    # Streaming, a run is done when the next one starts (were the file changed since _runs_together and a run
    # came back, the import would refuse its id as appearing twice).
    for line_no, row, metric_of in _rows(path):
        if not gather and row["run_id"] not in runs and runs:
            yield record_from_dict(runs.popitem()[1])
        _add_row(runs, row, metric_of, line_no, path.name)
    yield from (record_from_dict(run) for run in runs.values())


def _runs_together(path: Path) -> bool:
    """Whether every run's rows are consecutive (one pass; ids only)."""
    current, seen = None, set()
    for _, row, _ in _rows(path):
        if row["run_id"] != current:
            if row["run_id"] in seen:
                return False
            current = row["run_id"]
            seen.add(current)
    return True


def _rows(path: Path) -> Iterator[tuple[int, dict, dict]]:
    """(line number, row by column name, metric column -> metric) of each non-blank line after the header."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=_delimiter(path))
        try:
            first = next(reader, None)
            if first is None:
                raise RecordError("empty file; the first line must be the header")
            _no_nul(first, 1)
            header, metric_of = _header(first)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                _no_nul(row, reader.line_num)
                if len(row) != len(header):
                    raise RecordError(f"line {reader.line_num} has {len(row)} cells but the header has "
                                      f"{len(header)}; fix the row")
                yield reader.line_num, dict(zip(header, (c.strip() for c in row))), metric_of
        except csv.Error as e:
            raise RecordError(f"unreadable CSV ({e}); check quoting") from None
        except UnicodeDecodeError:
            raise RecordError(f"not UTF-8 text (after line {reader.line_num}); save the file as UTF-8 CSV") from None


def _no_nul(row: list[str], line_no: int):
    if any("\x00" in cell for cell in row):
        raise RecordError(f"line {line_no} contains NUL bytes: this is not a text CSV; export it again as CSV")


def _header(raw: list[str]) -> tuple[list[str], dict[str, str]]:
    header = [h.strip().lower() for h in raw]
    metric_of = {h: canonical_metric(h) for h in header if canonical_metric(h)}
    unknown = [h for h in header if h not in RUN_COLUMNS + ROW_COLUMNS and h not in metric_of]
    if unknown and not all(COLUMN_NAME.fullmatch(h) for h in unknown):
        # Not a header at all (say, a symlink to a system file): name nothing from it.
        raise RecordError(f"the first line is not a header of column names ({len(header)} cell(s)); the first "
                          f"line must name the columns: {', '.join(RUN_COLUMNS[:3])}, language and metric columns")
    if unknown:
        raise RecordError(f"unknown column(s) {', '.join(map(repr, unknown[:5]))}; remove or rename them (allowed: "
                          f"{', '.join(RUN_COLUMNS + ROW_COLUMNS)} and metric columns {', '.join(METRICS)})")
    missing = [c for c in ("run_id", "kind", "language") if c not in header]
    if missing or not metric_of:
        need = ", ".join(missing) if missing else "a metric column (e.g. ndcg@10)"
        raise RecordError(f"header lacks {need}; first line must name the columns")
    if len(set(header)) != len(header):
        raise RecordError("a column name appears twice in the header; keep one")
    return header, metric_of


def _add_row(runs: dict, row: dict, metric_of: dict, line_no: int, file_name: str):
    run_id = row["run_id"]
    fields = {k: _cell(row[k], k, line_no, k in NUMERIC) for k in RUN_COLUMNS if k in row and row[k] != ""}
    notes = fields.pop("notes", None)
    if run_id in runs and len(runs[run_id]["metrics"]) >= MAX_ROWS_PER_RUN * len(metric_of):
        raise RecordError(f"line {line_no}: run {run_id} has more than {MAX_ROWS_PER_RUN:,} rows; "
                          "one row per run and language")
    run = runs.setdefault(run_id, {"schema_version": SCHEMA_VERSION, **fields, "metrics": [],
                                   "provenance": {"format": "wide-csv", "file": file_name,
                                                  **({"notes": notes} if notes else {})}})
    for key, value in fields.items():
        if run.get(key) != value:
            raise RecordError(f"line {line_no}: run {run_id} has {key}={value!r} here but {run.get(key)!r} "
                              "on an earlier line; run columns must agree on every row of a run")
    n = _cell(row["n"], "n", line_no, True) if row.get("n") else None
    for column, metric in metric_of.items():
        if row[column] != "":
            value = _cell(row[column], column, line_no, True)
            run["metrics"].append({"language": row["language"], "metric": metric, "value": value, "n": n})


def _cell(text: str, column: str, line_no: int, numeric: bool):
    if not numeric:
        return text
    try:
        value = int(text) if re.fullmatch(r"-?[0-9]+", text) else float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RecordError(f"line {line_no}: column {column} = {text[:40]!r} is not a number; write a number, or "
                          "leave the cell empty for a missing value")
    return value


register_importer("wide-csv", sniff=sniff, load=load, batches=batches, stored=True,
                  help="a .csv/.tsv with run_id, kind, language and metric columns")
