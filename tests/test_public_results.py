"""The shipped public figures (EvalPlus leaderboard, MTEB results): counts, values against the source rows read
(tests/data/public/, see its README), their refresh from clones, and how pages place local runs among them."""
import json
import re
import shutil

import pandas as pd
import pytest

from backend import compare, public_view, reference_data
from backend.__main__ import main
from backend.frames import by_language
from backend.importers import load_path
from tests.conftest import DATA, REFERENCE

PUBLIC = DATA / "public"
EVALPLUS = REFERENCE / reference_data.EVALPLUS_FILE
MTEB = REFERENCE / reference_data.MTEB_DIR
EVALPLUS_COMMIT = "02023dd84e4e25d8ace1a28bb30d2f130595c023"


def _records(path):
    return {r.run_id: r.to_dict() for r in load_path(path)}


def test_shipped_files_hold_enough_public_models():
    evalplus = _records(EVALPLUS)
    both = {r["model"] for r in evalplus.values()}
    assert len(both) >= 50 and len(evalplus) == 2 * len(both)  # HumanEval and HumanEval+ each
    embedders = {r["model"] for r in _records(MTEB).values()}
    assert len(embedders) >= 40
    size = sum(p.stat().st_size for p in [EVALPLUS, *MTEB.rglob("*")] if p.is_file())
    assert size < 3 * 2**20  # a few MB at most


def test_evalplus_runs_are_the_source_rows():
    raw = json.loads((PUBLIC / "evalplus" / "results.json").read_text())
    shipped = json.loads(EVALPLUS.read_text())
    assert shipped["results"] == raw and shipped["evalplus_leaderboard"]["commit"] == EVALPLUS_COMMIT
    runs = _records(EVALPLUS)
    for model, row in raw.items():
        for which, key in (("base", "humaneval"), ("plus", "humaneval+")):
            run = runs[f"public--evalplus--{re.sub(r'[^A-Za-z0-9._-]+', '-', model).strip('-.')}--{which}"]
            assert run["metrics"][0]["value"] == pytest.approx(row["pass@1"][key] / 100)
            assert run["params"] == (round(row["size"] * 1e9) if row["size"] else None)
    # Rows read on the leaderboard's page, typed here by hand.
    assert runs["public--evalplus--CodeGen-2B--base"]["metrics"][0]["value"] == pytest.approx(0.244)
    assert runs["public--evalplus--DeepSeek-Coder-6.7B-instruct--plus"]["metrics"][0]["value"] == pytest.approx(0.713)
    assert runs["public--evalplus--Mixtral-8x7B-Instruct-v0.1--base"]["params"] == 13_000_000_000  # activated
    gpt4 = runs["public--evalplus--GPT-4-May-2023--base"]
    assert gpt4["params"] is None and "unknown" in gpt4["provenance"]["size_basis"]
    assert {r["protocol"] for r in runs.values()} == {"greedy"}
    base = runs["public--evalplus--CodeGen-2B--base"]
    assert base["config"]["problem_sets"] == {"python": "humaneval-python"}  # the local runs' problem set
    assert base["provenance"]["commit"] == EVALPLUS_COMMIT and base["provenance"]["path"] == "results.json"


def _excerpts():
    """(repository, commit, path, {key: value}) per excerpt block of mteb-excerpts.txt."""
    blocks, current = [], None
    for line in (PUBLIC / "mteb-excerpts.txt").read_text().splitlines():
        if line.startswith("# "):
            repo, _, commit, path = line[2:].split()[:4]
            current = (repo, commit, path, {})
            blocks.append(current)
        elif line.strip():
            key, value = line.strip().rstrip(",").split(": ")
            current[3][json.loads(key)] = json.loads(value)
    return blocks


def test_mteb_runs_match_the_raw_lines_read():
    runs = _records(MTEB)
    assert len(_excerpts()) >= 3
    for repo, commit, path, values in _excerpts():
        model_dir, revision, task = re.match(r"results/([^/]+)/([^/]+)/(\w+)\.json", path).groups()
        run = next(r for r in runs.values() if r["provenance"]["path"] == path)
        assert run["provenance"]["repository"] == repo and run["provenance"]["commit"] == commit
        assert run["provenance"]["model_revision"] == revision and run["run_id"].endswith(f"--{task}")
        language = values["hf_subset"] if values["hf_subset"] != "default" else "python"
        got = {(m["language"], m["metric"]): m["value"] for m in run["metrics"]}
        for key, metric in (("ndcg_at_10", "ndcg@10"), ("mrr_at_10", "mrr@10"), ("recall_at_1", "recall@1"),
                            ("recall_at_5", "recall@5")):
            if key in values:
                assert got[(language, metric)] == values[key], (path, key)


