"""Processes of the dashboard's own: whether one is alive (the one check for runs, imports and their staging
folders), and starting heavy work in one (the one way: runs, recipes, speed measurements, search indexes and the
first start all go through ``spawn``)."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

NICE = 10  # below the dashboard's server: a page answers first, the work takes what is left
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS",
               "NUMEXPR_MAX_THREADS", "VECLIB_MAXIMUM_THREADS")


def alive(pid) -> bool:
    """True while process ``pid`` exists on this machine. A process of another user is alive too: signalling
    it is refused (PermissionError), which is no sign of its end. Not a whole number: False."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_threads(cpus: int | None = None) -> int:
    """Threads a worker computes with: every core but one, which stays for the server (2 cores: 1)."""
    return max(1, (cpus or os.cpu_count() or 2) - 1)


def worker_env(env: dict | None = None, threads: int | None = None) -> dict:
    """``env`` (default: this process's) with the math libraries bounded to ``threads`` (torch reads
    OMP_NUM_THREADS for its intra-op pool; tokenizers' own pool is turned off)."""
    n = str(threads or worker_threads())
    return {**(os.environ if env is None else env), **dict.fromkeys(THREAD_VARS, n), "TOKENIZERS_PARALLELISM": "false"}


# The middle process of ``orphan``: starts the worker and ends at once, so the worker's parent is init, which
# reaps it (the caller may exec another program that never waits for children). It writes the pid to a pipe.
_MIDDLE = "import os, subprocess, sys; os.write(int(sys.argv[1]), str(subprocess.Popen(sys.argv[2:]).pid).encode())"


def spawn(args: list[str], cwd: Path, log: Path | None = None, env: dict | None = None,
          threads: int | None = None, orphan: bool = False, new_session: bool = True) -> int:
    """Start ``args`` in the background at lower CPU priority (nice +10) with bounded threads; returns its pid.

    Output goes to ``log`` (None: this process's). The child is never left a zombie: a thread of this process
    waits for it, or with ``orphan`` (a caller about to exec) it is handed to init. ``new_session``: a session of
    its own, so a Ctrl+C of the terminal does not reach it (False: it stops with the terminal's process group)."""
    command = ["nice", "-n", str(NICE), *args]
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "w") if log else None
    try:
        common = dict(cwd=cwd, env=worker_env(env, threads), stdin=subprocess.DEVNULL, stdout=out,
                      stderr=subprocess.STDOUT if out else None, start_new_session=new_session)
        if not orphan:
            proc = subprocess.Popen(command, **common)
            threading.Thread(target=proc.wait, daemon=True, name=f"reaper {proc.pid}").start()
            return proc.pid
        read, write = os.pipe()
        try:
            middle = subprocess.Popen([sys.executable, "-c", _MIDDLE, str(write), *command], pass_fds=(write,),
                                      **common)
        finally:
            os.close(write)
        middle.wait()
        with os.fdopen(read) as pid:
            return int(pid.read() or 0)
    finally:
        if out:
            out.close()


def last_line(log: Path) -> str:
    """The last line a background process wrote to its log ('' before its first): its progress, or its error."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = f.read().decode("utf-8", "replace").replace("\r", "\n").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def try_lock(path: Path):
    """An exclusive flock on ``path`` held for as long as the returned file stays open (the process's life),
    or None when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(path, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def lock_held(path: Path) -> bool:
    """True while some process holds an exclusive flock on ``path``."""
    if not Path(path).is_file():
        return False
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False
