"""Execute untrusted generated code: one fresh child process per program, limited, isolated, killed on time.

Each program gets its own temporary folder, process group and session, resource limits (CPU seconds,
address space, processes, file size, no core files), a scrubbed environment and a wall-clock timeout that
kills the whole group. When we are root (the usual container), it also gets new network, mount and PID
namespaces and an unprivileged uid of its own per worker slot:
- no network: the new network namespace has only a downed loopback, so every connect fails;
- the only writable folder is its own (bind-mounted over /tmp; /var/tmp, /dev/shm, /run/lock are fresh
  tmpfs), and the uid cannot write anywhere else;
- it runs as PID 1 of its namespace: when it ends, the kernel kills everything it started, and it cannot
  signal this process (other uid, and its parent is outside the namespace).
Without root, a user+network namespace is used when the kernel allows it; otherwise sockets are blocked in
the program itself (a Python prelude; Java's security manager with an empty policy). ``isolation()`` says
which mode is in effect, and runs record it.
"""
from __future__ import annotations

import functools
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

SLOT_UID_BASE = 61000  # worker slot i runs as uid 61000 + i: limits and leftovers never mix between slots
TAIL_CHARS = 2000


class Status(str, Enum):
    PASS = "PASS"  # ran, every test held
    FAIL = "FAIL"  # ran, a test failed or the program crashed (exception, memory, signal)
    TIMEOUT = "TIMEOUT"  # wall-clock or CPU limit reached
    ERROR = "ERROR"  # never ran: does not compile / parse, or the sandbox could not start it


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 2048  # address space; a JVM needs ~1.5 GB of it with the flags below
    processes: int = 64  # threads count too: a JVM uses ~20
    file_mb: int = 16


@dataclass(frozen=True)
class Outcome:
    status: Status
    seconds: float
    stderr: str = ""  # the tail, for the run's log


@dataclass(frozen=True)
class Step:
    """One command of a language's recipe; a failure of a ``compile`` step means ERROR, not FAIL."""
    argv: list[str]
    compile: bool = False


@dataclass(frozen=True)
class Language:
    name: str
    file_name: str
    steps: "callable"  # (isolation mode, work folder) -> list[Step]
    socket_block: str = ""  # prepended to the program when no network namespace is available


LANGUAGES: dict[str, Language] = {}


def register_language(lang: Language):
    if lang.name in LANGUAGES:
        raise ValueError(f"sandbox language {lang.name!r} is already registered")
    LANGUAGES[lang.name] = lang


_PY_SOCKET_BLOCK = (
    "import socket as _s\n"
    "def _no_network(*a, **k):\n    raise OSError('network is disabled in the sandbox')\n"
    "_s.socket = _s.create_connection = _s.socketpair = _no_network\n"
    "del _s, _no_network\n")
JVM_FLAGS = ["-Xmx256m", "-Xss1m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m",
             "-XX:MaxMetaspaceSize=128m", "-XX:CompressedClassSpaceSize=64m"]


def _python_steps(mode: str, work: Path) -> list[Step]:
    # -I -S: no site packages, no PYTHON* variables, no cwd on sys.path. A uid of its own cannot read our venv
    # (it lives under /root), so it gets the system interpreter: the problems need the standard library only.
    python = shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin") if mode == "namespaces+uid" else None
    return [Step([python or sys.executable, "-I", "-S", "prog.py"])]


def _java_steps(mode: str, work: Path) -> list[Step]:
    block = []
    if mode == "limits-only":  # no namespace: a security manager whose policy grants no socket permission
        (work / "sandbox.policy").write_text('grant { permission java.io.FilePermission "<<ALL FILES>>", "read"; };\n')
        block = ["-Djava.security.manager=default", f"-Djava.security.policy=={work / 'sandbox.policy'}"]
    return [Step(["javac", "-nowarn", *(f"-J{f}" for f in JVM_FLAGS), "Problem.java"], compile=True),
            Step(["java", *JVM_FLAGS, *block, "-cp", ".", "Problem"])]


register_language(Language("python", "prog.py", _python_steps, _PY_SOCKET_BLOCK))
register_language(Language("java", "Problem.java", _java_steps))


@functools.lru_cache(maxsize=1)
def isolation() -> str:
    """'namespaces+uid' (root), 'user-namespace' (unprivileged but allowed) or 'limits-only'."""
    if os.geteuid() == 0 and _works(["unshare", "--net", "--mount", "--pid", "--fork", "true"]):
        return "namespaces+uid"
    if _works(["unshare", "--user", "--map-root-user", "--net", "true"]):
        return "user-namespace"
    return "limits-only"


