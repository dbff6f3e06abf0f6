"""The EvalPlus leaderboard's ``results.json`` (repository ``evalplus/evalplus.github.io``), pinned: a JSON object
``{"evalplus_leaderboard": {repository, commit, path, ...}, "results": <results.json as published>}``.

Each model with both numbers becomes two reference ``codegen-eval`` runs, pass@1 as published (percent / 100):
HumanEval (base tests) on our ``humaneval-python`` problem set, the one local runs use (HumanEval's 164 Python
problems), and HumanEval+ (80x more tests) on EvalPlus's own problem set id. Decoding is greedy, as the
leaderboard says ("ranked according to pass@1 using greedy decoding"); ``params`` is the published ``size``
(billions of *activated* parameters, the leaderboard's note 7) and stays unknown where the leaderboard gives
none. A model missing a number is left out with a note.
"""
from __future__ import annotations

import re
from pathlib import Path

from backend.importers.base import register_importer
from backend.importers.runjson import read_json
from backend.records import SCHEMA_VERSION, RecordError, RunRecord, record_from_dict

KEY = "evalplus_leaderboard"
BASE_SET = "humaneval-python"  # the problem set of local HumanEval runs: the same 164 problems and base tests
HUMANEVAL_TASKS = [f"HumanEval/{i}" for i in range(164)]
DECODING = "greedy"  # the leaderboard's note 2
TESTS = {"humaneval": "base", "humaneval+": "plus"}


def plus_set() -> str:
    """The id an imported evalplus ``eval_results.json`` over all 164 problems gets for its plus tests."""
    from backend.codegen.problems import coverage_id
    return coverage_id("evalplus-humaneval-plus", HUMANEVAL_TASKS)


def sniff(path: Path) -> bool:
    if not path.is_file() or path.suffix != ".json":
        return False
    with open(path, "rb") as f:
        return f'"{KEY}"'.encode() in f.read(4096)


def load(path: Path) -> list[RunRecord]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get(KEY), dict) or not isinstance(data.get("results"), dict):
        raise RecordError(f"expected {{\"{KEY}\": {{repository, commit, path}}, \"results\": {{model: ...}}}}; "
                          "rebuild it with: python -m backend reference refresh --evalplus DIR")
    return [record_from_dict(r) for r in records(data[KEY], data["results"])]


def records(source: dict, results: dict, notes: list[str] | None = None) -> list[dict]:
    """Run dicts for every model with both pass@1 numbers (pure: the importer and ``reference refresh`` share it)."""
    out = []
    for model, row in results.items():
        scores = row.get("pass@1") if isinstance(row, dict) else None
        values = {t: (scores or {}).get(t) for t in TESTS}
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
            if notes is not None:
                notes.append(f"EvalPlus leaderboard: {model}: no HumanEval and HumanEval+ pass@1 both; left out")
            continue
        for test, which in TESTS.items():
            out.append(_run(source, model, row, which, values[test] / 100))
    return out


def _run(source: dict, model: str, row: dict, which: str, value: float) -> dict:
    size = row.get("size")
    known = isinstance(size, (int, float)) and not isinstance(size, bool) and size > 0
    problem_set = BASE_SET if which == "base" else plus_set()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.")[:80] or "model"
    label = "HumanEval" if which == "base" else "HumanEval+"
    return {
        "schema_version": SCHEMA_VERSION, "run_id": f"public--evalplus--{slug}--{which}", "kind": "codegen-eval",
        "name": f"{model} ({label}, EvalPlus leaderboard)", "source": "reference", "model": model,
        "benchmark": problem_set, "protocol": DECODING,
        "params": round(size * 1e9) if known else None,
        "config": {"problem_sets": {"python": problem_set}, "n_samples": 1, "temperature": 0.0,
                   "tests": which, "prompted": row.get("prompted")},
        "provenance": {
            "format": "evalplus-leaderboard", "repository": source.get("repository"), "commit": source.get("commit"),
            "path": source.get("path"), "url": source.get("url"), "model_link": row.get("link"),
            "open_data": row.get("open-data"), "decoding": DECODING,
            "size_basis": ("published size: billions of parameters activated during inference (leaderboard note 7)"
                           if known else "not published on the leaderboard (unknown)"),
            "setting": "chat (instruction prompt)" if row.get("prompted") else "direct code completion",
            "notes": source.get("notes")},
        "metrics": [{"language": "python", "metric": "pass@1", "value": value, "n": 164}],
    }


register_importer("evalplus-leaderboard", sniff=sniff, load=load, stored=True,
                  help="the EvalPlus leaderboard's results.json, pinned (python -m backend reference refresh)")
