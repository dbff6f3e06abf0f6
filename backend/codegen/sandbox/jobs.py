"""What the sandbox runs (a ``Job``: source and judge), within which ``Limits``, and its ``Outcome``."""
from __future__ import annotations

from dataclasses import dataclass

from backend.vocab import ExecStatus


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0  # the time a program had (zygote.Clock: waiting for a core does not count)
    cpu_s: int = 10
    memory_mb: int = 2048  # the program and its children together (cgroup); address space per process
    processes: int = 64  # threads count too: a JVM uses ~20
    file_mb: int = 16  # one file
    disk_mb: int = 64  # the program's folder in all (a tmpfs)
    # Wall-clock ceiling: a program that had less than timeout_s by then was starved by the machine, not
    # slow, and is ERROR with that reason (never TIMEOUT). None: max(60 s, 10 x timeout_s).
    ceiling_s: float | None = None

    @property
    def ceiling(self) -> float:
        return self.ceiling_s if self.ceiling_s is not None else max(60.0, 10 * self.timeout_s)


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
    judge: "PythonTests | ExpectedValues"  # noqa: F821 - codegen.judge's, which imports nothing of ours
