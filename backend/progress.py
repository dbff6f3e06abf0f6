"""Progress of long work, tqdm-style (done/total, rate, ETA), written for the pages and echoed to the terminal.

A ``Reporter`` owns one progress file (a run's progress.json, the first start's): every report rewrites it,
so a page shows where the work is within a couple of seconds; the terminal gets a line per stage and at most
one line every few seconds in between, so a log stays readable. A ``Meter`` counts one stage's items.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

from backend.fileio import write_atomic


def clock(seconds: float) -> str:
    """0:42, 3:05, 1:02:09."""
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Reporter:
    """``reporter(fraction, message)`` writes {fraction, message, time, started, pid, host} to ``path`` (None:
    the terminal only); the pid and host let a page tell a dead process from a live one. ``throttled`` reports (a Meter's per-batch ones)
    reach the terminal at most every ``every`` seconds."""

    def __init__(self, path: Path | None, echo: bool = True, every: float = 5.0):
        self.path, self.echo, self.every = path and Path(path), echo, every
        self.started = time.time()
        self._printed, self._stage = 0.0, None

    def __call__(self, fraction: float, message: str, quiet: bool = False, throttled: bool = False):
        now = time.time()
        if self.path:
            write_atomic(self.path, json.dumps(
                {"fraction": round(min(max(fraction, 0.0), 1.0), 4), "message": message, "time": now,
                 "started": self.started, "pid": os.getpid(), "host": socket.gethostname()}), durable=False)
        # A report of the same stage as the last printed one (the same text but its numbers: "step 7/400
        # loss 0.31") waits its turn like a Meter's; a new stage prints at once.
        stage = re.sub(r"[\d.,:]+", "#", message)
        throttled = throttled or stage == self._stage
        if self.echo and not quiet and (not throttled or now - self._printed >= self.every):
            self._printed, self._stage = now, stage
            print(f"[{fraction:6.1%}] {message}", flush=True)


class Meter:
    """One stage's count: ``advance(n)`` after each batch reports "what: done/total unit · rate · ETA", with
    the stage filling ``span`` of the whole bar. ``total`` None: a count and a rate, no ETA."""

    def __init__(self, report: Callable[..., None], what: str, total: int | None, unit: str,
                 span: tuple[float, float] = (0.0, 1.0), clock_fn: Callable[[], float] = time.monotonic):
        self.report, self.what, self.total, self.unit, self.span = report, what, total, unit, span
        self.clock, self.start, self.done = clock_fn, clock_fn(), 0
        report(span[0], f"{what}: starting")

    def advance(self, n: int = 1):
        self.done += n
        finished = self.total is not None and self.done >= self.total
        self.report(self.fraction(), self.message(), throttled=not finished)

    def fraction(self) -> float:
        share = min(self.done / self.total, 1.0) if self.total else 0.0
        return self.span[0] + (self.span[1] - self.span[0]) * share

    def message(self) -> str:
        elapsed = self.clock() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        count = f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"
        text = f"{self.what}: {count} {self.unit} · {rate:,.1f} {self.unit}/s · {clock(elapsed)} elapsed"
        if self.total is not None and 0 < rate and self.done < self.total:
            text += f" · ETA {clock((self.total - self.done) / rate)}"
        return text


def read(path: Path) -> dict:
    """The last report in ``path`` ({} if none yet or unreadable)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
