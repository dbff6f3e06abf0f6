"""Limits that hold for a sandbox worker and everything it forks, together: one cgroup per worker.

cgroup v2 (``memory.max``, ``memory.swap.max``, ``pids.max``) or, on a v1 / hybrid host, the v1 memory and
pids hierarchies. Made only where this process may write its own cgroup's folder (root, or a delegated
subtree); elsewhere ``create`` returns None and the sandbox says which limits it has (per process only).
tmpfs pages count as the writer's memory, so the program's capped tmpfs folder is inside this limit too.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """controller ('' for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    out = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


def _layout() -> list[tuple[Path, dict[str, str]]]:
    """Folders to make one group in, with the limit files to write there."""
    own = _own_paths()
    if (ROOT / "cgroup.controllers").is_file():  # pure v2
        return [(ROOT / own.get("", "/").lstrip("/"), {"memory": "memory.max", "swap": "memory.swap.max",
                                                       "pids": "pids.max"})]
    if "memory" in own and "pids" in own and (ROOT / "memory").is_dir() and (ROOT / "pids").is_dir():
        return [(ROOT / "memory" / own["memory"].lstrip("/"), {"memory": "memory.limit_in_bytes",
                                                               "swap": "memory.memsw.limit_in_bytes"}),
                (ROOT / "pids" / own["pids"].lstrip("/"), {"pids": "pids.max"})]
    return []


def _new_folder(parent: Path, what: str) -> Path:
    """A group folder named for its maker (``code-dashboard-<what>-<pid>-<random>``), after removing the groups
    of makers that are gone: a judge killed with -9 cannot remove its own, and a year of nightly runs would
    leave thousands behind."""
    prefix = f"code-dashboard-{what}-"
    for old in parent.glob(prefix + "*"):
        maker = old.name[len(prefix):].split("-")[0]
        if maker.isdigit() and not Path(f"/proc/{maker}").exists():
            Cgroup([*(f for f in old.rglob("*") if f.is_dir())][::-1] + [old]).remove()
    return parent / f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:12]}"


def joining(procs: list[str], argv: list[str]) -> list[str]:
    """argv that joins these groups (their ``cgroup.procs`` files), then execs ``argv``: everything it forks
    starts inside."""
    script = ('n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 97; shift; n=$((n-1)); done; '
              'exec "$@"')
    return ["sh", "-c", script, "sh", str(len(procs)), *procs, *argv] if procs else argv


class Cgroup:
    def __init__(self, folders: list[Path]):
        self.folders = folders

    @classmethod
    def create(cls, memory_bytes: int, pids: int) -> "Cgroup | None":
        """A new group with these limits, or None where we may not make one."""
        made = []
        try:
            for parent, files in _layout():
                folder = _new_folder(parent, "sandbox")
                folder.mkdir()
                made.append(folder)
                for what, value in (("memory", memory_bytes), ("swap", memory_bytes), ("pids", pids)):
                    name = files.get(what)
                    if name and not (folder / name).exists() and what != "swap":
                        raise OSError(f"no {name} (the {what} controller is not enabled for this group)")
                    if name and (folder / name).exists():
                        # v2 swap.max is swap beyond memory: none. v1 memsw is memory + swap: the same cap.
                        (folder / name).write_text("0" if name == "memory.swap.max" else str(value))
        except OSError:
            cls(made).remove()
            return None
        return cls(made) if made else None

    @property
    def procs(self) -> list[str]:
        """The files a process writes its pid to, to join this group (``joining``)."""
        return [str(f / "cgroup.procs") for f in self.folders]

    def oom_kills(self) -> int:
        """How many processes the kernel killed for going over the memory limit, so far."""
        for folder in self.folders:
            for name in ("memory.events", "memory.oom_control"):
                try:
                    for line in (folder / name).read_text().splitlines():
                        if line.startswith("oom_kill "):
                            return int(line.split()[1])
                except OSError:
                    continue
        return 0

    def remove(self):
        """Kill what is left inside and delete the group."""
        for folder in self.folders:
            deadline = time.monotonic() + 5
            while folder.exists():
                try:
                    for pid in (folder / "cgroup.procs").read_text().split():
                        os.kill(int(pid), signal.SIGKILL)
                    folder.rmdir()
                except (OSError, ValueError):
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


class CpuGroups:
    """A pool's CPU groups (cgroup v1 ``cpu``): one group for all its sandboxes, and inside it an idle group for
    the demoted ones.

    Why groups and not only nice: a demoted sandbox's processes at nice 19 still weigh 15/1024 each, and a pool
    demotes up to a dozen endless loops at once, which then took about a fifth of the cores from the programs
    that compute; an idle group (``cpu.idle``, or the lowest ``cpu.shares``) weighs as one near-zero task
    whatever it holds. Inside a cgroup other than the root, autogroup no longer applies: the pool group weighs
    as much as ``weight`` normal tasks against the rest of the machine (the model generating beside it).
    None where there is no writable v1 ``cpu`` hierarchy (pure cgroup v2, or no privileges): the pool then
    demotes by nice alone.
    """

    def __init__(self, pool: Path, demoted: Path):
        self.pool, self.demoted = pool, demoted

    @classmethod
    def create(cls, weight: int) -> "CpuGroups | None":
        own = _own_paths().get("cpu")
        parent = ROOT / "cpu" / (own or "").lstrip("/")
        if own is None or not (parent / "cpu.shares").is_file():
            return None
        pool = _new_folder(parent, "pool")
        try:
            pool.mkdir()
            (pool / "cpu.shares").write_text(str(1024 * weight))
            demoted = pool / "demoted"
            demoted.mkdir()
            if (demoted / "cpu.idle").is_file():
                (demoted / "cpu.idle").write_text("1")
            else:
                (demoted / "cpu.shares").write_text("2")  # the lowest weight v1 takes
        except OSError:
            Cgroup([pool / "demoted", pool]).remove()
            return None
        return cls(pool, demoted)

    @property
    def procs(self) -> str:
        """The file a process writes its pid to, to join the pool group (``joining``)."""
        return str(self.pool / "cgroup.procs")

    def move(self, pids: list[int], demoted: bool) -> bool:
        """Move these processes into the demoted group, or back into the pool group; False if not allowed."""
        target = (self.demoted if demoted else self.pool) / "cgroup.procs"
        for pid in pids:
            try:
                target.write_text(str(pid))
            except ProcessLookupError:  # gone already
                pass
            except OSError:
                return False
        return True

    def remove(self):
        Cgroup([self.demoted, self.pool]).remove()
