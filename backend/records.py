"""The run record (the content of ``runs/<run_id>/run.json``) and its validation.

Every importer turns its format into ``RunRecord`` objects; the store only ever ingests validated records.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from backend.kinds import get_kind
from backend.vocab import (
    METRICS,
    ExecStatus,
    Language,
    RunStatus,
    Source,
    canonical_metric,
    enum_value,
)

SCHEMA_VERSION = 1
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=@-]{0,199}$")
MAX_TEXT = 100_000  # longest free-text field kept (error text, names): a 10 MB name is a mistake


class RecordError(ValueError):
    """A run record that cannot be stored; the message says what to fix."""


# name -> (type, required, help). Documented in docs/run-json.md; a test checks both agree.
RUN_FIELDS: dict[str, tuple[str, bool, str]] = {
    "schema_version": ("int", True, f"always {SCHEMA_VERSION}"),
    "run_id": ("str", True, "unique id, letters/digits/._+=@-, e.g. m2v-distill--minilm--20261122T2300Z"),
    "kind": ("str", True, "a registered run kind (python -m backend formats lists them)"),
    "name": ("str", False, "human-readable name (default: run_id)"),
    "status": ("str", False, "running, finished, failed, cancelled or interrupted (default finished)"),
    "created_at": ("time", False, "ISO-8601 UTC start time"),
    "finished_at": ("time", False, "ISO-8601 UTC end time"),
    "benchmark": ("str", False, "benchmark id the metrics were computed on"),
    "protocol": ("str", False, "evaluation protocol, e.g. full, csn-1000, mteb, published"),
    "model": ("str", False, "model reference: a path, a package or a hub name"),
    "params": ("int", False, "total parameters"),
    "trainable_params": ("int", False, "parameters trained by this run"),
    "disk_mb": ("float", False, "model size on disk, MB"),
    "peak_memory_mb": ("float", False, "peak resident memory, MB"),
    "train_seconds": ("float", False, "training wall time, s"),
    "encode_throughput": ("float", False, "documents encoded per second"),
    "tokens_per_s": ("float", False, "generated tokens per second (codegen)"),
    "config": ("object", False, "the run's configuration (free-form JSON object)"),
    "source": ("str", False, "local, imported or reference (default local)"),
    "provenance": ("object", False, "where the figures come from: files, citation, versions"),
    "error": ("str", False, "error text of a failed run"),
    "metrics": ("list", True, "[{language, metric, value, n}]: long-form metrics"),
    "queries": ("list", False, "[{language, query_id, gold_rank}]: per-query gold ranks"),
    "problems": ("list", False, "[{language, problem_id, sample, status}]: executed samples (codegen); "
                                "status PASS, FAIL, TIMEOUT or ERROR"),
    "relevant": ("list", False, "[{language, query_id, doc_id, grade, rank}]: where the run ranked each judged "
                                "document with grade > 0 (rank 0: not retrieved); benchmarks with graded or "
                                "several relevant documents per query"),
}
_NUMBER_FIELDS = [k for k, (t, _, _) in RUN_FIELDS.items() if t in ("int", "float")]


@dataclass
class RunRecord:
    run_id: str
    kind: str
    metrics: list[dict]
    name: str = ""
    status: str = RunStatus.FINISHED.value
    created_at: str | None = None
    finished_at: str | None = None
    benchmark: str | None = None
    protocol: str | None = None
    model: str | None = None
    params: int | None = None
    trainable_params: int | None = None
    disk_mb: float | None = None
    peak_memory_mb: float | None = None
    train_seconds: float | None = None
    encode_throughput: float | None = None
    tokens_per_s: float | None = None
    config: dict = field(default_factory=dict)
    source: str = Source.LOCAL.value
    provenance: dict = field(default_factory=dict)
    error: str | None = None
    queries: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    relevant: list[dict] = field(default_factory=list)
    _digest: str | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict:
        out = {"schema_version": SCHEMA_VERSION}
        out.update({k: getattr(self, k) for k in RUN_FIELDS if k != "schema_version"})
        if not out["relevant"]:  # absent rather than empty: records made before the field keep their digest
            del out["relevant"]
        return out

    def to_json(self) -> str:
        """Readable JSON: one top-level field per line, one metric/query per line (C encoder: fast)."""
        parts = []
        for key, value in sorted(self.to_dict().items()):
            if isinstance(value, list) and value:
                items = ",\n  ".join(_dumps(item) for item in value)
                parts.append(f" {_dumps(key)}: [\n  {items}\n ]")
            else:
                parts.append(f" {_dumps(key)}: {_dumps(value)}")
        return "{\n" + ",\n".join(parts) + "\n}"

    def digest(self) -> str:
        """Content hash: re-importing an identical record is a no-op, a different one is a conflict."""
        if self._digest is None:
            self._digest = hashlib.sha256(_dumps(self.to_dict()).encode()).hexdigest()
        return self._digest


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=False)  # reused: json.dumps(**kw) is slow
_dumps = _ENCODER.encode


def check_run_id(run_id) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise RecordError(
            f"run_id {str(run_id)[:80]!r} is not allowed; use 1-200 letters, digits or ._+=@- "
            "starting with a letter or digit (no slashes, so it cannot leave runs/)"
        )
    return run_id


def record_from_dict(data) -> RunRecord:
    """Validate a run.json object; RecordError names the first problem and its fix."""
    if not isinstance(data, dict):
        raise RecordError(f"expected a run object (or a list of them), got {type(data).__name__}")
    unknown = sorted(set(data) - set(RUN_FIELDS))
    if unknown:
        raise RecordError(f"unknown field(s) {', '.join(map(repr, unknown[:5]))}; remove them or move them under "
                          f"config (allowed: {', '.join(RUN_FIELDS)})")
    for key, (_, required, _) in RUN_FIELDS.items():
        if required and data.get(key) is None:
            raise RecordError(f"missing required field {key!r} ({RUN_FIELDS[key][2]})")
    if data["schema_version"] != SCHEMA_VERSION or isinstance(data["schema_version"], bool):
        raise RecordError(f"schema_version must be {SCHEMA_VERSION}, got {data['schema_version']!r}; "
                          f"write \"schema_version\": {SCHEMA_VERSION}")
    run_id = check_run_id(data["run_id"])
    values = {k: v for k, v in data.items() if k != "schema_version" and v is not None}
    try:
        get_kind(_text(values["kind"], "kind"))
        for key in ("name", "benchmark", "protocol", "model", "error"):
            if key in values:
                values[key] = _text(values[key], key)
        values["status"] = enum_value(RunStatus, values.get("status", RunStatus.FINISHED.value), "status")
        values["source"] = enum_value(Source, values.get("source", Source.LOCAL.value), "source")
        for key in ("created_at", "finished_at"):
            if key in values:
                values[key] = _timestamp(values[key], key)
        for key in _NUMBER_FIELDS:
            if key in values:
                values[key] = _number(values[key], key, integer=RUN_FIELDS[key][0] == "int")
        for key in ("config", "provenance"):
            if not isinstance(values.get(key, {}), dict):
                raise RecordError(f"{key} must be a JSON object {{\"name\": value, ...}}")
        rows = [_metric_row(m, i) for i, m in enumerate(_list(values["metrics"], "metrics"))]
        values["metrics"] = [m for m in rows if m["value"] is not None]
        _note_missing(values, [m for m in rows if m["value"] is None], run_id)
        values["queries"] = [_query_row(q, i) for i, q in enumerate(_list(values.get("queries", []), "queries"))]
        values["problems"] = [_problem_row(p, i) for i, p in enumerate(_list(values.get("problems", []), "problems"))]
        values["relevant"] = [_relevant_row(r, i) for i, r in enumerate(_list(values.get("relevant", []), "relevant"))]
    except ValueError as e:
        raise RecordError(f"run {run_id}: {e}") from None
    _check_unique(values["metrics"], ("language", "metric"), f"run {run_id}: metric")
    _check_unique(values["queries"], ("language", "query_id"), f"run {run_id}: query")
    _check_unique(values["problems"], ("language", "problem_id", "sample"), f"run {run_id}: problem sample")
    _check_unique(values["relevant"], ("language", "query_id", "doc_id"), f"run {run_id}: relevant document")
    values.setdefault("name", run_id)
    _check_json_safe(values)
    return RunRecord(**values)


def _note_missing(values: dict, missing: list[dict], run_id: str):
    """Metrics given as null are missing values: not stored, and said so (``import`` prints the note; it stays in
    the run's provenance)."""
    if not missing:
        return
    names = ", ".join(f"{m['language']} {m['metric']}" for m in missing[:10])
    note = f"run {run_id}: {len(missing)} metric value(s) null, not stored (missing): {names}"
    provenance = dict(values.get("provenance") or {})
    provenance["import_notes"] = [*(provenance.get("import_notes") or []), note]
    values["provenance"] = provenance


def nonfinite_path(data, where: str = "") -> str | None:
    """The key path (``metrics[3].value``) of the first NaN or Infinity in parsed JSON, None if there is none."""
    if isinstance(data, float):
        return None if math.isfinite(data) else where
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = nonfinite_path(value, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


def nonfinite_advice(path: str) -> str:
    """The fix for a NaN or Infinity at ``path`` of a run.json: null where null is a missing value, else the
    entry goes."""
    key = re.sub(r"^\[\d+\]\.?", "", path)  # a list of runs: the path inside one run
    if key in ("schema_version", "run_id", "kind"):
        return f"write the run's {key} ({RUN_FIELDS[key][2]})"
    if re.fullmatch(r"metrics\[\d+\]\.value", key):
        return "write null for a missing value (that metric is then not stored; import prints a note)"
    row = re.match(r"(queries|relevant|problems|metrics)\[\d+\]", key)
    if row and key != f"{row.group(0)}.n":
        return f"remove the entry {row.group(0)}"
    return "write null for a missing value"


def _text(value, key) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{key} must be a string, got {type(value).__name__}; write it in double quotes")
    if "\x00" in value:
        raise RecordError(f"{key} contains a NUL character; remove it")
    if len(value) > MAX_TEXT:
        raise RecordError(f"{key} is {len(value):,} characters long; shorten it to at most {MAX_TEXT:,}")
    return value


# Where null is a missing value (the field is then left out), the advice says so; elsewhere it names the fix.
_IF_UNKNOWN = "; if unknown, leave it out (null)"


def _number(value, key, integer=False, nullable=True):
    unknown = _IF_UNKNOWN if nullable else ""
    if isinstance(value, str) and _numeric_text(value):
        raise RecordError(f"{key} must be a number, got the string {value[:40]!r}; write it without quotes")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"{key} must be a number, got {type(value).__name__} {str(value)[:40]!r}; write a number"
                          f"{unknown}")
    if not math.isfinite(value) or value < 0:
        raise RecordError(f"{key} must be a finite number >= 0, got {value!r}; correct it{unknown}")
    if integer:
        if value != int(value) or value > 2**62:
            raise RecordError(f"{key} must be a whole number below 2**62, got {value!r}; correct it{unknown}")
        return int(value)
    return float(value)


def _numeric_text(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _timestamp(value, key) -> str:
    text = _text(value, key)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{key} {text[:40]!r} is not an ISO-8601 time such as 2026-11-22T23:00:00Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _list(value, key) -> list:
    if not isinstance(value, list):
        raise RecordError(f"{key} must be a list [...]; put the entries in square brackets")
    return value


def _metric_row(row, i) -> dict:
    if not isinstance(row, dict) or not {"language", "metric", "value"} <= set(row) or set(row) - {"language", "metric", "value", "n"}:
        raise RecordError(f"metrics[{i}] must be an object with language, metric, value and optional n, "
                          "e.g. {\"language\": \"python\", \"metric\": \"ndcg@10\", \"value\": 0.5}")
    language = enum_value(Language, _text(row["language"], f"metrics[{i}].language"), f"metrics[{i}].language")
    name = canonical_metric(_text(row["metric"], f"metrics[{i}].metric"))
    if name is None:
        raise RecordError(f"metrics[{i}].metric: unknown metric {row['metric']!r}; use one of: {', '.join(METRICS)}")
    where = f"metrics[{i}].value ({language} {name})"
    return {"language": language, "metric": name,
            "value": None if row["value"] is None else metric_value(row["value"], name, language, where),
            "n": None if row.get("n") is None else _number(row["n"], f"metrics[{i}].n", integer=True)}


def metric_value(value, name: str, language: str, where: str | None = None) -> float:
    """A metric value checked against the metric's valid range (NaN, negatives, recall > 1 are refused)."""
    spec = METRICS[name]
    where = where or f"{language} {name}"
    value = _number(value, where)
    if value < spec.lower or (spec.upper is not None and value > spec.upper):
        top = "" if spec.upper is None else f" and <= {spec.upper:g}"
        hint = ("; if it is a percentage, divide it by 100" if spec.upper == 1 and value <= 100
                else f"; correct it{_IF_UNKNOWN}")
        raise RecordError(f"{where} = {value!r} is out of range; it must be >= {spec.lower:g}{top}{hint}")
    return value


def _query_row(row, i) -> dict:
    if not isinstance(row, dict) or set(row) != {"language", "query_id", "gold_rank"}:
        raise RecordError(f"queries[{i}] must be an object with exactly language, query_id, gold_rank")
    rank = _number(row["gold_rank"], f"queries[{i}].gold_rank", integer=True, nullable=False)
    if rank < 1:
        raise RecordError(f"queries[{i}].gold_rank must be >= 1 (rank 1 = gold retrieved first)")
    return {"language": enum_value(Language, row["language"], f"queries[{i}].language"),
            "query_id": _text(str(row["query_id"]), f"queries[{i}].query_id"), "gold_rank": rank}


def _relevant_row(row, i) -> dict:
    if not isinstance(row, dict) or set(row) != {"language", "query_id", "doc_id", "grade", "rank"}:
        raise RecordError(f"relevant[{i}] must be an object with exactly language, query_id, doc_id, grade, rank")
    grade = row["grade"]
    if isinstance(grade, bool) or not isinstance(grade, (int, float)) or not math.isfinite(grade) or grade <= 0:
        raise RecordError(f"relevant[{i}].grade must be a number > 0 (judged non-relevant documents are not listed)")
    return {"language": enum_value(Language, row["language"], f"relevant[{i}].language"),
            "query_id": _text(str(row["query_id"]), f"relevant[{i}].query_id"),
            "doc_id": _text(str(row["doc_id"]), f"relevant[{i}].doc_id"), "grade": float(grade),
            "rank": _number(row["rank"], f"relevant[{i}].rank (0: not retrieved)", integer=True,
                            nullable=False)}


EXECUTION_STATUSES = tuple(s.value for s in ExecStatus)


def _problem_row(row, i) -> dict:
    if not isinstance(row, dict) or set(row) != {"language", "problem_id", "sample", "status"}:
        raise RecordError(f"problems[{i}] must be an object with exactly language, problem_id, sample, status")
    status = _text(row["status"], f"problems[{i}].status").upper()
    if status not in EXECUTION_STATUSES:
        raise RecordError(f"problems[{i}].status {row['status']!r} is unknown; use one of {', '.join(EXECUTION_STATUSES)}")
    return {"language": enum_value(Language, row["language"], f"problems[{i}].language"),
            "problem_id": _text(str(row["problem_id"]), f"problems[{i}].problem_id"),
            "sample": _number(row["sample"], f"problems[{i}].sample", integer=True, nullable=False),
            "status": status}


def _check_unique(rows, keys, what):
    seen = set()
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key in seen:
            raise RecordError(f"{what} {'/'.join(map(str, key))} appears twice; keep one")
        seen.add(key)


def _check_json_safe(values):
    try:
        json.dumps(values, allow_nan=False)
    except (TypeError, ValueError) as e:
        where = nonfinite_path(values)
        if where:
            raise RecordError(f"{where} is not a finite number; write null for a missing value") from None
        raise RecordError(f"config/provenance must be plain JSON (numbers, text, lists, objects): {e}") from None
    except RecursionError:
        raise RecordError("config/provenance is nested too deeply; flatten it") from None
