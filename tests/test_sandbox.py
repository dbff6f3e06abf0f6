"""The sandbox and its judge: outcomes, and hostile programs (Python and Java) that try to fake a pass, reach
the judge or the host, or exhaust it. Each case states its expected status; after each, nothing it started is
left running and the host's memory and disk are what they were."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from backend.codegen import java, judge, sandbox
from backend.codegen.sandbox.cgroup import CpuGroups
from backend.codegen.sandbox import Job, Limits
from backend.codegen.sandbox import worker as worker_module
from backend.vocab import ExecStatus
from tests.conftest import needs_sandbox

REPO = Path(__file__).resolve().parent.parent
FAST = Limits(timeout_s=3, cpu_s=3)
ADD_TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(1, 1) == 2\n\ncheck(add)\n"
pytestmark = [needs_sandbox, pytest.mark.integration]  # every test starts bubblewrap sandboxes
needs_java = pytest.mark.skipif(not shutil.which("javac"), reason="needs a JDK (javac, java)")


def py(source: str) -> Job:
    return Job("python", source, judge.PythonTests(ADD_TESTS, "add"))


JAVA_ADD = java.translate('def add(a: int, b: int) -> int:\n    """Add."""\n', ADD_TESTS, "add")


def jv(body: str) -> Job:
    return Job("java", java.program(JAVA_ADD.prompt, body, JAVA_ADD.tests), judge.ExpectedValues(JAVA_ADD.cases))


@pytest.mark.parametrize("source, status", [
    ("def add(a, b):\n    return a + b\n", ExecStatus.PASS),
    ("def add(a, b):\n    return a - b\n", ExecStatus.FAIL),
    ("def add(a, b:\n", ExecStatus.ERROR),  # does not parse: never ran
    ("def add(a, b):\n    raise ValueError('the reason')\n", ExecStatus.FAIL),
    ("def add(a, b):\n    while True:\n        pass\n", ExecStatus.TIMEOUT),
])
def test_python_outcomes(source, status):
    start = time.monotonic()
    outcome = sandbox.run_job(py(source), FAST)
    assert outcome.status == status, outcome
    assert time.monotonic() - start < FAST.ceiling + 5  # killed at its time limit, or at the ceiling at the latest


def test_failure_keeps_the_reason_and_the_tail_of_stderr():
    outcome = sandbox.run_job(py("def add(a, b):\n    raise ValueError('the reason')\n"), FAST)
    assert "ValueError: the reason" in outcome.stderr and "ValueError" in outcome.reason


# Programs that try to turn a wrong answer into PASS. add() is wrong in every one: each must be FAIL.
FORGERIES = {
    "sys.exit(0) at module level": "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n",
    "sys.exit(0) in the function": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "raise SystemExit(0)": "def add(a, b):\n    raise SystemExit(0)\n",
    "os._exit(0) in the function": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "os._exit(0) at module level": "import os\ndef add(a, b):\n    return 0\nos._exit(0)\n",
    "unittest.main()": "import unittest\ndef add(a, b):\n    return 0\nif True:\n    unittest.main()\n",
    "patched traceback and os._exit": ("import os, traceback\n_exit = os._exit\ntraceback.print_exc = lambda *a, **k: None\n"
                                       "os._exit = lambda code: _exit(0)\ndef add(a, b):\n    return 0\n"),
    "patched AssertionError": "import builtins\nbuiltins.AssertionError = type('A', (Exception,), {})\ndef add(a, b):\n    return 0\n",
    "an object equal to everything": "class E:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return E()\n",
    "an int subclass equal to everything": "class E(int):\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return E(0)\n",
    "shadowing the judge's builtins": "def abs(x):\n    return 0\ndef add(a, b):\n    return 0\n",
    "fake answers on the channel": ("import os\nos.write(4, b'{\"ready\": true}\\n{\"ok\": 5}\\n{\"ok\": 2}\\n')\nos._exit(0)\n"
                                    "def add(a, b):\n    return 0\n"),
    "fake answers then exit, from the function": ("import os\ndef add(a, b):\n    os.write(4, b'{\"ok\": 5}\\n{\"ok\": 2}\\n')\n"
                                                  "    os._exit(0)\n"),
    "kill the worker": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef add(a, b):\n    return 0\n",
    "stop the worker": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\ndef add(a, b):\n    return 0\n",
}


@pytest.mark.parametrize("name", FORGERIES)
def test_python_forgeries_fail(name):
    with sandbox.Worker(FAST) as worker:
        outcome = worker.run(py(FORGERIES[name]))
        after = worker.run(py("def add(a, b):\n    return a + b\n"))  # the worker (or its replacement) still judges
    assert outcome.status in (ExecStatus.FAIL, ExecStatus.TIMEOUT), (name, outcome)
    assert after.status == ExecStatus.PASS, after


@pytest.mark.parametrize("body", [
    "System.exit(0); return 0;",
    "Runtime.getRuntime().halt(0); return 0;",
    # a failing assert, then a shutdown hook that halts with 0
    "Runtime.getRuntime().addShutdownHook(new Thread(() -> Runtime.getRuntime().halt(0))); if (a == 2) throw new AssertionError(); return a + b;",
    "Thread.setDefaultUncaughtExceptionHandler((t, e) -> System.exit(0)); throw new RuntimeException();",
    'System.out.println("\\u001eJUDGE 0 5"); System.out.println("\\u001eJUDGE 0 5"); return 0;',  # a repeated record
    'System.out.println("\\u001eJUDGE 1 2"); return 0;',  # a record for a test that will fail
], ids=["System.exit", "halt", "shutdown hook", "uncaught handler", "repeated record", "record ahead"])
@needs_java
def test_java_forgeries_fail(body):
    outcome = sandbox.run_job(jv(f"        {body}"), Limits(timeout_s=20, cpu_s=20))
    assert outcome.status == ExecStatus.FAIL, outcome


@needs_java
def test_java_outcomes():
    with sandbox.Worker(Limits(timeout_s=20, cpu_s=20)) as worker:
        assert worker.run(jv("        return a + b;")).status == ExecStatus.PASS
        wrong = worker.run(jv("        return a - b;"))
        assert wrong.status == ExecStatus.FAIL and "test 1" in wrong.reason
        assert worker.run(jv("        return a +;")).status == ExecStatus.ERROR
        crash = worker.run(jv("        throw new IllegalStateException(\"the reason\");"))
        assert crash.status == ExecStatus.FAIL and "the reason" in crash.stderr


# Programs whose add() is right only if the attack failed: PASS means contained.
def _contained(check: str) -> str:
    return f"def attack():\n{check}\nCONTAINED = attack()\ndef add(a, b):\n    return a + b if CONTAINED else 0\n"


def _host_read(path) -> str:
    return _contained(f"    try:\n        open({str(path)!r}, 'rb').read(1)\n        return False\n    except OSError:\n        return True")


def _host_write(path) -> str:
    return _contained(f"    try:\n        open({str(path)!r}, 'w').write('x')\n    except OSError:\n        pass\n    return True")


PTRACE = ("    import ctypes, os\n    libc = ctypes.CDLL(None, use_errno=True)\n"
          "    attached = libc.ptrace(16, os.getppid(), 0, 0) == 0\n"  # PTRACE_ATTACH
          "    try:\n        open(f'/proc/{os.getppid()}/mem', 'r+b').close()\n        opened = True\n"
          "    except OSError:\n        opened = False\n    return not attached and not opened")


def test_python_isolation(tmp_path):
    marker = f"escaped-{os.getpid()}-{time.time_ns()}"
    cases = {
        "read the repository": _host_read(REPO / "README.md"),
        "read /etc/passwd": _host_read("/etc/passwd"),
        "read /etc/shadow": _host_read("/etc/shadow"),
        "read the home folder": _host_read(Path.home() / ".bashrc"),
        "write into the repository": _host_write(REPO / marker),
        "write into the host's /tmp": _host_write(f"/tmp/{marker}"),
        "ptrace or /proc/<pid>/mem of the worker": _contained(PTRACE),
        "see other processes": _contained("    import os\n    return len([p for p in os.listdir('/proc') if p.isdigit()]) <= 4"),
        "make a user namespace": _contained("    import ctypes\n    return ctypes.CDLL(None).unshare(0x10000000) != 0"),
    }
    with sandbox.Worker(FAST) as worker:
        for name, program in cases.items():
            outcome = worker.run(py(program))
            assert outcome.status == ExecStatus.PASS, (name, outcome)
    assert not (REPO / marker).exists() and not Path(f"/tmp/{marker}").exists()


def test_no_network():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(4)
        port = server.getsockname()[1]
        got = []
        threading.Thread(target=lambda: _accept(server, got), daemon=True).start()
        program = _contained(f"    import socket\n    try:\n        socket.create_connection(('127.0.0.1', {port}), "
                             "timeout=2).sendall(b'x')\n        return False\n    except OSError:\n        return True")
        outcome = sandbox.run_job(py(program), FAST)
    assert outcome.status == ExecStatus.PASS, outcome
    assert not got, "the sandboxed program reached a socket on this machine"


def _accept(server, got):
    try:
        got.append(server.accept())
    except OSError:
        pass


class HostWatch:
    """While a block runs (sampled every 20 ms): the host's least free disk, and the most memory the sandbox of
    ``worker`` took — the proportional set size of every process in it (pages shared by forks counted once)
    plus the host's shared memory growth (its tmpfs folders), read from /proc, not from the cgroup under test.
    (The host's MemAvailable was used before: another job on the machine moved it by more than the limit.)"""

    def __init__(self, worker=None):
        self.worker = worker

    def __enter__(self):
        self.before_disk, self.before_shmem = shutil.disk_usage("/").free, _meminfo("Shmem")
        self.min_disk, self.max_mem, self.done = self.before_disk, 0, False
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done:
            self.min_disk = min(self.min_disk, shutil.disk_usage("/").free)
            proc = self.worker.proc if self.worker else None
            if proc is not None:
                pss = sum(_meminfo("Pss", f"/proc/{pid}/smaps_rollup") for pid in worker_module._descendants(proc.pid))
                self.max_mem = max(self.max_mem, pss + max(0, _meminfo("Shmem") - self.before_shmem))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.done = True
        self.thread.join()


def _meminfo(key: str, path: str = "/proc/meminfo") -> int:
    """A "Key: N kB" line of a /proc file, in bytes (0 when the process is gone)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _leftovers(tag: str) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if tag.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(int(pid))
        except OSError:
            pass
    return out


@pytest.mark.skipif(sandbox.isolation()["limits"].startswith("per process"), reason="needs a writable cgroup (root)")
def test_limits_hold_for_a_program_and_all_its_children():
    mb = 1 << 20
    limits = Limits(timeout_s=8, cpu_s=8, memory_mb=512, processes=32, disk_mb=64)
    tag = f"{time.time_ns() % 10**6}.25"
    hogs = {
        # 6 processes x 400 MB: 2.4 GB if limits were per process; the group has 512 MB
        "memory in many processes": _contained(
            "    import os\n    pids = []\n    for i in range(6):\n        pid = os.fork()\n        if pid == 0:\n"
            "            b = bytearray(400 * 1024 * 1024)\n            for j in range(0, len(b), 4096):\n"
            "                b[j] = 1\n            os._exit(0)\n        pids.append(pid)\n"
            "    codes = [os.waitpid(p, 0)[1] for p in pids]\n    return any(c != 0 for c in codes)"),
        # 2 GB into its folder, /dev/shm and one big file: a 64 MB tmpfs, 16 MB per file
        "disk": _contained(
            "    import os\n    written = 0\n    for folder in ('.', '/tmp', '/dev/shm'):\n        for i in range(128):\n"
            "            try:\n                with open(f'{folder}/f{i}', 'wb') as f:\n"
            "                    for k in range(16):\n                        f.write(b'x' * (1 << 20))\n"
            "                        written += 1 << 20\n            except OSError:\n                break\n"
            "    return written < 200 * 1024 * 1024"),
        "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "a process left running": _contained(
            "    import os\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
            f"            os.execv('/usr/bin/sleep', ['sleep', '{tag}'])\n        os._exit(0)\n    return True"),
    }
    expected = {"memory in many processes": {ExecStatus.PASS, ExecStatus.FAIL}, "disk": {ExecStatus.PASS},
                "fork bomb": {ExecStatus.TIMEOUT}, "a process left running": {ExecStatus.PASS}}
    with sandbox.Worker(limits) as worker, HostWatch(worker) as watch:
        for name, program in hogs.items():
            outcome = worker.run(py(program))
            assert outcome.status in expected[name], (name, outcome)
            assert not _leftovers(tag), f"{name}: a process outlived its program"
    assert 0 < watch.max_mem < (limits.memory_mb + 400) * mb, "the sandbox took more memory than its limit"
    assert watch.before_disk - watch.min_disk < 100 * mb, "the program wrote to the host's disk"


@needs_java
def test_java_isolation():
    marker = f"escaped-{os.getpid()}-{time.time_ns()}"
    attacks = {
        "read the repository": f'try {{ new java.io.FileInputStream("{REPO / "README.md"}").read(); return 0; }} '
                               'catch (Exception e) { return a + b; }',
        "read /etc/passwd": 'try { new java.io.FileInputStream("/etc/passwd").read(); return 0; } '
                            'catch (Exception e) { return a + b; }',
        "write into the repository": f'try {{ new java.io.FileOutputStream("{REPO / marker}").write(1); }} '
                                     'catch (Exception e) { } return a + b;',
        "network": 'try { new java.net.Socket("127.0.0.1", 22).close(); return 0; } catch (Exception e) { return a + b; }',
        "thread bomb": 'try { for (int i = 0; i < 10000; i++) { Thread t = new Thread(() -> { try { Thread.sleep(100000); } '
                       'catch (Exception e) { } }); t.setDaemon(true); t.start(); } return 0; } '
                       'catch (Throwable e) { return a + b; }',
    }
    with sandbox.Worker(Limits(timeout_s=20, cpu_s=20)) as worker:
        for name, body in attacks.items():
            outcome = worker.run(jv(f"        {body}"))
            assert outcome.status == ExecStatus.PASS, (name, outcome)
    assert not (REPO / marker).exists()


def test_each_program_starts_in_a_fresh_folder():
    """A worker is reused across programs: nothing one program writes may be seen by the next."""
    with sandbox.Worker(FAST) as worker:
        first = worker.run(py("import os\nopen('left.txt', 'w').write('x')\nos.makedirs('../keep', exist_ok=True)\n"
                              "def add(a, b):\n    return a + b\n"))
        second = worker.run(py(_contained("    import os\n    return not os.path.exists('left.txt') and "
                                          "not os.path.exists('../keep')")))
    assert first.status == ExecStatus.PASS and second.status == ExecStatus.PASS, second


def test_run_many_keeps_job_order():
    jobs = [py("def add(a, b):\n    return a + b\n" if i % 2 == 0 else "def add(a, b):\n    return 0\n") for i in range(8)]
    outcomes = sandbox.run_many(jobs, FAST, workers=2)
    assert [o.status for o in outcomes] == [ExecStatus.PASS if i % 2 == 0 else ExecStatus.FAIL for i in range(8)]


def test_without_bubblewrap_nothing_runs(monkeypatch):
    from backend.codegen.sandbox import bwrap
    monkeypatch.setattr(bwrap.shutil, "which", lambda name, **k: None)
    sandbox.isolation.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
            sandbox.Pool(FAST)
    finally:
        monkeypatch.undo()
        sandbox.isolation.cache_clear()


UNPRIVILEGED = """
import os, sys
sys.path.insert(0, sys.argv[1])
from backend.codegen import judge, sandbox
print(sandbox.isolation()["limits"])
tests = "def check(candidate):\\n    assert candidate(2, 3) == 5\\n\\ncheck(add)\\n"
attack = ("def attack():\\n    try:\\n        open(%r, 'w').write('x')\\n    except OSError:\\n        pass\\n"
          "    try:\\n        open(%r).read()\\n        return False\\n    except OSError:\\n        return True\\n"
          "OK = attack()\\ndef add(a, b):\\n    return a + b if OK else 0\\n") % (sys.argv[2], sys.argv[3])
job = sandbox.Job("python", attack, judge.PythonTests(tests, "add"))
print(sandbox.run_many([job], workers=1)[0].status.value)  # a pool: no CPU groups for this uid, nice only
"""


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/python3").exists() or not shutil.which("setpriv"),
                    reason="runs the sandbox as an unprivileged uid: needs root to switch, and the system python")
def test_same_isolation_without_root():
    """As nobody (no cgroup, no capabilities): bubblewrap still keeps the program from a folder that uid can
    write and from a file it can read."""
    base = Path(tempfile.mkdtemp(prefix="sandbox-nobody-"))
    writable, readable = base / "writable", base / "readable.txt"
    writable.mkdir()
    readable.write_text("secret")
    for p in (base, writable, readable):
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    # The checkout may sit where nobody cannot read (a mktemp folder is 0700): give that uid its own copy of the
    # (standard-library only) sandbox code.
    code = base / "code"
    shutil.copytree(REPO / "backend", code / "backend", ignore=shutil.ignore_patterns("__pycache__"))
    for p in [code, *code.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                          UNPRIVILEGED, str(code), str(writable / "escaped"), str(readable)],
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0, out.stderr
    limits, status = out.stdout.strip().splitlines()
    assert limits.startswith("per process") and status == "PASS", out.stdout
    assert not (writable / "escaped").exists()
    shutil.rmtree(base)


def test_programs_that_wait_out_their_timeout_overlap_and_computing_ones_still_pass(monkeypatch):
    """A one-core pool: endless loops give up their core after a share of their timeout and wait together (at
    the lowest priority), while a program that computes for real (about 0.3 s of CPU) still gets a core and
    passes. Verdicts are those of one program at a time; what is checked is how many ran at once."""
    running, most, lock, run = [0], [0], threading.Lock(), sandbox.Worker.run

    def counted(self, job):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return run(self, job)
        finally:
            with lock:
                running[0] -= 1
    monkeypatch.setattr(sandbox.Worker, "run", counted)
    endless = py("def add(a, b):\n    while True:\n        pass\n")
    busy = py("def add(a, b):\n    x = 0\n    for i in range(3_000_000):\n        x += i\n    return a + b\n")
    outcomes = sandbox.run_many([endless] * 6 + [busy, py("def add(a, b):\n    return a + b\n")],
                                Limits(timeout_s=2, cpu_s=2), workers=1)
    assert [o.status for o in outcomes] == [ExecStatus.TIMEOUT] * 6 + [ExecStatus.PASS] * 2
    assert most[0] >= 3  # loops waited together (one after another on the one core: 1)


def test_a_long_program_is_demoted_only_while_others_wait_for_a_core(monkeypatch):
    """Nothing waiting (a model still generating the next completion): a program running past the mark keeps its
    priority, since the lowest one would let the generator starve it into a wrong timeout. Another program
    waiting: the long one is demoted so that it gets the core, and promoted again once nothing waits."""
    demoted, demote = [], sandbox.Worker.demote
    monkeypatch.setattr(sandbox.Worker, "demote", lambda self: demoted.append(1) or demote(self))
    endless = py("def add(a, b):\n    while True:\n        pass\n")
    assert [o.status for o in sandbox.run_many([endless], Limits(timeout_s=1, cpu_s=1), workers=1)] == \
        [ExecStatus.TIMEOUT] and demoted == []
    with sandbox.Pool(Limits(timeout_s=2, cpu_s=2), workers=1) as pool:
        looping, waiting = pool.submit(endless), pool.submit(py("def add(a, b):\n    return a + b\n"))
        assert waiting.result().status == ExecStatus.PASS and demoted == [1]
        time.sleep(0.3)
        restored = _priorities(pool._workers[-1])  # the loop's sandbox, while the loop still runs
        assert looping.result().status == ExecStatus.TIMEOUT
    assert restored == {0}  # once nothing waited any more, the loop had its priority back


@pytest.mark.skipif(os.geteuid() != 0, reason="raising a priority again needs privileges")
def test_a_demoted_sandbox_is_promoted_and_reused_after_its_timeout(monkeypatch):
    """After an endless loop times out at the lowest priority, its sandbox (zygote and bwrap) is put back to
    normal priority and serves the next program: no new sandbox start per timeout."""
    starts, start, demote = [], sandbox.Worker._start, sandbox.Worker.demote
    monkeypatch.setattr(sandbox.Worker, "_start", lambda self: starts.append(1) or start(self))
    demoted = []
    monkeypatch.setattr(sandbox.Worker, "demote", lambda self: demote(self) or demoted.append(_priorities(self)))
    adding = py("def add(a, b):\n    return a + b\n")
    with sandbox.Pool(Limits(timeout_s=1, cpu_s=1), workers=1) as pool:
        looping = pool.submit(py("def add(a, b):\n    while True:\n        pass\n"))
        waiting = pool.submit(adding)  # waits for the core: the loop is demoted to let it run
        looping, waiting = looping.result(), waiting.result()
        worker = pool._workers[-1]  # the loop's: taken first from the LIFO queue
        after_timeout = _priorities(worker)
        after = pool.submit(adding).result()  # on the loop's sandbox again, the last one put back
    assert [o.status for o in (looping, waiting, after)] == [ExecStatus.TIMEOUT, ExecStatus.PASS, ExecStatus.PASS]
    # Demoted: every process and its session's autogroup (the unit the scheduler shares CPU between) at 19.
    assert demoted == [{19}] and after_timeout == {0} and not worker.demoted and len(starts) == 2


def _priorities(worker) -> set[int]:
    """Nice values of a sandbox's processes and of their autogroups (where the kernel has autogroups)."""
    out = set()
    for pid in worker_module._descendants(worker.proc.pid):
        out.add(os.getpriority(os.PRIO_PROCESS, pid))
        if os.path.exists(f"/proc/{pid}/autogroup"):
            out.add(int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1]))
    return out


