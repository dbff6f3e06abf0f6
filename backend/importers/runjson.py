"""The project's own ``run.json`` (schema: docs/run-json.md); also a run folder holding one."""
from __future__ import annotations

import json
from pathlib import Path

from backend.importers.base import read_text, register_importer
from backend.records import RecordError, RunRecord, nonfinite_advice, nonfinite_path, record_from_dict


def _file(path: Path) -> Path:
    return path / "run.json" if path.is_dir() else path


def read_json(path: Path, nonfinite: bool = False, advice=None):
    """Parse a JSON file, turning every parse problem into a RecordError with line and column.

    ``nonfinite``: read NaN / Infinity (which MTEB writes) as floats; the importer must then refuse them in any
    value it stores. Otherwise the first one is refused with its key path and ``advice(path)``, the fix."""
    text = read_text(path, "JSON")
    if not text.strip():
        raise RecordError("the file is empty; export the results again")
    constants = []

    def constant(name):
        constants.append(name)
        return float(name)
    try:
        data = json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as e:
        raise RecordError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}; fix the syntax") from None
    except RecursionError:
        raise RecordError("JSON nested too deeply; flatten it") from None
    if constants and not nonfinite:  # located only when present: the walk costs nothing on a clean file
        where = nonfinite_path(data) or "a value"
        fix = advice(where) if advice else "write null for a missing value"
        raise RecordError(f"{where} is {constants[0]}, not a number JSON allows; {fix}")
    return data


def sniff(path: Path) -> bool:
    # Any JSON file is ours unless it is an MTEB folder's model_meta.json: a malformed run.json then gets
    # run.json's precise error instead of "unknown format".
    path = _file(path)
    return path.is_file() and path.suffix.lower() == ".json" and path.name != "model_meta.json"


def load(path: Path) -> list[RunRecord]:
    data = read_json(_file(path), advice=nonfinite_advice)
    if isinstance(data, dict) and "scores" in data and "run_id" not in data:
        raise RecordError("this is an MTEB task file; import its model folder (the one with model_meta.json)")
    if isinstance(data, list):  # a list of run objects is accepted too
        return [record_from_dict(item) for item in data]
    return [record_from_dict(data)]


register_importer("run.json", sniff=sniff, load=load,
                  help="run.json (or a run folder) as in docs/run-json.md", generic=True)
