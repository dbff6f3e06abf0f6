"""The judge's ends of a program's channel, and the one way anything the program sends is read: bounded.

A program controls every byte it sends. What it sends is read under a deadline, a byte budget per program,
and, before any JSON is parsed, a size, nesting and node budget per message (``parse``), so that the judge's
memory and CPU per program are bounded whatever the value's shape: a 4 MB message of ``[{},{},...]`` is
refused after counting at most ``MAX_NODES`` nodes instead of becoming a 1.4 GB tree. Every failure to read
(time, size, shape, malformed JSON, a value that does not decode) is ``ProgramGone`` or ``Malformed`` and ends
as that program's verdict, never as an exception out of the worker, the pool or the import.

Bound, per program: the receive buffer holds at most ``MAX_LINE`` + one read (4.1 MB); a parsed message has
at most ``MAX_NODES`` values, each a Python object of at most a few hundred bytes plus its share of the
message's characters: about 4 MB + 100,000 x 200 B + 4 MB, under 40 MB, while one program is judged.
"""
from __future__ import annotations

import json
import os
import re
import select
import time

MAX_MESSAGE = 16 << 20  # bytes a program may send us in all
MAX_LINE = 4 << 20  # bytes in one message
MAX_DEPTH = 100  # nesting of lists / objects in one message (json and decode stay far from the recursion limit)
MAX_NODES = 100_000  # values in one message

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # unrolled: linear, no backtracking
_BRACKET = re.compile(rb"[\[\]{}]")


class ProgramGone(BaseException):
    """The channel closed, stayed silent, overflowed or carried garbage: the tests cannot go on. A
    BaseException, so that test code's own ``except Exception`` cannot swallow it and carry on to a pass."""


class Garbled(ProgramGone):
    """The program broke the protocol (too much, too deep, not JSON, an answer to another question): the
    judge knows it failed, however its process ends afterwards."""


class Malformed(ValueError):
    """A message that is not within the budget or not JSON."""


def parse(line: bytes):
    """JSON from a program, within MAX_LINE bytes, MAX_DEPTH nesting and MAX_NODES values; ``Malformed``
    otherwise. The shape is checked before ``json.loads`` builds anything: strings are blanked (in C, by a
    regex), then commas, colons and brackets bound the count of values, and the brackets alone (at most
    2 x MAX_NODES of them, since they were counted) the nesting."""
    if len(line) > MAX_LINE:
        raise Malformed(f"a message over {MAX_LINE >> 20} MB")
    bare = _STRING.sub(b'""', line)
    # Every value but the first follows a comma, a colon or an opening bracket.
    if bare.count(b",") + bare.count(b":") + bare.count(b"[") + bare.count(b"{") + 1 > MAX_NODES:
        raise Malformed(f"a message with more than {MAX_NODES} values")
    depth = 0
    for match in _BRACKET.finditer(bare):
        depth += 1 if match.group() in b"[{" else -1
        if depth > MAX_DEPTH:
            raise Malformed(f"a message nested deeper than {MAX_DEPTH}")
    try:
        return json.loads(line)
    except (ValueError, RecursionError, MemoryError) as e:
        raise Malformed(f"not JSON ({type(e).__name__})") from None


class Channel:
    """Our ends of a program's two pipes (requests: we write; answers: it writes), one deadline in all."""

    def __init__(self, requests: int, answers: int, deadline: float):
        self.requests, self.answers, self.deadline = requests, answers, deadline
        self.buffer, self.received = bytearray(), 0

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
        searched = 0  # the buffer grows by appending (no quadratic copying) and is searched once
        while (end := self.buffer.find(b"\n", searched)) < 0:
            searched = len(self.buffer)
            if len(self.buffer) > MAX_LINE:
                raise Garbled(f"the program sent a message over {MAX_LINE >> 20} MB")
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.answers], [], [], left)[0]:
                raise ProgramGone("no answer before the time limit")
            chunk = os.read(self.answers, 1 << 16)
            if not chunk:
                return None
            self.received += len(chunk)
            if self.received > MAX_MESSAGE:
                raise Garbled(f"the program sent more than {MAX_MESSAGE >> 20} MB")
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        return line

    def receive(self) -> dict:
        """The next message, a JSON object; ProgramGone for anything else."""
        line = self.receive_line()
        if line is None:
            raise ProgramGone("the program ended before the tests did")
        try:
            message = parse(line)
        except Malformed as e:
            raise Garbled(f"the program wrote something else on the judge's channel: {e}") from None
        if not isinstance(message, dict):
            raise Garbled("the program wrote something else on the judge's channel")
        return message

    def close(self):
        for fd in (self.requests, self.answers):
            try:
                os.close(fd)
            except OSError:
                pass
