"""Execute untrusted generated code: a fresh child process per program, limited, isolated, killed on time.

One worker per slot (core) lives inside the isolation and forks a child per program (zygote.py): the child
gets its own session, resource limits (CPU seconds, address space, processes, file size, no core files), a
scrubbed environment, its own empty folder and a wall-clock timeout that kills its whole group; afterwards
the worker kills whatever the program left running and wipes the folder. When we are root (the usual
container), the worker runs in new network, mount and PID namespaces as an unprivileged uid of its slot:
- no network: the new network namespace has only a downed loopback, so every connect fails;
- the only writable folder is its own (bind-mounted over /tmp; /var/tmp, /dev/shm, /run/lock are fresh
  tmpfs), and the uid cannot write anywhere else;
- the worker is PID 1 of its namespace: programs cannot signal it or anything outside, and when it ends the
  kernel kills everything inside.
Without root, a user + network + PID namespace is used when the kernel allows it; otherwise limits only, with
sockets blocked in the program itself (a Python prelude; Java's security manager with an empty policy).
``isolation()`` says which mode is in effect, and runs record it.
"""
from __future__ import annotations

import functools
import json
import os
import queue
import select
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

from backend import registry

SLOT_UID_BASE = 61000  # worker slot i runs as uid 61000 + i: limits and leftovers never mix between slots


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
    """One command of a language's recipe; argv None: run prog.py in the forked child (Python).

    A failing ``compile`` step means ERROR (never ran), not FAIL."""
    argv: list[str] | None
    compile: bool = False


@dataclass(frozen=True)
class Language:
    name: str
    file_name: str
    steps: "callable"  # isolation mode -> list[Step]
    socket_block: str = ""  # prepended to the program when no network namespace is available


LANGUAGES: dict[str, Language] = {}


def register_language(lang: Language):
    registry.add(LANGUAGES, lang.name, lang, "sandbox language")


_PY_SOCKET_BLOCK = (
    "import socket as _s\n"
    "def _no_network(*a, **k):\n    raise OSError('network is disabled in the sandbox')\n"
    "_s.socket = _s.create_connection = _s.socketpair = _no_network\n"
    "del _s, _no_network\n")
JVM_FLAGS = ["-Xmx256m", "-Xss1m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m",
             "-XX:MaxMetaspaceSize=128m", "-XX:CompressedClassSpaceSize=64m"]
POLICY = 'grant { permission java.io.FilePermission "<<ALL FILES>>", "read"; };\n'


def _java_steps(mode: str) -> list[Step]:
    javac, java = (shutil.which(t, path="/usr/bin:/bin:/usr/local/bin") or t for t in ("javac", "java"))
    # Without a network namespace: a security manager whose policy grants no socket permission.
    block = ["-Djava.security.manager=default", "-Djava.security.policy==sandbox.policy"] if mode == "limits-only" else []
    return [Step([javac, "-nowarn", *(f"-J{f}" for f in JVM_FLAGS), "Problem.java"], compile=True),
            Step([java, *JVM_FLAGS, *block, "-cp", ".", "Problem"])]


register_language(Language("python", "prog.py", lambda mode: [Step(None)], _PY_SOCKET_BLOCK))
register_language(Language("java", "Problem.java", _java_steps))


