"""Mine (query, code) pairs from source files with tree-sitter, CodeSearchNet style.

query = first paragraph of the function's doc comment; document = the function's code without that comment.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache

from backend.bench import doctext
from backend.vocab import CODE_LANGUAGES

MIN_QUERY_TOKENS = 3
MIN_CODE_LINES = 3
MAX_CODE_CHARS = 20_000  # generated or data-heavy functions say nothing about search quality
SKIP_DIRS = re.compile(r"(^|/)(tests?|testing|testdata|idle_test|__tests__|spec|specs|examples?|demos?|samples?|"
                       r"vendor|node_modules|third_party|site-packages|dist-packages|fixtures?|benchmarks?)(/|$)", re.I)
SKIP_FILES = re.compile(r"(^test_.*\.py|.*_test\.(py|go|rb)|.*Tests?\.(java|php)|.*\.(test|spec)\.[jt]s|"
                        r".*\.min\.js|.*_spec\.rb|conftest\.py)$")


@dataclass(frozen=True)
class LangSpec:
    name: str
    grammar: str
    extensions: tuple[str, ...]
    functions: tuple[str, ...]  # tree-sitter node types that define a function
    doc: str  # "docstring", "block" (/** */) or a line-comment marker ("//", "#")
    constructors: frozenset[str]


LANGS: dict[str, LangSpec] = {s.name: s for s in [
    LangSpec("python", "python", (".py",), ("function_definition",), "docstring", frozenset({"__init__", "__new__"})),
    LangSpec("java", "java", (".java",), ("method_declaration",), "block", frozenset()),
    LangSpec("javascript", "javascript", (".js", ".mjs", ".cjs"),
             ("function_declaration", "generator_function_declaration", "method_definition", "variable_declarator",
              "assignment_expression"), "block", frozenset({"constructor"})),
    LangSpec("go", "go", (".go",), ("function_declaration", "method_declaration"), "//", frozenset()),
    LangSpec("php", "php", (".php",), ("function_definition", "method_declaration"), "block",
             frozenset({"__construct"})),
    LangSpec("ruby", "ruby", (".rb",), ("method", "singleton_method"), "#", frozenset({"initialize"})),
]}
assert sorted(LANGS) == sorted(CODE_LANGUAGES), "a mined language needs a vocab.Language entry, and vice versa"
_FUNCTION_VALUES = {"function_expression", "function", "arrow_function", "generator_function"}


def check_language(language: str) -> LangSpec:
    try:
        return LANGS[language]
    except KeyError:
        raise ValueError(f"unknown language {language!r}; use one of: {', '.join(LANGS)}") from None


def skip_path(rel_path: str) -> bool:
    """Test, example, vendored and minified files are not searched for (CodeSearchNet dropped them too)."""
    return bool(SKIP_DIRS.search(rel_path.rsplit("/", 1)[0] if "/" in rel_path else "")
                or SKIP_FILES.match(rel_path.rsplit("/", 1)[-1]))


@lru_cache(maxsize=None)
def _parser(grammar: str):
    from tree_sitter_language_pack import get_parser  # heavy: only when mining
    return get_parser(grammar)


def mine_source(source: bytes, language: str, rel_path: str = "") -> list[dict]:
    """Pairs found in one file's bytes (no path filtering here: see skip_path)."""
    spec = check_language(language)
    tree = _parser(spec.grammar).parse(source)
    pairs = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in spec.functions:
            pair = _pair(node, spec, source, rel_path)
            if pair:
                pairs.append(pair)
        stack.extend(reversed(node.children))
    return pairs


def _pair(node, spec: LangSpec, source: bytes, rel_path: str) -> dict | None:
    name_node, outer = _name_and_statement(node)
    if name_node is None:
        return None
    name = _text(name_node, source)
    if name in spec.constructors or name.lower().startswith("test"):
        return None
    if spec.doc == "docstring":
        doc_node = _python_docstring(node)
        doc_lines = doctext.strip_docstring(_text(doc_node, source)) if doc_node else None
    else:
        doc_lines = _comment_lines(outer, spec, source)
    if not doc_lines:
        return None
    query = doctext.first_paragraph(doc_lines)
    code = _code(outer, source, doc_node if spec.doc == "docstring" else None)
    if doctext.token_count(query) < MIN_QUERY_TOKENS or len(code.splitlines()) < MIN_CODE_LINES:
        return None
    if len(code) > MAX_CODE_CHARS:
        return None
    return {"language": spec.name, "func_name": name, "path": rel_path, "line": node.start_point[0] + 1,
            "query": query, "code": code}


def _name_and_statement(node):
    """The function's name node and the statement whose preceding comment is its doc."""
    if node.type == "variable_declarator":
        value = node.child_by_field_name("value")
        if value is None or value.type not in _FUNCTION_VALUES:
            return None, node
        outer = node.parent if node.parent is not None else node
    elif node.type == "assignment_expression":
        value, left = node.child_by_field_name("right"), node.child_by_field_name("left")
        if value is None or value.type not in _FUNCTION_VALUES or left is None:
            return None, node
        name = left.child_by_field_name("property") or left
        return name, node.parent if node.parent is not None and node.parent.type == "expression_statement" else node
    else:
        outer = node
    while outer.parent is not None and outer.parent.type == "export_statement":
        outer = outer.parent
    return node.child_by_field_name("name"), outer


def _python_docstring(node):
    body = node.child_by_field_name("body")
    first = body.named_children[0] if body is not None and body.named_children else None
    if first is not None and first.type == "expression_statement" and first.named_children:
        first = first.named_children[0]
    return first if first is not None and first.type == "string" else None


def _comment_lines(node, spec: LangSpec, source: bytes) -> list[str] | None:
    """Doc comment right above ``node``: one /** */ block, or a run of adjacent line comments."""
    # The first statement of a body can have its doc comment before the body node itself (Ruby).
    while node.prev_sibling is None and node.parent is not None and node.parent.start_byte == node.start_byte:
        node = node.parent
    prev, start_row, comments = node.prev_sibling, node.start_point[0], []
    gap = 2 if spec.doc == "block" else 1  # a /** */ block may stand one blank line above; line comments may not
    while prev is not None and "comment" in prev.type and prev.end_point[0] >= start_row - gap:
        comments.insert(0, _text(prev, source))
        start_row = prev.start_point[0]
        prev = prev.prev_sibling
        if spec.doc == "block":
            break
    if not comments:
        return None
    if spec.doc == "block":
        return doctext.strip_block(comments[0]) if comments[0].startswith("/**") else None
    if not all(c.lstrip().startswith(spec.doc) for c in comments):
        return None
    return doctext.strip_lines(comments, spec.doc)


def _code(node, source: bytes, docstring=None) -> str:
    start, end = node.start_byte, node.end_byte
    text = source[start:end]
    if docstring is not None:  # cut the docstring and the rest of its line
        d0, d1 = docstring.start_byte - start, docstring.end_byte - start
        line_start = text.rfind(b"\n", 0, d0) + 1
        line_end = text.find(b"\n", d1)
        text = text[:line_start] + (text[line_end + 1:] if line_end >= 0 else b"")
    indent = node.start_point[1]
    decoded = " " * indent + text.decode("utf-8", errors="replace")
    return textwrap.dedent(decoded).strip("\n")


def _text(node, source: bytes) -> str:
    return source[node.start_byte:node.end_byte].decode("utf-8", errors="replace")