def test_mteb_sizes_come_from_model_meta():
    runs = _records(MTEB)
    potion = next(r for r in runs.values() if r["model"] == "minishlab/potion-base-2M")
    assert potion["params"] == 2_000_000 and potion["disk_mb"] == 7.0
    assert "memory_usage_mb" in potion["provenance"]["size_basis"]
    e5 = next(r for r in runs.values() if r["model"] == "intfloat/e5-base-v2")
    assert e5["params"] == 109_000_000 and e5["disk_mb"] is None  # its model_meta.json gives no memory


def _refresh(*args):
    return main(["reference", "refresh", "--no-import", *map(str, args)])


def test_refresh_from_the_same_commit_gives_the_same_runs(store, tmp_path, capsys):
    evalplus_clone, mteb_clone, out = tmp_path / "evalplus", tmp_path / "mteb", tmp_path / "reference"
    evalplus_clone.mkdir()
    (evalplus_clone / "results.json").write_text(json.dumps(json.loads(EVALPLUS.read_text())["results"]))
    reference_data.unpin_mteb(MTEB, mteb_clone)
    out.mkdir()
    shutil.copy(EVALPLUS, out)
    shutil.copytree(MTEB, out / reference_data.MTEB_DIR)
    assert _refresh("--evalplus", evalplus_clone, "--evalplus-commit", EVALPLUS_COMMIT, "--mteb", mteb_clone,
                    "--out", out) == 0
    assert "; 0 change line(s)" in capsys.readouterr().out
    assert _records(out / reference_data.EVALPLUS_FILE) == _records(EVALPLUS)
    assert _records(out / reference_data.MTEB_DIR) == _records(MTEB)
    # A changed source row is reported, and only it.
    data = json.loads((evalplus_clone / "results.json").read_text())
    data["CodeGen-2B"]["pass@1"]["humaneval"] = 25.0
    del data["zyte-1B"]
    (evalplus_clone / "results.json").write_text(json.dumps(data))
    assert _refresh("--evalplus", evalplus_clone, "--evalplus-commit", "f" * 40, "--out", out) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "changed public--evalplus--CodeGen-2B--base: metrics" in lines
    assert {"removed public--evalplus--zyte-1B--base", "removed public--evalplus--zyte-1B--plus"} <= set(lines)
    assert any(line.startswith("re-pinned") for line in lines)


def test_refresh_needs_a_commit_outside_a_git_checkout(store, tmp_path, capsys):
    (tmp_path / "results.json").write_text("{}")
    assert _refresh("--evalplus", tmp_path, "--out", tmp_path / "out") == 1
    assert "--evalplus-commit" in capsys.readouterr().err


def test_mteb_selection_keeps_code_tasks_in_our_languages(tmp_path):
    folder = tmp_path / "results" / "org__m" / "abc"
    folder.mkdir(parents=True)
    (folder / "model_meta.json").write_text(json.dumps({"name": "org/m", "revision": "abc", "n_parameters": 5}))
    entry = {"hf_subset": "python", "languages": ["python-Code"], "ndcg_at_10": 0.5, "main_score": 0.5, "map_at_1": 0.1}
    sql = {"hf_subset": "default", "languages": ["eng-Latn", "sql-Code"], "ndcg_at_10": 0.3}
    (folder / "CodeSearchNetRetrieval.json").write_text(json.dumps({"task_name": "x", "scores": {"test": [entry]}}))
    (folder / "SyntheticText2SQL.json").write_text(json.dumps({"scores": {"test": [sql]}}))
    (tmp_path / "results" / "org__n" / "r").mkdir(parents=True)  # no code task: left out
    (tmp_path / "results" / "org__n" / "r" / "model_meta.json").write_text(json.dumps({"name": "org/n"}))
    files = reference_data.build_mteb(tmp_path, commit="c" * 40)
    assert sorted(files) == ["results/org__m/abc/CodeSearchNetRetrieval.json", "results/org__m/abc/model_meta.json"]
    kept = files["results/org__m/abc/CodeSearchNetRetrieval.json"]["scores"]["test"][0]
    assert "map_at_1" not in kept and kept["ndcg_at_10"] == 0.5