@functools.lru_cache(maxsize=1)
def isolation() -> str:
    """'namespaces+uid' (root), 'user-namespace' (unprivileged but allowed) or 'limits-only'."""
    if os.geteuid() == 0 and _works(["unshare", "--net", "--mount", "--pid", "--fork", "true"]):
        return "namespaces+uid"
    if _works(["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "true"]):
        return "user-namespace"
    return "limits-only"


def _works(argv) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Worker:
    """One sandbox slot: a long-lived worker process already inside the namespaces, as the slot's uid,
    that forks a fresh child per program (see zygote.py). Namespaces and interpreter start once per slot,
    not once per program."""

    def __init__(self, slot: int = 0, mode: str | None = None):
        self.slot, self.mode = slot, mode or isolation()
        self.uid = SLOT_UID_BASE + slot
        self.proc = None

    def _start(self):
        self.home = Path(tempfile.mkdtemp(prefix=f"sandbox-{self.slot}-"))
        own = self.mode == "namespaces+uid"
        if own:
            os.chmod(self.home, 0o700)
            os.chown(self.home, self.uid, self.uid)
        # Our venv's interpreter may sit in a folder the slot's uid cannot read (/root): use the system one.
        python = (shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin") if own else None) or sys.executable
        argv = [python, "-I", "-S", "-c", ZYGOTE_CODE]
        if own:
            # New namespaces; our folder becomes /tmp, the other world-writable places fresh tmpfs; then the
            # slot's uid, no capabilities, no privilege gain on exec.
            script = ('mount --bind "$0" /tmp && for d in /var/tmp /dev/shm /run/lock; do '
                      '[ -d $d ] && mount -t tmpfs -o size=1m tmpfs $d; done; cd /tmp && '
                      f'exec setpriv --reuid={self.uid} --regid={self.uid} --clear-groups --no-new-privs "$@"')
            argv = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
                    "sh", "-c", script, str(self.home), *argv]
        elif self.mode == "user-namespace":
            argv = ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child", *argv]
        self.proc = subprocess.Popen(argv, cwd=self.home, env=_ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True, text=True, bufsize=1)

    def run(self, language: str, source: str, limits: Limits = Limits()) -> Outcome:
        lang = LANGUAGES[language]
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
        files = {lang.file_name: (lang.socket_block if self.mode == "limits-only" else "") + source}
        if language == "java" and self.mode == "limits-only":
            files["sandbox.policy"] = POLICY
        mb = 1024 * 1024
        request = {"files": files, "steps": [{"argv": s.argv, "compile": s.compile} for s in lang.steps(self.mode)],
                   "timeout": limits.timeout_s, "cpu": limits.cpu_s, "memory": limits.memory_mb * mb,
                   "fsize": limits.file_mb * mb, "env": _ENV,
                   # RLIMIT_NPROC counts every process of the uid: only meaningful for a uid of the slot's own.
                   "nproc": limits.processes if self.mode == "namespaces+uid" else None}
        start = time.monotonic()
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            ready = select.select([self.proc.stdout], [], [], limits.timeout_s + 30)[0]
            line = self.proc.stdout.readline() if ready else ""
        except OSError:
            line = ""
        if not line:  # the worker died or hung: only a program outside a PID namespace can do that
            self.close()
            return Outcome(Status.FAIL, time.monotonic() - start, "the program killed or stalled its sandbox worker")
        answer = json.loads(line)
        return Outcome(Status(answer["status"]), answer["seconds"], answer["stderr"])

    def close(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
ZYGOTE_CODE = (Path(__file__).with_name("zygote.py")).read_text()


def run_program(language: str, source: str, limits: Limits = Limits(), slot: int = 0,
                mode: str | None = None) -> Outcome:
    """Run one program (a completion with its tests); its exit status decides the outcome."""
    with Worker(slot, mode) as worker:
        return worker.run(language, source, limits)


class Pool:
    """Programs run ``workers`` at a time, each worker with its own slot (uid); ``submit`` returns a Future.

    Used while a model is still generating: execution overlaps generation instead of waiting for it.
    """

    def __init__(self, limits: Limits = Limits(), workers: int | None = None):
        self.limits, self.workers = limits, max(1, workers or os.cpu_count() or 1)
        self._slots = queue.SimpleQueue()
        self._workers = [Worker(slot) for slot in range(self.workers)]
        for worker in self._workers:
            self._slots.put(worker)
        self._executor = ThreadPoolExecutor(self.workers)

    def submit(self, language: str, source: str) -> Future:
        return self._executor.submit(self._run, language, source)

    def _run(self, language, source):
        worker = self._slots.get()
        try:
            return worker.run(language, source, self.limits)
        finally:
            self._slots.put(worker)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)
        for worker in self._workers:
            worker.close()


def run_many(jobs: list[tuple[str, str]], limits: Limits = Limits(), workers: int | None = None) -> list[Outcome]:
    """Run (language, program) jobs in parallel; outcomes in job order."""
    with Pool(limits, workers) as pool:
        futures = [pool.submit(language, source) for language, source in jobs]
        return [f.result() for f in futures]