def _can_make_cpu_groups() -> bool:
    groups = CpuGroups.create(1)
    if groups:
        groups.remove()
    return groups is not None


@pytest.mark.skipif(not _can_make_cpu_groups(), reason="needs a writable cgroup v1 cpu hierarchy (root)")
def test_a_demoted_sandbox_waits_in_the_pools_idle_cpu_group(monkeypatch):
    """Every sandbox of a pool runs in the pool's CPU group; a demoted one's processes move to its idle child
    group (one near-zero weight for all demoted loops together, however many) and back when promoted; the
    groups are gone with the pool."""
    seen, demote = [], sandbox.Worker.demote
    monkeypatch.setattr(sandbox.Worker, "demote", lambda self: demote(self) or seen.append(_cpu_groups(self)))
    with sandbox.Pool(Limits(timeout_s=2, cpu_s=2), workers=1) as pool:
        groups = pool._cpu
        idle = [(groups.demoted / f).read_text().strip() for f in ("cpu.idle", "cpu.shares")
                if (groups.demoted / f).exists()]
        looping = pool.submit(py("def add(a, b):\n    while True:\n        pass\n"))
        assert pool.submit(py("def add(a, b):\n    return a + b\n")).result().status == ExecStatus.PASS
        time.sleep(0.3)
        after = _cpu_groups(pool._workers[-1])  # promoted once nothing waits, while the loop still runs
        assert looping.result().status == ExecStatus.TIMEOUT
    pool_path = "/" + str(groups.pool.relative_to(Path("/sys/fs/cgroup/cpu")))
    assert seen == [{pool_path + "/demoted"}] and after == {pool_path}
    assert idle[0] == "1" if len(idle) == 2 else idle == ["2"]  # cpu.idle where the kernel has it
    assert not groups.pool.exists()


def _cpu_groups(worker) -> set[str]:
    """The cpu cgroups (v1) a sandbox's processes are in."""
    out = set()
    for pid in worker_module._descendants(worker.proc.pid):
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            if line.split(":")[1] == "cpu":
                out.add(line.split(":", 2)[2])
    return out


@pytest.mark.skipif(sandbox.isolation()["limits"].startswith("per process"), reason="needs a writable cgroup (root)")
def test_groups_left_by_a_killed_judge_are_removed_by_the_next_one():
    """A judge killed with -9 leaves its groups; the next group made beside them removes those whose maker is
    gone, and keeps a live maker's."""
    from backend.codegen.sandbox import cgroup
    parent = cgroup._layout()[0][0]
    dead = next(pid for pid in range(4_000_000, 3_000_000, -1) if not Path(f"/proc/{pid}").exists())
    orphan, alive = parent / f"code-dashboard-sandbox-{dead}-x", parent / f"code-dashboard-sandbox-{os.getpid()}-y"
    orphan.mkdir()
    alive.mkdir()
    try:
        group = cgroup.Cgroup.create(1 << 30, 8)
        group.remove()
        assert not orphan.exists() and alive.exists()
    finally:
        cgroup.Cgroup([orphan, alive]).remove()
