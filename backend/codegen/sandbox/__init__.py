"""Execute untrusted generated code under bubblewrap, judged from outside (codegen/judge.py).

The package: ``jobs`` (what runs, its limits, its outcome), ``toolchains`` (how each language is built and
run: Python in the forked child, javac + java), ``bwrap`` (the isolation and its command line), ``cgroup``
(limits for a worker and all it forks), ``worker`` (one sandbox, one program at a time, the status from the
judge's verdict), ``pool`` (programs in parallel, a core each). The program side is ``codegen/zygote.py``.

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
  namespace), no core files; a time limit on the time the program had (wall time minus its waits for a
  core: zygote.Clock), after which the worker kills everything the program left, and a wall-clock ceiling
  past which a starved program is ERROR, never TIMEOUT: a verdict does not depend on the machine's load.
  Without a writable cgroup (an unprivileged user without delegation) the memory limit is per process:
  ``isolation()`` says so and runs record it.
- **Nothing of a program outlives it:** each runs in a fresh folder; after it, everything it could write is
  removed (folders made writable first); a worker where anything is left is replaced, never reused.
"""
from backend.codegen.sandbox.bwrap import SandboxUnavailable, isolation
from backend.codegen.sandbox.jobs import Job, Limits, Outcome
from backend.codegen.sandbox.pool import SLOTS_PER_CORE, Pool, run_job, run_many
from backend.codegen.sandbox.toolchains import TOOLCHAINS, Step, Toolchain, register_toolchain
from backend.codegen.sandbox.worker import Worker

__all__ = ["SLOTS_PER_CORE", "TOOLCHAINS", "Job", "Limits", "Outcome", "Pool", "SandboxUnavailable", "Step",
           "Toolchain", "Worker", "isolation", "register_toolchain", "run_job", "run_many"]
