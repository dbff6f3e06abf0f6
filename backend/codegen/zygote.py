"""The sandbox worker: runs inside the sandbox (its namespaces, its uid) and forks one child per program.

Standard library only, and passed to the interpreter with ``-c`` (the sandbox uid cannot read our files).
Protocol: one JSON request per line on stdin, one JSON answer per line on stdout.
request: {"files": {name: text}, "steps": [{"argv": [...] | null, "compile": bool}], "timeout": s,
          "cpu": s, "memory": bytes, "nproc": n | null, "fsize": bytes, "env": {...}}
A step with "argv": null runs prog.py in the forked child itself (no interpreter start-up: that is the
speed); other steps exec their argv (javac, java). Answer: {"status", "seconds", "stderr"}.
"""
import json
import os
import resource
import select
import shutil
import signal
import sys
import time
import traceback

TAIL = 2000


def child(step, req):
    """In the forked child: own session, limits, own folder; then exec the step. Never returns."""
    try:
        os.setsid()
        os.chdir("w")
        err = os.open(".stderr", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err, 2)
        os.closerange(3, 1 << 16)
        limits = [(resource.RLIMIT_CPU, req["cpu"]), (resource.RLIMIT_AS, req["memory"]),
                  (resource.RLIMIT_FSIZE, req["fsize"]), (resource.RLIMIT_CORE, 0)]
        if req.get("nproc"):
            limits.append((resource.RLIMIT_NPROC, req["nproc"]))
        for which, value in limits:
            # CPU: the soft limit sends SIGXCPU (reported as TIMEOUT); a hard limit equal to it would make
            # the kernel send SIGKILL instead, indistinguishable from a crash.
            resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))
        if step["argv"]:
            os.execve(step["argv"][0], step["argv"], req["env"])
        os.environ.clear()
        os.environ.update(req["env"])
        sys.argv = ["prog.py"]
        sys.stdout = open(os.devnull, "w")
        sys.stderr = os.fdopen(2, "w", buffering=1)
        with open("prog.py") as f:
            code = compile(f.read(), "prog.py", "exec")
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
        os._exit(0)
    except SystemExit as e:
        os._exit(e.code if isinstance(e.code, int) else (0 if e.code is None else 1))
    except BaseException:
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(1)


def run(req):
    start = time.monotonic()
    os.mkdir("w")
    for name, text in req["files"].items():
        with open(os.path.join("w", name), "w") as f:
            f.write(text)
    status = "PASS"
    for step in req["steps"]:
        pid = os.fork()
        if pid == 0:
            child(step, req)
        fd = os.pidfd_open(pid)
        remaining = req["timeout"] - (time.monotonic() - start)
        ready = select.select([fd], [], [], max(remaining, 0.001))[0]
        os.close(fd)
        if not ready:
            for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    target()
                except ProcessLookupError:
                    pass
            os.waitpid(pid, 0)
            status = "TIMEOUT"
            break
        _, code = os.waitpid(pid, 0)
        if os.WIFEXITED(code) and os.WEXITSTATUS(code) == 0:
            continue
        if os.WIFSIGNALED(code) and os.WTERMSIG(code) == signal.SIGXCPU:
            status = "TIMEOUT"
        else:
            status = "ERROR" if step["compile"] else "FAIL"
        break
    seconds = time.monotonic() - start
    cleanup()
    tail = read_tail()
    wipe()
    return {"status": status, "seconds": seconds, "stderr": tail}


def cleanup():
    """Kill whatever the program left running, and reap it. Only as PID 1 of our own namespace: there,
    kill(-1) reaches the program's leftovers and nothing else."""
    if os.getpid() != 1:
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def read_tail():
    try:
        with open(os.path.join("w", ".stderr"), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - TAIL, 0))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def wipe():
    """Everything the program wrote, anywhere in our folder, goes: the next program starts clean."""
    for name in os.listdir("."):
        path = os.path.join(".", name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def main():
    out = os.fdopen(os.dup(1), "w", buffering=1)
    for line in sys.stdin:
        try:
            answer = run(json.loads(line))
        except Exception as e:  # noqa: BLE001 - the worker must answer, whatever went wrong
            wipe()
            answer = {"status": "ERROR", "seconds": 0.0, "stderr": f"sandbox worker: {type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
