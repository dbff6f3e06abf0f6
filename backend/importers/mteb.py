"""MTEB results: a model folder with ``model_meta.json`` and one file per task (``CodeSearchNetRetrieval.json``,
``CosQA.json``, ...), as in MTEB's results repository (``results/<model>/<revision>/``).

One run per (model, code-retrieval task). A task is a code task when its subsets are code languages (the
subset name, e.g. ``python``, or a ``<lang>-Code`` entry in ``languages``); each subset in one of our languages
becomes that language's metrics. The scores come from the ``test`` split, else ``dev``, else ``validation``,
else the task's first split whatever its name (``CodeEditSearchRetrieval`` has only ``train``): the split is
recorded in the provenance and, when it is not ``test``, in the benchmark id (``mteb/<task>:<split>``), so
runs scored on different splits are never compared. Whatever is left out — a code task with no subset in our
languages, a subset in another language, files that are not code-retrieval tasks — is one ``note:`` line of
``import`` naming the file, the task and the reason (also kept in the run's provenance). A folder holding
several model folders imports all of them.

MTEB writes ``NaN`` (``nauc_*`` fields) and ``Infinity`` (``max_tokens``): they are read, and refused only in a
value we store (a metric, ``n_parameters``, ``memory_usage_mb``), with the file and key named.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from backend.importers.base import register_importer
from backend.importers.runjson import read_json
from backend.records import SCHEMA_VERSION, RecordError, RunRecord, record_from_dict
from backend.vocab import CODE_LANGUAGES, canonical_metric

DASHBOARD_KEY = "dashboard"  # optional block in model_meta.json: {"source", "citation", "disk_mb", "origin"}
# "origin" pins a copy of the MTEB results repository's files: {"repository", "path" (the model folder there),
# "files": {file name: commit it was read at}}; each run's provenance then names its task file's commit.
SPLITS = ("test", "dev", "validation")  # the score split used, first found
MAX_TASK_FILES = 2000


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
    meta = read_json(model_dir / "model_meta.json", nonfinite=True)
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"].strip():
        raise RecordError(f"{model_dir / 'model_meta.json'} needs a \"name\" string (the model's name)")
    extra = meta.get(DASHBOARD_KEY) or {}
    if not isinstance(extra, dict):
        raise RecordError(f"model_meta.json: {DASHBOARD_KEY!r} must be an object")
    for key in ("n_parameters", "memory_usage_mb"):
        _finite(meta.get(key), "model_meta.json", key)
    records, notes, not_code = [], [], []
    task_files = sorted(p for p in model_dir.glob("*.json") if p.name != "model_meta.json")
    if len(task_files) > MAX_TASK_FILES:
        notes.append(f"{model_dir}: {len(task_files) - MAX_TASK_FILES} task file(s) beyond the first "
                     f"{MAX_TASK_FILES} skipped (import them from a folder of their own)")
    for task_file in task_files[:MAX_TASK_FILES]:
        result = read_json(task_file, nonfinite=True)
        entries, split, other_splits = _entries(result)
        if not _is_code_task(entries):
            not_code.append(task_file.name)
            continue
        task = _task_name(task_file, result)
        where = f"{model_dir.name}/{task_file.name}: MTEB task {task}"
        by_language, reasons = _by_language(entries)
        notes.extend(f"{where}: skipped {reason}" for reason in reasons)
        if not by_language:
            notes.append(f"{where}: skipped the whole task: {'; '.join(reasons) or 'no scores'}")
            continue
        if split != "test":
            notes.append(f"{where}: scored on its {split!r} split (it has no test split"
                         f"{'; other splits: ' + ', '.join(other_splits) if other_splits else ''}), recorded as such")
        records.append((task_file, result, split, by_language, reasons))
    if not_code:
        notes.append(f"{model_dir.name}: {len(not_code)} file(s) not imported, not code-retrieval tasks (no subset "
                     f"in a code language): {', '.join(not_code)}")
    if not records:
        why = f" ({' | '.join(notes)})" if notes else ""
        raise RecordError(f"{model_dir} has no code-retrieval task in python, java, javascript, go, php or ruby{why}")
    return [_task_record(meta, extra, *r, notes) for r in records]


def _task_name(task_file: Path, result) -> str:
    name = result.get("task_name") if isinstance(result, dict) else None
    return name if isinstance(name, str) and name else task_file.stem


def _entries(result) -> tuple[list, str, list[str]]:
    """The per-subset score objects of the split used (test, dev, validation, else the first one), its name,
    and the task's other splits."""
    scores = result.get("scores") if isinstance(result, dict) else None
    if not isinstance(scores, dict) or not scores:
        return [], "", []
    split = next((s for s in SPLITS if s in scores), next(iter(scores)))
    entries = scores.get(split, [])
    if isinstance(entries, dict):  # MTEB < 1.12 keyed the scores by subset
        entries = [{"hf_subset": k, **v} if isinstance(v, dict) else v for k, v in entries.items()]
    return (entries if isinstance(entries, list) else []), split, [s for s in scores if s != split]