def _codegen_runs(reference_store, protocol):
    from backend import catalog
    local = {"schema_version": 1, "run_id": "codegen-eval--mine", "kind": "codegen-eval", "name": "mine",
             "benchmark": "humaneval-python", "protocol": protocol, "params": 494_000_000,
             "config": {"problem_sets": {"python": "humaneval-python"}},
             "metrics": [{"language": "python", "metric": "pass@1", "value": 0.3}]}
    path = reference_store.path.parent / "mine.json"
    path.write_text(json.dumps(local))
    catalog.import_paths([path], store=reference_store)
    return reference_store.runs(), reference_store.metrics()


def test_local_codegen_run_sits_among_public_models_with_a_caution_when_sampled(reference_store):
    runs, metrics = _codegen_runs(reference_store, "n=10 T=0.8 top-p=0.95")
    table = compare.codegen_table(runs, metrics)
    python = table[table["problem_set"] == "humaneval-python"]
    assert python["facet"].nunique() == 1  # drawn in one facet
    assert "codegen-eval--mine" in set(python["run_id"]) and len(python) > 50  # one facet with the public base runs
    cautions = public_view.decoding_cautions(table)
    assert len(cautions) == 1 and "humaneval-python" in cautions[0] and "n=10 T=0.8" in cautions[0]
    by_id = runs.set_index("run_id", drop=False)
    note = compare.check_comparable(by_id.loc["codegen-eval--mine"].to_dict(),
                                    by_id.loc["public--evalplus--CodeGen-2B--base"].to_dict())
    assert "different decoding" in note
    with pytest.raises(compare.ComparisonError):  # HumanEval+ tests are other problems
        compare.check_comparable(by_id.loc["codegen-eval--mine"].to_dict(),
                                 by_id.loc["public--evalplus--CodeGen-2B--plus"].to_dict())


def test_greedy_local_run_needs_no_caution(reference_store):
    runs, metrics = _codegen_runs(reference_store, "greedy")
    assert public_view.decoding_cautions(compare.codegen_table(runs, metrics)) == []
    by_id = runs.set_index("run_id", drop=False)
    assert compare.check_comparable(by_id.loc["codegen-eval--mine"].to_dict(),
                                    by_id.loc["public--evalplus--CodeGen-2B--base"].to_dict()) is None


def test_public_toggle_groups_and_default_group(reference_store):
    runs = reference_store.runs()
    public = public_view.is_public(runs)
    assert public.sum() == len(_records(EVALPLUS)) + len(_records(MTEB)) + 1  # + the older potion MTEB reference
    assert not public_view.is_public(public_view.shown(runs, False)).any()
    grouped = public_view.grouped(compare.runs_view(runs), runs)
    assert list(grouped.columns)[0] == "group"
    assert {"public · EvalPlus leaderboard", "public · MTEB results"} <= set(grouped["group"])
    groups = compare.evaluation_groups(runs[~runs["kind"].str.startswith("codegen")])
    first = public_view.default_group(groups, runs)
    assert first[0] == "codesearchnet-test" or not first[0].startswith("mteb/")  # a published study's group


def test_efficiency_per_language_front_within_one_benchmark(reference_store):
    runs, metrics = reference_store.runs(), reference_store.metrics()
    csn = runs[runs["benchmark"].str.startswith("mteb/CodeSearchNetRetrieval@")]
    eff = compare.efficiency(csn, by_language(metrics, "ndcg@10"), "ndcg@10", language="ruby")
    values = metrics[(metrics["metric"] == "ndcg@10") & (metrics["language"] == "ruby")].set_index("run_id")["value"]
    assert len(eff) == len(csn) and (eff.set_index("run_id")["score"] == values.reindex(eff["run_id"]).values).all()
    assert eff["pareto_params"].any() and set(eff["benchmark"]) == set(csn["benchmark"])
    assert isinstance(eff, pd.DataFrame)
