"""Completions an interrupted run already generated, kept in its folder (``generated.jsonl``) so the same run
(the same id: a sweep or recipe job run again) goes on where it stopped instead of generating them again.

The first line names what generated them (model file hash, sampling, problem sets); a log written by anything
else is discarded, never mixed in. The log is removed when the run has stored its samples.
"""
from __future__ import annotations

import json
from pathlib import Path

from backend.codegen.generate import Completion

FILE = "generated.jsonl"


class GeneratedLog:
    def __init__(self, folder: Path, identity: dict | None):
        """``identity`` None: nothing identifies the generator (weights only in memory): kept in memory only."""
        self.path, self.identity = Path(folder) / FILE, identity
        self.done: dict[tuple[str, str], tuple[list[Completion], float]] = {}
        if identity is None:
            return
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            lines = []
        if lines and _json(lines[0]) == {"identity": identity}:
            for line in lines[1:]:
                entry = _json(line)
                if not isinstance(entry, dict) or not {"set", "task_id", "completions", "seconds"} <= set(entry):
                    break  # a torn last line (killed mid-write): what follows it is generated again
                self.done[(entry["set"], entry["task_id"])] = (
                    [Completion(t, n) for t, n in entry["completions"]], entry["seconds"])
        # Rewritten with only what is reused: nothing is appended after a torn line.
        self.path.write_text(json.dumps({"identity": identity}) + "\n" +
                             "".join(_line(*key, *made) for key, made in self.done.items()))

    def get(self, set_name: str, task_id: str):
        """(completions, generation seconds) already made for this problem, or None."""
        return self.done.get((set_name, task_id))

    def add(self, set_name: str, task_id: str, completions: list[Completion], seconds: float):
        self.done[(set_name, task_id)] = completions, seconds
        if self.identity is None:
            return
        with open(self.path, "a") as f:  # one line per problem; no fsync: a lost line is generated again
            f.write(_line(set_name, task_id, completions, seconds))

    def remove(self):
        self.path.unlink(missing_ok=True)


def _line(set_name: str, task_id: str, completions: list[Completion], seconds: float) -> str:
    return json.dumps({"set": set_name, "task_id": task_id, "seconds": round(seconds, 3),
                       "completions": [[c.text, c.tokens] for c in completions]}) + "\n"


def _json(line: str):
    try:
        return json.loads(line)
    except ValueError:
        return None
