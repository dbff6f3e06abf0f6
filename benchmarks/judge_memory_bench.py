"""How much memory the judge (this process) takes while sandboxed programs send it values shaped to amplify:
16 concurrent amplification attacks (the "heavy" samples of tests/data/attacks_round2.jsonl: 16 MB of
``[{},{},...]`` / ``[[],[],...]`` answers, Python and Java, honest protocol and forged) through ``run_many``
with 16 workers. Reports the judge's peak resident memory over its baseline, sampled every 10 ms and from
the kernel's high-water mark (``VmHWM``); asserts nothing.

    .venv/bin/python benchmarks/judge_memory_bench.py [--attacks 16] [--cap-gb 6]

Issue 27 asks for under 1 GB over the baseline. The current judge takes ~1.5 GB per attack (issue 27), so a
run against it would take the whole machine: ``--cap-gb`` stops the run (killing its sandboxes) once the judge
grows past the cap and reports ">= cap" instead of the peak.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.codegen import problems, sandbox  # noqa: E402
from backend.codegen.sandbox import Limits  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "attacks_round2.jsonl"
SETS = {"python": "humaneval-python", "java": "humaneval-java"}
# Not the source-size one: a 600 KB expression only costs the judge where it parses sources itself.
SKIP = {"py-deep-expression"}


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """Samples this process's RSS; past ``cap_kb`` over the baseline it reports and ends the process."""

    def __init__(self, baseline_kb: int, cap_kb: int):
        super().__init__(daemon=True)
        self.baseline, self.cap, self.peak, self.done, self.start_t = baseline_kb, cap_kb, baseline_kb, False, time.monotonic()

    def run(self):
        while not self.done:
            rss = _status_kb("VmRSS")
            self.peak = max(self.peak, rss)
            if rss - self.baseline > self.cap:
                print(f"judge RSS over baseline >= {self.cap / 2**20:.1f} GB after "
                      f"{time.monotonic() - self.start_t:.1f} s: stopped (--cap-gb)", flush=True)
                os._exit(2)  # bubblewrap's --die-with-parent ends the sandboxes
            time.sleep(0.01)


def attacks(count: int) -> list[dict]:
    heavy = [s for s in map(json.loads, DATA.read_text().splitlines())
             if s.get("heavy") and s["id"] not in SKIP]
    return [heavy[i % len(heavy)] for i in range(count)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attacks", type=int, default=16)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--cap-gb", type=float, default=6.0)
    args = parser.parse_args(argv)
    sandbox.isolation()
    chosen = attacks(args.attacks)
    jobs = []
    for s in chosen:
        pset = problems.load_problem_set(SETS[s["language"]])
        jobs.append(pset.job(pset.by_id[s["task_id"]], s["completion"]))
    baseline, hwm_before = _status_kb("VmRSS"), _status_kb("VmHWM")
    print(f"{len(jobs)} attacks ({dict(Counter(s['id'] for s in chosen))}), {args.workers} workers; "
          f"judge RSS baseline {baseline / 1024:.0f} MB (high-water mark so far {hwm_before / 1024:.0f} MB)", flush=True)
    sampler = Sampler(baseline, int(args.cap_gb * 2**20))
    sampler.start()
    start, cpu = time.monotonic(), time.process_time()
    try:
        outcomes = sandbox.run_many(jobs, Limits(timeout_s=60, cpu_s=60), workers=args.workers)
        statuses = Counter(o.status.value for o in outcomes)
    except Exception as e:  # noqa: BLE001 - a judge that raises is a result too
        statuses = {f"run_many raised {type(e).__name__}": len(jobs)}
    sampler.done = True
    sampler.join()
    hwm = _status_kb("VmHWM")
    print(f"wall {time.monotonic() - start:.1f} s; judge CPU {time.process_time() - cpu:.1f} s; verdicts {dict(statuses)}")
    print(f"judge peak RSS over baseline: sampled {(sampler.peak - baseline) / 1024:.0f} MB, "
          f"VmHWM {(hwm - baseline) / 1024:.0f} MB")


if __name__ == "__main__":
    main()
