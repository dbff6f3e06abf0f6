"""Doc comment -> query text (pure): strip the comment syntax, keep the first paragraph of prose."""
from __future__ import annotations

import re

_TAG_LINE = re.compile(r"^\s*(@\w+|:param|:return|:raises|Args:|Arguments:|Returns:|Raises:|Parameters\b|Example)")
_DESCRIPTION_TAG = re.compile(r"^\s*@(?:summary|description)\b\s*(.*)$")
_INLINE_TAG = re.compile(r"\{@\w+\s+([^}]*)\}")  # {@link Foo#bar} -> Foo#bar
_HTML = re.compile(r"</?[a-zA-Z][^>]*>")
_PARAGRAPH_HTML = re.compile(r"<p>|<p/>|</p>", re.I)


def strip_block(comment: str) -> list[str]:
    """Lines of a /** ... */ (or /* */) comment without the delimiters and leading stars."""
    body = re.sub(r"^/\*+!?", "", comment.strip())
    body = re.sub(r"\*+/$", "", body)
    return [re.sub(r"^\s*\*? ?", "", line) for line in _PARAGRAPH_HTML.sub("\n\n", body).splitlines()]


def strip_lines(comments: list[str], marker: str) -> list[str]:
    """Lines of consecutive line comments (``//`` or ``#``) without their markers."""
    return [re.sub(rf"^\s*{re.escape(marker)}+ ?", "", c) for c in comments]


def strip_docstring(literal: str) -> list[str]:
    """Lines of a Python string literal (any prefix and quote style)."""
    body = re.sub(r"^[rRuUbBfF]*('''|\"\"\"|'|\")", "", literal.strip())
    body = re.sub(r"('''|\"\"\"|'|\")$", "", body)
    return body.splitlines()


def first_paragraph(lines: list[str]) -> str:
    """The first paragraph of prose: up to a blank line or a tag line (@param, Args:, ...)."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].strip().lower().startswith("call-seq:"):  # Ruby rdoc signature block
        while lines and lines[0].strip():
            lines.pop(0)
        return first_paragraph(lines)
    text = _paragraph(lines)
    if not text:  # JSDoc that starts with tags: "@summary Adds days." or "@description\n Adds days."
        for i, line in enumerate(lines):
            tag = _DESCRIPTION_TAG.match(line)
            if tag:
                text = _paragraph([tag.group(1)] + lines[i + 1:] if tag.group(1) else lines[i + 1:])
                break
    return text


def _paragraph(lines: list[str]) -> str:
    out = []
    for line in lines:
        if not line.strip() or _TAG_LINE.match(line):
            break
        out.append(line.strip())
    text = _HTML.sub("", _INLINE_TAG.sub(r"\1", " ".join(out)))
    return re.sub(r"\s+", " ", text).strip()


def token_count(text: str) -> int:
    return len(re.findall(r"\w+", text))
