"""Results in the Hugging Face model card ``model-index`` format (the YAML the Hub renders as an evaluation
table), both ways: a run's metrics as ``model-index`` entries, and a card's entries back as metric rows.

One result per (task, dataset, language): ``task.type`` (Retrieval for code search, text-generation for
codegen), ``dataset`` with ``type``, ``name``, ``config`` (the language), ``split`` and ``revision`` — for this
project's benchmarks the benchmark id and its content hash — and ``metrics`` with ``type``, ``name`` and
``value`` (fractions, as stored). Reading accepts MTEB's cards too (``ndcg_at_10``, values in percent) and
sentence-transformers' (``cosine_ndcg@10``).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

from backend.vocab import CODE_LANGUAGES, METRICS, PASS_METRICS, canonical_metric

OWN_DATASET = "code-model-dashboard/"  # dataset.type prefix of this project's benchmarks and problem sets
TASKS = {"retrieval": ("Retrieval", "Code search (docstring to code)"),
         "codegen": ("text-generation", "Code generation (executed tests)")}
SIMILARITY_PREFIXES = ("cosine_", "dot_", "euclidean_", "manhattan_", "max_")  # sentence-transformers' names


def metric_type(metric: str) -> str:
    """Our metric name as a model-index metric type: MTEB's spelling (ndcg_at_10) where it has one."""
    return metric if metric.startswith("pass@") else metric.replace("@", "_at_")


def read_metric(name) -> str | None:
    """A model-index metric type as our metric name (None: not one we store)."""
    text = str(name or "").strip().lower()
    for prefix in SIMILARITY_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
    return canonical_metric(text)


def content_hash(benchmark: str, bench_dir: Path | None) -> str | None:
    """A benchmark's content hash: the sha256 of its manifest (sources with their sha256, filters, seed,
    counts) when it is built here, else the hash its id carries (csn-...-<10 hex>), else None."""
    manifest = Path(bench_dir) / benchmark / "manifest.json" if bench_dir and benchmark else None
    if manifest is not None and manifest.is_file():
        data = {k: v for k, v in json.loads(manifest.read_text()).items() if k != "id"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    found = re.search(r"-([0-9a-f]{10})$", benchmark or "")
    return found.group(1) if found else None


def model_index(run: dict, metrics: list[dict], revision: str | None = None, family: str = "retrieval") -> dict:
    """``{"model-index": [...]}`` for one run: ``run`` holds run_id, name, benchmark, protocol (and for codegen
    config.problem_sets); ``metrics`` its rows (language, metric, value)."""
    task_type, task_name = TASKS[family]
    benchmark = str(run.get("benchmark") or "unknown")
    sets = (run.get("config") or {}).get("problem_sets") or {} if isinstance(run.get("config"), dict) else {}
    by_language: dict[str, list[dict]] = {}
    for row in metrics:
        if row["language"] in CODE_LANGUAGES and row["metric"] in METRICS and math.isfinite(float(row["value"])):
            by_language.setdefault(row["language"], []).append(row)
    results = []
    for language in [lang for lang in CODE_LANGUAGES if lang in by_language]:
        dataset_id, _, revision_in_id = (sets.get(language) or benchmark).partition("@")  # mteb/Task@rev
        dataset = {"type": dataset_id if "/" in dataset_id else OWN_DATASET + dataset_id,
                   "name": f"{dataset_id} ({language})", "config": language, "split": "test",
                   "args": {"protocol": run.get("protocol") or ""}}
        if revision or revision_in_id:
            dataset["revision"] = revision or revision_in_id
        order = list(METRICS)
        rows = sorted(by_language[language], key=lambda r: order.index(r["metric"]))
        results.append({"task": {"type": task_type, "name": task_name}, "dataset": dataset,
                        "metrics": [{"type": metric_type(r["metric"]), "name": METRICS[r["metric"]].label,
                                     "value": round(float(r["value"]), 6)} for r in rows]})
    if not results:
        raise ValueError(f"run {run.get('run_id')!r} has no per-language metric to write; model-index results "
                         f"are per language ({', '.join(CODE_LANGUAGES)})")
    return {"model-index": [{"name": str(run.get("name") or run.get("run_id")), "results": results}]}


def dump(index: dict) -> str:
    """The YAML text (block style, keys in the Hub's order), to paste into a model card's front matter."""
    import yaml
    return yaml.safe_dump(index, sort_keys=False, allow_unicode=True, default_flow_style=False)


def front_matter(text: str) -> dict | None:
    """A model card's YAML front matter (between the first two ``---`` lines), or a bare YAML document with
    ``model-index``; None when there is none."""
    import yaml
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.startswith("---"):
        end = re.search(r"^---\s*$", text[3:], re.M)
        if end is None:
            raise ValueError("the front matter has no closing '---' line; close it after the YAML")
        text = text[3:3 + end.start()]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ValueError(f"the front matter is not valid YAML{line}: {getattr(e, 'problem', e)}") from None
    return data if isinstance(data, dict) else None


def language_of(dataset: dict) -> str | None:
    """The code language of a model-index dataset entry: its config, else a '(python)'-style suffix of its
    name, else a '<lang>-Code' entry of MTEB's languages."""
    config = str(dataset.get("config") or "").lower()
    if config in CODE_LANGUAGES:
        return config
    found = re.search(r"\((\w+)\)\s*$", str(dataset.get("name") or ""))
    if found and found.group(1).lower() in CODE_LANGUAGES:
        return found.group(1).lower()
    return None


def result_metrics(result: dict) -> tuple[list[dict], list[str]]:
    """(our metric rows without language, notes) of one model-index result. A result whose bounded metrics
    exceed 1 is in percent (MTEB's cards): its bounded metrics are divided by 100, and a note says so."""
    rows, notes = [], []
    for entry in result.get("metrics") or []:
        if not isinstance(entry, dict):
            continue
        name = read_metric(entry.get("type"))
        value = entry.get("value")
        if name is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(float(value)):
            raise ValueError(f"metric {entry.get('type')!r} is {value}; a value we would store must be finite")
        rows.append({"metric": name, "value": float(value)})
    bounded = [r for r in rows if METRICS[r["metric"]].upper == 1.0]
    if any(r["value"] > 1.0 for r in bounded):
        for r in bounded:
            r["value"] = round(r["value"] / 100.0, 12)  # 46.093 -> 0.46093, not 0.46093000000000006
        notes.append("values in percent (above 1): divided by 100")
    seen, unique = set(), []
    for r in rows:  # the first of duplicate types (ndcg_at_10 and cosine_ndcg@10) wins
        if r["metric"] not in seen:
            seen.add(r["metric"])
            unique.append(r)
    return unique, notes


def family_of(metric_rows: list[dict]) -> str:
    return "codegen" if any(r["metric"] in PASS_METRICS for r in metric_rows) else "retrieval"
