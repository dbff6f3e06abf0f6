"""MTEB results: a model folder with ``model_meta.json`` and task files such as ``CodeSearchNetRetrieval.json``.

One run per (model, code-search task). Non-code-search task files in the folder are ignored. A folder holding
several model folders (MTEB's ``results/<model>/<revision>/`` tree) imports all of them.
"""
from __future__ import annotations

import re
from pathlib import Path

from backend.importers import register_importer
from backend.importers.runjson import read_json
from backend.records import SCHEMA_VERSION, RecordError, RunRecord, record_from_dict
from backend.vocab import canonical_metric

# Task name -> the score split whose subsets are CodeSearchNet languages.
CODE_SEARCH_TASKS = {"CodeSearchNetRetrieval": "test", "COIRCodeSearchNetRetrieval": "test",
                     "CodeSearchNetCCRetrieval": "test"}
DASHBOARD_KEY = "dashboard"  # optional block in model_meta.json: {"source", "citation", "disk_mb"}


def _model_dirs(path: Path) -> list[Path]:
    if (path / "model_meta.json").is_file():
        return [path]
    return sorted(p.parent for p in path.rglob("model_meta.json"))[:1000] if path.is_dir() else []


def sniff(path: Path) -> bool:
    return bool(_model_dirs(path))


def load(path: Path) -> list[RunRecord]:
    records = []
    for model_dir in _model_dirs(path):
        records.extend(_load_model(model_dir))
    return records


def _load_model(model_dir: Path) -> list[RunRecord]:
    meta = read_json(model_dir / "model_meta.json")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"].strip():
        raise RecordError(f"{model_dir / 'model_meta.json'} needs a \"name\" string (the model's name)")
    extra = meta.get(DASHBOARD_KEY) or {}
    if not isinstance(extra, dict):
        raise RecordError(f"model_meta.json: {DASHBOARD_KEY!r} must be an object")
    records = []
    for task, split in CODE_SEARCH_TASKS.items():
        task_file = model_dir / f"{task}.json"
        if task_file.is_file():
            records.append(_task_record(meta, extra, task, split, read_json(task_file), task_file.name))
    if not records:
        raise RecordError(f"{model_dir} has no code-search task file ({', '.join(CODE_SEARCH_TASKS)}.json)")
    return records


def _task_record(meta: dict, extra: dict, task: str, split: str, result, file_name: str) -> RunRecord:
    if not isinstance(result, dict) or not isinstance(result.get("scores"), dict) or split not in result["scores"]:
        raise RecordError(f"{file_name}: expected {{\"scores\": {{\"{split}\": [...]}}}} as MTEB writes it")
    entries = result["scores"][split]
    if isinstance(entries, dict):  # MTEB < 1.12 keyed the scores by subset
        entries = [{"hf_subset": k, **v} if isinstance(v, dict) else v for k, v in entries.items()]
    if not isinstance(entries, list):
        raise RecordError(f"{file_name}: scores.{split} must be a list of per-language score objects")
    metrics = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("hf_subset"), str):
            raise RecordError(f"{file_name}: scores.{split}[{i}] needs an \"hf_subset\" (the language)")
        for key, value in entry.items():
            name = canonical_metric(key)
            if name is not None:
                metrics.append({"language": entry["hf_subset"], "metric": name, "value": value})
    revision = str(meta.get("revision") or "")
    slug = _slug(meta["name"].split("/")[-1]) + (f"-{_slug(revision)[:8]}" if _real_revision(revision) else "")
    dataset_revision = str(result.get("dataset_revision") or "")[:8]
    return record_from_dict({
        "schema_version": SCHEMA_VERSION, "run_id": f"mteb--{slug}--{task}", "kind": "external-retrieval",
        "name": f"{meta['name']} (MTEB {task})", "model": meta["name"], "benchmark": f"mteb/{task}"
        + (f"@{dataset_revision}" if dataset_revision else ""), "protocol": "mteb",
        "params": meta.get("n_parameters"), "disk_mb": extra.get("disk_mb"),
        "source": extra.get("source", "imported"), "metrics": metrics,
        "provenance": {"format": "mteb", "file": file_name, "mteb_version": result.get("mteb_version"),
                       "model_revision": revision or None, "citation": extra.get("citation")},
    })


def _real_revision(revision: str) -> bool:
    return bool(revision) and revision != "no_revision_available"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "model"


register_importer("mteb", sniff=sniff, load=load,
                  help="an MTEB results folder with model_meta.json and CodeSearchNetRetrieval.json")
