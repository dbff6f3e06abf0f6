"""One sandbox slot: a long-lived bwrap sandbox whose zygote forks a fresh child per program; the status of a
program from the judge's verdict and the zygote's account of the process."""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

from backend.codegen import judge as judging
from backend.codegen.channel import Channel, ProgramGone
from backend.codegen.sandbox.bwrap import ENV, ZYGOTE_CODE, bwrap_argv, isolation, python
from backend.codegen.sandbox.cgroup import Cgroup, CpuGroups, joining
from backend.codegen.sandbox.jobs import Job, Limits, Outcome
from backend.codegen.sandbox.toolchains import TOOLCHAINS
from backend.vocab import ExecStatus


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
        argv = [*bwrap_argv(self.limits.disk_mb), python()[0], "-I", "-S", "-c", ZYGOTE_CODE, str(theirs.fileno())]
        argv = joining([*(self.cgroup.procs if self.cgroup else []), *([self.cpu.procs] if self.cpu else [])], argv)
        self.proc = subprocess.Popen(argv, env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), start_new_session=True,
                                     text=True, bufsize=1)
        theirs.close()
        self.sock = mine

    def run(self, job: Job) -> Outcome:
        """Run and judge one program. Never raises: whatever goes wrong is this program's ERROR, with the
        reason, and the worker is replaced, so that the next program's verdict cannot depend on this one."""
        start = time.monotonic()
        try:
            return self._run(job)
        except Exception as e:  # noqa: BLE001 - a judge or worker failure must not escape into the pool
            self.close()
            return Outcome(ExecStatus.ERROR, time.monotonic() - start, "", f"judge: {type(e).__name__}: {e}"[:300])

    def _run(self, job: Job) -> Outcome:
        toolchain, limits = TOOLCHAINS[job.language], self.limits
        early = job.judge.precheck(job.source)
        if early is not None:  # does not parse: nothing runs
            return Outcome(ExecStatus.ERROR, 0.0, "", early.reason)
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
        mb = 1024 * 1024
        request = {"files": {toolchain.file_name: job.source},
                   "steps": [{"argv": s.argv, "compile": s.compile} for s in toolchain.steps()],
                   "timeout": limits.timeout_s, "ceiling": limits.ceiling, "cpu": limits.cpu_s,
                   "memory": limits.memory_mb * mb, "fsize": limits.file_mb * mb, "nproc": limits.processes,
                   "env": ENV}
        ooms = self.cgroup.oom_kills() if self.cgroup else 0
        start = time.monotonic()
        to_program, from_judge = os.pipe()  # requests: we write, the program reads
        from_program, to_judge = os.pipe()  # answers: the program writes, we read
        # The zygote enforces the program's time (its Clock); the judge waits up to the wall-clock ceiling.
        channel = Channel(from_judge, from_program, start + limits.ceiling + 2)
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
        except ProgramGone as e:
            judgement = judging.Judgement(judging.Verdict.INCOMPLETE, str(e))
        finally:
            channel.close()
        answer = self._answer(limits.ceiling + 5 - (time.monotonic() - start))
        if not answer.get("clean", False):  # something of the program is left: the next one gets a new sandbox
            self.close()
        oom = bool(self.cgroup) and self.cgroup.oom_kills() > ooms
        status, reason = decide(judgement, answer, oom, limits)
        return Outcome(status, answer.get("seconds", time.monotonic() - start), answer.get("stderr", ""), reason)

    def _answer(self, wait_s: float) -> dict:
        """The zygote's account of the program; a worker that is gone or garbled is replaced."""
        try:
            ready = select.select([self.proc.stdout], [], [], max(wait_s, 0.1))[0]
            answer = json.loads(self.proc.stdout.readline()) if ready else None
        except (OSError, ValueError):
            answer = None
        if not isinstance(answer, dict):  # the program killed or stopped its worker: a new one for the next
            self.close()
            return {"ended": "worker", "code": None}
        return answer

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


def decide(judgement: "judging.Judgement", answer: dict, oom: bool, limits: Limits) -> tuple[ExecStatus, str]:
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
    if ended == "starved":  # the machine's fault, not the program's: never a TIMEOUT
        return ExecStatus.ERROR, (f"the machine was too busy: the program had {answer.get('ran', 0):.1f} s of its "
                                  f"{limits.timeout_s:g} s in {limits.ceiling:g} s of wall time")
    if oom:
        return ExecStatus.FAIL, "memory limit: the kernel killed the program"
    how = {"exit": f"exit status {answer.get('code')}", "signal": f"signal {answer.get('code')}",
           "worker": "its sandbox worker went away"}.get(ended, str(ended))
    return ExecStatus.FAIL, f"the program ended before the tests did ({how}): {judgement.reason}"


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
