"""The command-line reference (docs/cli.md), generated from the argparse parser so it cannot drift from it.

``render`` walks the parser and its subparsers recursively and writes Markdown by hand (not argparse's
``format_help``, whose line breaks follow the terminal's width), so the file is the same on every machine.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from backend.config import REPO_ROOT

CLI_DOC = REPO_ROOT / "docs" / "cli.md"
HEADER = ("# Command-line reference\n\n"
          "<!-- Generated from the argparse parser by `python -m backend docs-cli`; do not edit by hand "
          "(tests/test_docs.py fails when it is stale). -->\n\n"
          "Every command also takes `-h` / `--help`. Settings read from the environment: the README's table.\n")


def add_parsers(sub) -> None:
    c = sub.add_parser("docs-cli", help="write the CLI reference (docs/cli.md) from this parser")
    c.add_argument("-o", "--output", type=Path, default=CLI_DOC, help="file to write (default docs/cli.md; '-': stdout)")
    c.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file differs from the parser")
    c.set_defaults(func=cmd_docs_cli)


def cmd_docs_cli(args, store, s):
    text = render(args.parser)  # the entry point owns the parser and hands it down
    if args.check:
        current = args.output.read_text() if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is stale: run `python -m backend docs-cli` and commit it")
            return 1
        print(f"{args.output} is up to date")
    elif str(args.output) == "-":
        print(text, end="")
    else:
        args.output.write_text(text)
        print(f"wrote {args.output}")


def render(parser: argparse.ArgumentParser) -> str:
    """Markdown for ``parser``: its own options, then every command and sub-command in parser order."""
    parts = [HEADER]
    _section(parser, parser.prog, "", parts, level=2)
    return "\n".join(parts).rstrip("\n") + "\n"


def _section(parser, path: str, help_text: str, parts: list[str], level: int) -> None:
    parts.append(f"{'#' * level} `{path}`\n")
    about = _clean(help_text) if help_text else _clean((parser.description or "").strip().split("\n")[0])
    if about:
        parts.append(about + "\n")
    parts.append(f"```\n{_usage(parser, path)}\n```\n")
    rows = [(_invocation(a), _help(a, parser)) for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
    if rows:
        parts.append("| argument | meaning |\n|---|---|")
        parts.extend(f"| `{_cell(name)}` | {_cell(meaning)} |" for name, meaning in rows)
        parts.append("")
    for name, child, child_help in _children(parser):
        _section(child, f"{path} {name}", child_help, parts, level=min(level + 1, 4))


def _children(parser):
    """(name, parser, help) of each sub-command, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, child in action.choices.items():
                yield name, child, helps.get(name, "")


def _usage(parser, path: str) -> str:
    words = [path]
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        if isinstance(a, argparse._SubParsersAction):
            words.append(f"{a.metavar or 'COMMAND'} ...")
        elif not a.option_strings:
            words.append(_positional(a))
        else:
            word = _invocation(a)
            words.append(word if a.required else f"[{word}]")
    return " ".join(words)


def _positional(a) -> str:
    name = a.metavar or a.dest
    return {"+": f"{name} [{name} ...]", "*": f"[{name} ...]", "?": f"[{name}]"}.get(a.nargs, name)


def _invocation(a) -> str:
    if not a.option_strings:
        return _positional(a)
    flags = ", ".join(a.option_strings)
    if a.nargs == 0:
        return flags
    value = "{" + ",".join(map(str, a.choices)) + "}" if a.choices else (a.metavar or a.dest.upper())
    return f"{flags} {value} [{value} ...]" if a.nargs == "+" else f"{flags} {value}"


def _help(a, parser) -> str:
    text = a.help or ""
    if "%(" in text:  # argparse's own help templating, expanded as format_help would
        text = text % {**vars(a), "prog": parser.prog}
    if a.required and a.option_strings:
        text = f"required. {text}" if text else "required"
    return text


def _clean(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _clean(text).replace("|", "\\|")