def _code_languages(entry: dict) -> set[str]:
    langs = entry.get("languages") if isinstance(entry.get("languages"), list) else []
    return {str(lang)[:-5].lower() for lang in langs if str(lang).endswith("-Code")}


def _is_code_task(entries: list) -> bool:
    return any(isinstance(e, dict) and (_code_languages(e) or e.get("hf_subset") in CODE_LANGUAGES) for e in entries)


def _by_language(entries: list) -> tuple[dict[str, dict], list[str]]:
    """Our language -> its score object; and why the other subsets were left out."""
    out, reasons = {}, []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        subset, code = entry.get("hf_subset"), _code_languages(entry)
        language = subset if subset in CODE_LANGUAGES else (next(iter(code)) if len(code) == 1 else None)
        if language not in CODE_LANGUAGES:
            what = ", ".join(sorted(code)) or "no code language"
            reasons.append(f"subset {subset!r}: it is {what}, not one of {', '.join(CODE_LANGUAGES)}")
        elif language in out:
            reasons.append(f"subset {subset!r}: a second {language} subset (kept the first)")
        else:
            out[language] = entry
    return out, reasons


def _task_record(meta: dict, extra: dict, task_file: Path, result: dict, split: str, by_language: dict,
                 reasons: list[str], notes: list[str]) -> RunRecord:
    task = task_file.stem
    benchmark_task = task if split == "test" else f"{task}:{split}"  # another split is other data
    metrics = []
    for language, entry in by_language.items():
        for key, value in entry.items():
            # MTEB ranks the top 1,000 and reports pytrec_eval's map_cut.1000: trec_eval's MAP of that run.
            name = "map" if key == "map_at_1000" else canonical_metric(key)
            if name is not None:
                metrics.append({"language": language, "metric": name,
                                "value": _finite(value, task_file.name, f"scores.{split}[{language}].{key}")})
    revision = str(meta.get("revision") or "")
    slug = _slug(meta["name"].split("/")[-1]) + (f"-{_slug(revision)[:8]}" if _real_revision(revision) else "")
    dataset_revision = str(result.get("dataset_revision") or "")[:8]
    memory_mb = meta.get("memory_usage_mb")
    disk_mb = extra.get("disk_mb", memory_mb)
    size_basis = ("disk_mb given in model_meta.json" if "disk_mb" in extra else
                  "memory_usage_mb (MTEB: the weights in memory)" if memory_mb is not None else None)
    source = extra.get("source", "imported")
    # A file imported here is told apart from the shipped reference run of the same model (same name otherwise).
    whose = "" if source == "reference" else f", {source}" + (f" at {revision[:8]}" if _real_revision(revision) else "")
    return record_from_dict({
        "schema_version": SCHEMA_VERSION, "run_id": f"mteb--{slug}--{task}", "kind": "external-retrieval",
        "name": f"{meta['name']} (MTEB {task}{whose})", "model": meta["name"], "benchmark": f"mteb/{benchmark_task}"
        + (f"@{dataset_revision}" if dataset_revision else ""), "protocol": "mteb",
        "params": meta.get("n_parameters"), "disk_mb": disk_mb,
        "source": source, "metrics": metrics,
        "provenance": {"format": "mteb", "file": task_file.name, "mteb_version": result.get("mteb_version"),
                       "model_revision": revision or None, "dataset_revision": result.get("dataset_revision"),
                       "split": split, "size_basis": size_basis, "citation": extra.get("citation"),
                       "skipped_subsets": reasons or None, "import_notes": notes or None,
                       **_origin(extra.get("origin"), task_file.name)},
    })


def _origin(origin, file_name: str) -> dict:
    """Repository, commit and path of one pinned task file (and of the model_meta.json it was read with)."""
    if not isinstance(origin, dict):
        return {}
    files = origin.get("files") if isinstance(origin.get("files"), dict) else {}
    folder = str(origin.get("path") or "").rstrip("/")
    return {"repository": origin.get("repository"), "commit": files.get(file_name),
            "path": f"{folder}/{file_name}" if folder else file_name, "meta_commit": files.get("model_meta.json")}


def _finite(value, file_name: str, key: str):
    if isinstance(value, float) and not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else "Infinity"
        raise RecordError(f"{file_name}: {key} is {shown}, a value we would store; fix it or remove the key")
    return value


def _real_revision(revision: str) -> bool:
    return bool(revision) and revision != "no_revision_available"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "model"


register_importer("mteb", sniff=sniff, load=load,
                  help="an MTEB results folder with model_meta.json and code-retrieval task files "
                       "(CodeSearchNetRetrieval.json, CosQA.json, ...)")
