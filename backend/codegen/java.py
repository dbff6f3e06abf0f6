"""Translate HumanEval problems to Java, MultiPL-E style: a method signature to complete, tests as a ``main``.

No Java HumanEval set is reachable offline, so the translation happens here. It is deliberately narrow and
says so: a problem is covered when
- its parameters and result are int, float, bool, str, or lists / dicts of those (from the annotations, or,
  where there are none, inferred from every test value), and
- every statement of its ``check`` is ``assert candidate(...) == <literal>``, ``assert candidate(...)``,
  ``assert not candidate(...)`` or ``assert abs(candidate(...) - <literal>) < <tol>``, with literal arguments.
Everything else (tuples, None, Any, loops or helpers in the tests) is left out and counted, never guessed.
Types follow MultiPL-E: int -> long, float -> double, list -> ArrayList, dict -> HashMap.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

HEADER = "import java.util.*;\nimport java.util.stream.*;\nimport java.math.*;\n\nclass Problem {\n"
STOP = ["\n    }\n"]
CLOSE = "\n    }\n"  # what the stop sequence cut off: the end of the method


class Untranslatable(ValueError):
    """This problem uses something outside the covered subset (the message says what)."""


@dataclass(frozen=True)
class JavaProblem:
    prompt: str  # header, comment, signature: the model completes the method body
    tests: str  # ``main`` (reports each test call's value to the judge) + the closing brace; ``JUDGE_CLASS`` follows
    cases: tuple  # (expected, how) per test call, for judge.ExpectedValues: the checks happen outside the JVM


# Writes one test record per call, "\x1eJUDGE <nonce> <i> <json>", on the judge's channel (fd 4, opened through
# /proc), the nonce read from fd 3: never on stdout, so the program's own prints (with or without a newline,
# any amount) can neither split a record nor use up its budget. Doubles as exact hex, maps as tagged pairs
# (zygote.decode reads them); any other class is an opaque object.
JUDGE_CLASS = r"""
class Judge {
    private static final java.io.PrintStream OUT = channel();
    private static final String NONCE = nonce();
    private static java.io.PrintStream channel() {
        try {
            return new java.io.PrintStream(new java.io.FileOutputStream("/proc/self/fd/4"), false, "UTF-8");
        } catch (java.io.IOException e) { throw new RuntimeException(e); }
    }
    private static String nonce() {
        try {
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                new java.io.FileInputStream("/proc/self/fd/3"), "UTF-8"));
            String line = in.readLine();
            return line == null ? "" : line.replaceAll("[^0-9a-f]", "");
        } catch (java.io.IOException e) { return ""; }
    }
    static void emit(int i, Object v) {
        StringBuilder b = new StringBuilder();
        b.append('\u001e').append("JUDGE ").append(NONCE).append(' ').append(i).append(' ');
        write(b, v);
        OUT.print(b.append('\n'));
        OUT.flush();
    }
    private static void write(StringBuilder b, Object v) {
        if (v == null) { b.append("null"); }
        else if (v.getClass() == Boolean.class || v.getClass() == Long.class) { b.append(v); }
        else if (v.getClass() == Double.class) { b.append("{\"t\":\"float\",\"v\":\"").append(Double.toHexString((Double) v)).append("\"}"); }
        else if (v.getClass() == String.class) { string(b, (String) v); }
        else if (v instanceof java.util.List) {
            b.append('[');
            boolean first = true;
            for (Object x : (java.util.List<?>) v) { if (!first) b.append(','); first = false; write(b, x); }
            b.append(']');
        } else if (v instanceof java.util.Map) {
            b.append("{\"t\":\"dict\",\"v\":[");
            boolean first = true;
            for (java.util.Map.Entry<?, ?> e : ((java.util.Map<?, ?>) v).entrySet()) {
                if (!first) b.append(','); first = false;
                b.append('['); write(b, e.getKey()); b.append(','); write(b, e.getValue()); b.append(']');
            }
            b.append("]}");
        } else { b.append("{\"t\":\"object\",\"v\":"); string(b, v.getClass().getName()); b.append('}'); }
    }
    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        b.append('"');
    }
}
"""


# Types are tuples: ("long",), ("double",), ("boolean",), ("String",), ("list", T), ("map", K, V)
SCALARS = {"int": ("long",), "float": ("double",), "bool": ("boolean",), "str": ("String",)}
BOXED = {"long": "Long", "double": "Double", "boolean": "Boolean", "String": "String"}


def translate(prompt: str, test: str, entry_point: str) -> JavaProblem:
    """The Java version of one HumanEval problem; Untranslatable if outside the covered subset."""
    func = next((n for n in ast.walk(ast.parse(prompt)) if isinstance(n, ast.FunctionDef) and n.name == entry_point),
                None)
    if func is None:
        raise Untranslatable(f"no function {entry_point} in the prompt")
    if func.args.vararg or func.args.kwarg or func.args.defaults or func.args.kwonlyargs:
        raise Untranslatable("defaults or variable arguments")
    params = [a.arg for a in func.args.args]
    cases = _cases(test, len(params))
    types = [_param_type(a.annotation, [c[0][i] for c in cases], a.arg) for i, a in enumerate(func.args.args)]
    result = _param_type(func.returns, [c[1] for c in cases], "the result")  # truthiness asserts: boolean
    name = _camel(entry_point)
    signature = ", ".join(f"{_java_type(t)} {_camel(p)}" for t, p in zip(types, params))
    doc = ast.get_docstring(func) or ""
    comment = "".join(f"    // {line}".rstrip() + "\n" for line in _java_doc(doc, entry_point, name, types).splitlines())
    prompt_java = f"{HEADER}{comment}    public static {_java_type(result)} {name}({signature}) {{\n"
    lines = []
    for i, (args, expected, how) in enumerate(cases):
        _literal(expected, result if how != "bool-check" else ("boolean",))  # the expected value fits the type
        call = f"{name}({', '.join(_literal(v, t) for v, t in zip(args, types))})"
        lines.append(f"        Judge.emit({i}, {call});")
    tests = "    public static void main(String[] args) {\n" + "\n".join(lines) + "\n    }\n}\n"
    return JavaProblem(prompt_java, tests, tuple((expected, how) for _, expected, how in cases))


def program(prompt: str, completion: str, tests: str) -> str:
    """The Java source the sandbox compiles: the prompt, the completion, the method's end, the tests' ``main``
    and the ``Judge`` class that reports to the judge."""
    return prompt + completion + CLOSE + tests + JUDGE_CLASS


# -- the tests ---------------------------------------------------------------------------------------------
def _cases(test: str, arity: int) -> list[tuple[list, object, str]]:
    """(arguments, expected, how) per assert of ``check``; how: eq, approx:<tol>, bool-check."""
    tree = ast.parse(test)
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    if check is None:
        raise Untranslatable("no check(candidate) function in the tests")
    cases = []
    for stmt in check.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a string statement (comment)
        if not isinstance(stmt, ast.Assert):
            raise Untranslatable(f"a {type(stmt).__name__} statement in the tests")
        if isinstance(stmt.test, ast.Constant) and stmt.test.value is True:
            continue  # `assert True, "..."` filler
        cases.append(_case(stmt.test, arity))
    if not cases:
        raise Untranslatable("no test calls")
    return cases


def _case(expr, arity):
    if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(expr.ops[0], ast.Eq):
        left, right = expr.left, expr.comparators[0]
        call, other = (left, right) if _is_call(left) else (right, left)
        return _args(call, arity), _value(other), "eq"
    if isinstance(expr, ast.Compare) and len(expr.ops) == 1 and isinstance(expr.ops[0], (ast.Lt, ast.LtE)):
        inner = expr.left
        if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "abs"
                and len(inner.args) == 1 and isinstance(inner.args[0], ast.BinOp)
                and isinstance(inner.args[0].op, ast.Sub) and _is_call(inner.args[0].left)):
            tol = _value(expr.comparators[0])
            return _args(inner.args[0].left, arity), _value(inner.args[0].right), f"approx:{tol!r}"
    if _is_call(expr):
        return _args(expr, arity), True, "bool-check"
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not) and _is_call(expr.operand):
        return _args(expr.operand, arity), False, "bool-check"
    raise Untranslatable(f"an assert of the form {ast.unparse(expr)[:60]!r}")


def _is_call(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate"


def _args(call, arity) -> list:
    if call.keywords or len(call.args) != arity:
        raise Untranslatable("keyword arguments or a different number of arguments")
    return [_value(a) for a in call.args]


def _value(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise Untranslatable(f"a non-literal test value {ast.unparse(node)[:60]!r}") from None


# -- types -------------------------------------------------------------------------------------------------
def _param_type(annotation, values: list, what: str) -> tuple:
    declared = _annotation_type(annotation) if annotation is not None else None
    inferred = None
    for v in values:
        inferred = _merge(inferred, _infer(v))
    chosen = declared or inferred
    if chosen is None or _has_unknown(chosen):
        raise Untranslatable(f"cannot tell the type of {what}")
    for v in values:
        _literal(v, chosen)  # every test value must fit the chosen type
    return chosen


def _annotation_type(node) -> tuple:
    if isinstance(node, ast.Name) and node.id in SCALARS:
        return SCALARS[node.id]
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        base = node.value.id.lower()
        if base == "list":
            return ("list", _annotation_type(node.slice))
        if base == "dict" and isinstance(node.slice, ast.Tuple) and len(node.slice.elts) == 2:
            return ("map", _annotation_type(node.slice.elts[0]), _annotation_type(node.slice.elts[1]))
    raise Untranslatable(f"the type {ast.unparse(node)!r}")


def _infer(value) -> tuple:
    if isinstance(value, bool):
        return ("boolean",)
    if isinstance(value, int):
        return ("long",)
    if isinstance(value, float):
        return ("double",)
    if isinstance(value, str):
        return ("String",)
    if isinstance(value, list):
        element = None
        for v in value:
            element = _merge(element, _infer(v))
        return ("list", element or ("?",))
    if isinstance(value, dict):
        key = val = None
        for k, v in value.items():
            key, val = _merge(key, _infer(k)), _merge(val, _infer(v))
        return ("map", key or ("?",), val or ("?",))
    raise Untranslatable(f"a {type(value).__name__} value")


def _merge(a, b):
    if a is None or a == ("?",):
        return b
    if b is None or b == ("?",) or a == b:
        return a
    if {a, b} == {("long",), ("double",)}:
        return ("double",)
    if a[0] == b[0] == "list":
        return ("list", _merge(a[1], b[1]))
    if a[0] == b[0] == "map":
        return ("map", _merge(a[1], b[1]), _merge(a[2], b[2]))
    raise Untranslatable(f"values of mixed types {a[0]} and {b[0]}")


def _has_unknown(t) -> bool:
    return t == ("?",) or any(_has_unknown(x) for x in t[1:] if isinstance(x, tuple))


def _java_type(t, boxed=False) -> str:
    if t[0] == "list":
        return f"ArrayList<{_java_type(t[1], True)}>"
    if t[0] == "map":
        return f"HashMap<{_java_type(t[1], True)},{_java_type(t[2], True)}>"
    return BOXED[t[0]] if boxed else t[0]


# -- values and checks -------------------------------------------------------------------------------------
def _literal(value, t) -> str:
    kind = t[0]
    if kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "long" and isinstance(value, int) and not isinstance(value, bool):
        if not -2**63 <= value < 2**63:
            raise Untranslatable("an integer beyond Java's long")
        return f"{value}l" if value >= 0 else f"({value}l)"
    if kind == "double" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise Untranslatable("an infinite or NaN float")
        text = repr(float(value))
        return text if value >= 0 else f"({text})"
    if kind == "String" and isinstance(value, str):
        return _string(value)
    if kind == "list" and isinstance(value, list):
        items = ", ".join(_literal(v, t[1]) for v in value)
        boxed = _java_type(t[1], True)
        return f"new ArrayList<{boxed}>(Arrays.asList({items}))" if value else f"new ArrayList<{boxed}>()"
    if kind == "map" and isinstance(value, dict):
        puts = " ".join(f"put({_literal(k, t[1])}, {_literal(v, t[2])});" for k, v in value.items())
        return f"new {_java_type(t)}() {{{{ {puts} }}}}"
    raise Untranslatable(f"the value {str(value)[:40]!r} is not a {_java_type(t)}")


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) > 126:
            if ord(ch) > 0xFFFF:
                raise Untranslatable("a character outside the Basic Multilingual Plane")
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# -- the comment -------------------------------------------------------------------------------------------
def _java_doc(doc: str, python_name: str, java_name: str, types) -> str:
    """The docstring, with doctest calls rewritten as Java calls where their arguments are literals."""
    out = []
    for line in doc.splitlines():
        m = re.match(rf"^(\s*>>>\s*){re.escape(python_name)}\((.*)\)\s*$", line)
        if m:
            try:
                args = ast.literal_eval(f"({m.group(2)},)")
                line = f"{m.group(1)}{java_name}({', '.join(_literal(v, t) for v, t in zip(args, types))})"
            except (ValueError, SyntaxError, Untranslatable):
                pass
        out.append(line.replace(python_name, java_name))
    return "\n".join(out)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)