def _works(argv) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_program(language: str, source: str, limits: Limits = Limits(), slot: int = 0,
                mode: str | None = None) -> Outcome:
    """Run one program (a completion with its tests) in the sandbox; its exit status decides the outcome."""
    lang = LANGUAGES[language]
    mode = mode or isolation()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sandbox-") as work:
        work = Path(work)
        if mode == "limits-only" and lang.socket_block:
            source = lang.socket_block + source
        (work / lang.file_name).write_text(source)
        uid = SLOT_UID_BASE + slot
        steps = lang.steps(mode, work)
        if mode == "namespaces+uid":
            os.chmod(work, 0o700)
            for p in (work, *work.iterdir()):
                os.chown(p, uid, uid)
        for step in steps:
            outcome = _run_step(step, work, limits, uid, mode, start)
            if outcome is not None:
                return outcome
        return Outcome(Status.PASS, time.monotonic() - start, _tail(work))


def _run_step(step: Step, work: Path, limits: Limits, uid: int, mode: str, start: float) -> Outcome | None:
    """Run one step; None if it succeeded, else the run's outcome."""
    argv = _wrap(step.argv, work, limits, uid, mode)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp" if mode == "namespaces+uid" else str(work)}
    remaining = limits.timeout_s - (time.monotonic() - start)
    with open(work / ".stderr", "ab") as err:
        try:
            proc = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, start_new_session=True)
        except OSError as e:
            return Outcome(Status.ERROR, time.monotonic() - start, f"the sandbox could not start {argv[0]}: {e}")
        try:
            rc = proc.wait(timeout=max(remaining, 0.01))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Outcome(Status.TIMEOUT, time.monotonic() - start, _tail(work))
    if rc == 0:
        return None
    signum = -rc if rc < 0 else rc - 128 if rc > 128 else 0
    if signum == signal.SIGXCPU:
        return Outcome(Status.TIMEOUT, time.monotonic() - start, _tail(work))
    return Outcome(Status.ERROR if step.compile else Status.FAIL, time.monotonic() - start, _tail(work))


def _wrap(argv: list[str], work: Path, limits: Limits, uid: int, mode: str) -> list[str]:
    mb = 1024 * 1024
    limited = ["prlimit", f"--cpu={limits.cpu_s}", f"--as={limits.memory_mb * mb}", f"--nproc={limits.processes}",
               f"--fsize={limits.file_mb * mb}", "--core=0", *argv]
    if mode == "namespaces+uid":
        # Inside the new namespaces: our folder becomes /tmp, the other world-writable places fresh tmpfs,
        # then drop to the slot's uid (no capabilities, no setuid gains) and exec the limited program.
        script = ('mount --bind "$0" /tmp && for d in /var/tmp /dev/shm /run/lock; do '
                  '[ -d $d ] && mount -t tmpfs -o size=1m tmpfs $d; done; cd /tmp && '
                  f'exec setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs "$@"')
        return ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
                "sh", "-c", script, str(work), *limited]
    if mode == "user-namespace":
        return ["unshare", "--user", "--map-root-user", "--net", *limited]
    return limited


def _kill_group(proc: subprocess.Popen):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _tail(work: Path) -> str:
    try:
        with open(work / ".stderr", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - TAIL_CHARS, 0))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Pool:
    """Programs run ``workers`` at a time, each worker with its own slot (uid); ``submit`` returns a Future.

    Used while a model is still generating: execution overlaps generation instead of waiting for it.
    """

    def __init__(self, limits: Limits = Limits(), workers: int | None = None):
        self.limits, self.workers = limits, max(1, workers or os.cpu_count() or 1)
        self._slots = queue.SimpleQueue()
        for slot in range(self.workers):
            self._slots.put(slot)
        self._executor = ThreadPoolExecutor(self.workers)

    def submit(self, language: str, source: str) -> Future:
        return self._executor.submit(self._run, language, source)

    def _run(self, language, source):
        slot = self._slots.get()
        try:
            return run_program(language, source, self.limits, slot)
        finally:
            self._slots.put(slot)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)


def run_many(jobs: list[tuple[str, str]], limits: Limits = Limits(), workers: int | None = None) -> list[Outcome]:
    """Run (language, program) jobs in parallel; outcomes in job order."""
    with Pool(limits, workers) as pool:
        futures = [pool.submit(language, source) for language, source in jobs]
        return [f.result() for f in futures]
