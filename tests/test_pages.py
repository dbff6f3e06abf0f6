"""One AppTest per page (plus empty, error and refusal states), against a temporary DB."""
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from backend import catalog
from backend.config import REPO_ROOT, settings
from backend.kinds import kinds_of
from tests.conftest import reference_runs

TIMEOUT = 60


def page(name: str) -> AppTest:
    return AppTest.from_file(str(REPO_ROOT / name), default_timeout=TIMEOUT).run()


@pytest.mark.parametrize("name", ["pages/runs.py", "pages/deltas.py", "pages/efficiency.py"])
def test_empty_db_explains_what_to_do(name, store):
    at = page(name)
    assert not at.exception
    assert any("runs/reference" in i.value for i in at.info)


def test_app_entry_renders_runs_page(reference_store):
    at = page("app.py")
    assert not at.exception
    assert at.title[0].value == "Runs"


def test_runs_page_filters(reference_store):
    at = page("pages/runs.py")
    assert not at.exception and len(at.dataframe[0].value) == reference_runs()
    at.text_input[0].input("tokenlearn").run()
    assert at.dataframe[0].value["run_id"].tolist() == ["reference--m2v-mpnet-tokenlearn-c4"]
    assert f"1 of {reference_runs()} runs" in at.caption[0].value


def test_deltas_page_defaults_to_plain_vs_tokenlearn(reference_store):
    at = page("pages/deltas.py")
    assert not at.exception and not at.error
    assert at.selectbox[0].value == "reference--m2v-mpnet-distill"
    assert at.multiselect[0].value == ["reference--m2v-mpnet-tokenlearn-c4"]
    table = at.dataframe[0].value.set_index(["language", "metric"])
    assert table.loc[("java", "ndcg@10"), "rel_delta_pct"] == pytest.approx(-59.87, abs=0.01)
    assert len(at.get("plotly_chart")) == 1


def test_deltas_page_warns_for_reference_runs_on_other_benchmarks(reference_store):
    at = page("pages/deltas.py")
    at.multiselect[0].set_value(["mteb--potion-base-8M--CodeSearchNetRetrieval"]).run()
    assert not at.exception and not at.error
    assert "read the deltas with care" in at.warning[0].value


def test_deltas_page_offers_only_runs_evaluated_like_the_base(reference_store, tmp_path):
    run = {"schema_version": 1, "run_id": "mine", "kind": "teacher-eval", "benchmark": "csn-mined", "protocol": "full",
           "metrics": [{"language": "java", "metric": "ndcg@10", "value": 0.5}]}
    (tmp_path / "run.json").write_text(json.dumps(run))
    catalog.import_paths([tmp_path / "run.json"], store=reference_store)
    at = page("pages/deltas.py")
    at.selectbox[0].set_value("mine").run()
    assert not at.exception and not at.multiselect[0].options  # no other run was evaluated on csn-mined
    assert f"{reference_runs()} run(s) evaluated on another benchmark or protocol" in at.caption[0].value
    assert "Pick at least one" in at.info[0].value and not at.dataframe


def test_efficiency_page_groups_runs_by_evaluation(reference_store):
    at = page("pages/efficiency.py")
    assert not at.exception and not at.error
    table = at.dataframe[0].value.set_index("run_id")
    assert sorted(table.index) == ["reference--m2v-mpnet-distill", "reference--m2v-mpnet-tokenlearn-c4"]
    assert table.loc["reference--m2v-mpnet-distill", "pareto_disk"]
    assert table.loc["reference--m2v-mpnet-distill", "score_per_mb"] == pytest.approx(0.7387 / 15.07)
    assert len(at.get("plotly_chart")) == 2
    at.selectbox[0].select_index(len(at.selectbox[0].options) - 1).run()  # all runs, mixed evaluations
    runs = reference_store.runs()
    retrieval = runs[~runs["kind"].isin(kinds_of("codegen"))]  # code LMs: the Codegen page
    assert len(at.dataframe[0].value) == len(retrieval)
    # Says which runs lack a disk size: a dozen by name (potion-base-8M among the public ones), then a count.
    assert any(c.value.startswith("Not drawn") and "more (the table lists them)" in c.value for c in at.caption)
    at.toggle[0].set_value(False).run()  # without the public leaderboards' models (MTEB, EvalPlus)
    assert not at.exception and not any(r.startswith("mteb--") for r in at.dataframe[0].value["run_id"])


def test_efficiency_page_speedup_against_teacher(store, tmp_path):
    for run_id, kind, speed in (("t", "teacher-eval", 40.0), ("s", "m2v-distill", 4000.0)):
        run = {"schema_version": 1, "run_id": run_id, "kind": kind, "benchmark": "b", "protocol": "full",
               "disk_mb": 10.0, "params": 1000, "encode_throughput": speed,
               "metrics": [{"language": "go", "metric": "ndcg@10", "value": 0.5}]}
        (tmp_path / f"{run_id}.json").write_text(json.dumps(run))
        catalog.import_paths([tmp_path / f"{run_id}.json"], store=store)
    at = page("pages/efficiency.py")
    assert not at.exception
    table = at.dataframe[0].value.set_index("run_id")
    assert table.loc["s", "speedup"] == pytest.approx(100.0) and table.loc["t", "speedup"] == pytest.approx(1.0)
    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)  # retention vs speed-up, one point per run
    assert "retention vs" in spec["layout"]["yaxis"]["title"]["text"]
    assert sorted((c[0], x) for t in spec["data"] for c, x in zip(t["customdata"], t["x"])) == [("s", 100.0), ("t", 1.0)]


def test_unreadable_db_is_an_error_message_not_a_crash(runs_dir, tmp_path, monkeypatch):
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_bytes(b"this is not a duckdb file" * 100)
    monkeypatch.setenv("DASHBOARD_DB", str(bad))
    settings.cache_clear()
    at = page("pages/runs.py")
    assert not at.exception
    assert "cannot be read" in at.error[0].value


@pytest.mark.integration
def test_launch_page_starts_a_run_and_a_missing_model_ends_failed(store):
    import time
    at = page("pages/launch.py")
    assert not at.exception
    at.selectbox[0].set_value("eval").run()
    model_box = next(t for t in at.text_input if t.label == "model")
    model_box.input("/nonexistent/model-folder")
    at.button[0].click().run()
    assert not at.exception and "Started eval" in at.success[0].value
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        runs = store.runs()
        if len(runs) and runs["status"].iloc[0] != "running":
            break
        time.sleep(0.5)
    run = store.runs().iloc[0]
    assert run["status"] == "failed" and "not found" in run["error"]


def test_app_says_when_the_first_start_is_still_making_default_runs(reference_store, runs_dir):
    import fcntl
    with open(runs_dir / ".defaults.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as the background `defaults` process holds it
        at = page("app.py")
        assert not at.exception and any("First start" in i.value for i in at.info)
    assert not any("First start" in i.value for i in page("app.py").info)


def _codegen_run(run_id, params, memory, statuses, method=None):
    problems = [{"language": lang, "problem_id": f"HumanEval/{i}", "sample": 0, "status": s}
                for lang, row in statuses.items() for i, s in enumerate(row)]
    from backend.codegen.passk import pass_metrics
    return {"schema_version": 1, "run_id": run_id, "kind": "codegen-finetune" if method else "codegen-eval",
            "params": params, "peak_memory_mb": memory, "problems": problems,
            "config": {"method": method} if method else {}, "metrics": pass_metrics(problems, 1, True)}


@pytest.mark.integration
def test_codegen_page_scatter_table_and_flips(store, tmp_path):
    runs = [_codegen_run("base", 135_000_000, 600.0, {"python": ["PASS", "FAIL", "FAIL"], "java": ["FAIL", "FAIL"]}),
            _codegen_run("tuned", 135_000_000, 900.0, {"python": ["FAIL", "PASS", "PASS"], "java": ["PASS", "FAIL"]},
                         method="lora")]
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    catalog.import_paths([tmp_path / "runs.json"], store=store)
    at = page("pages/codegen.py")
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 2
    table = at.dataframe[0].value.set_index(["name", "language"])
    assert table.loc[("tuned", "python"), "pass@1"] == pytest.approx(2 / 3)
    assert table.loc[("tuned", "python"), "method"] == "lora fine-tuned" and table.loc[("base", "java"), "method"] == "base"
    at.selectbox[0].set_value("base").run()
    at.selectbox[1].set_value("tuned").run()
    flips = at.dataframe[1].value
    assert sorted(zip(flips["problem_id"], flips["language"], flips["flip"])) == [
        ("HumanEval/0", "java", "now passes"), ("HumanEval/0", "python", "now fails"),
        ("HumanEval/1", "python", "now passes"), ("HumanEval/2", "python", "now passes")]


def test_codegen_page_without_runs_says_how_to_make_one(store):
    at = page("pages/codegen.py")
    assert not at.exception and "launch codegen-eval" in at.info[0].value


def _partial_runs(tmp_path):
    """Runs as imports leave them: no model, no params, no per-language rows, only an overall score, a name
    longer than any column, codegen runs without params or memory."""
    long_name = "a very long run name " * 12
    rows = ["run_id,kind,name,language,ndcg@10,mrr",
            f"partial--no-model,m2v-distill,{long_name},python,0.4,0.3",
            "partial--overall-only,teacher-eval,overall only,overall,0.6,",
            "partial--one-language,external-retrieval,,java,0.2,0.1"]
    (tmp_path / "partial.csv").write_text("\n".join(rows) + "\n")
    codegen = {"schema_version": 1, "run_id": "partial--codegen", "kind": "codegen-eval", "name": "no sizes",
               "metrics": [{"language": "python", "metric": "pass@1", "value": 0.5}]}
    (tmp_path / "codegen.json").write_text(json.dumps(codegen))
    return [tmp_path / "partial.csv", tmp_path / "codegen.json"]


def _page_files() -> list[str]:
    """Every page: the app's entry and each file of pages/ that no other page imports (those are helpers)."""
    files = sorted((REPO_ROOT / "pages").glob("[!_]*.py"))
    sources = "\n".join(f.read_text() for f in files)
    return ["app.py", *(f"pages/{f.name}" for f in files
                        if not re.search(rf"^(from pages\.{f.stem} import|from pages import .*\b{f.stem}\b)", sources, re.M))]


PAGES = _page_files()


def test_every_page_is_in_the_app_and_every_app_page_is_tested():
    listed = re.findall(r'st\.Page\("(pages/[^"]+\.py)"', (REPO_ROOT / "app.py").read_text())
    assert sorted(listed) == sorted(PAGES[1:]) and "pages/recipes.py" in PAGES


@pytest.mark.parametrize("name", PAGES)
def test_every_page_survives_partial_data(name, store, tmp_path):
    catalog.import_paths(_partial_runs(tmp_path), store=store)
    at = page(name)
    assert not at.exception, [e.value for e in at.exception]


def test_config_diff_shows_only_what_differs():
    import pandas as pd

    from backend import compare
    env = {"code_commit": "abc", "libraries": {"torch": "2.13.0", "peft": "0.21.2"}, "cpu_count": 2}
    runs = pd.DataFrame([
        {"run_id": "a", "name": "A", "benchmark": "b1", "protocol": "full", "config": json.dumps({"steps": 100, "seed": 0}),
         "provenance": json.dumps({"environment": env})},
        {"run_id": "b", "name": "B", "benchmark": "b2", "protocol": "full", "config": json.dumps({"steps": 200, "seed": 0}),
         "provenance": json.dumps({"environment": {**env, "libraries": {"torch": "2.13.0", "peft": "0.22.0"}}})}])
    manifests = {"b1": {"languages": {"java": {"packages": [{"package": "openjdk-17-source", "version": "17.0.15"}]}}},
                 "b2": {"languages": {"java": {"packages": [{"package": "openjdk-17-source", "version": "17.0.17"}]}}}}
    diff = compare.config_diff(runs, manifests).set_index("key")
    assert set(diff.index) == {"benchmark", "config.steps", "provenance.environment.libraries.peft",
                               "benchmark sources.java"}
    assert diff.loc["benchmark sources.java"].tolist() == ["openjdk-17-source 17.0.15", "openjdk-17-source 17.0.17"]


def test_cached_results_are_read_again_after_a_run_is_replaced(store, runs_dir, tmp_path):
    """The pages' caches are keyed on the DB's version: an import with --replace is never served stale."""
    from pages.parts import reads

    def write(rank):
        run = {"schema_version": 1, "run_id": "r", "kind": "eval", "benchmark": "b", "protocol": "full",
               "metrics": [{"language": "go", "metric": "mrr", "value": 1 / rank}],
               "queries": [{"language": "go", "query_id": f"q{i}", "gold_rank": rank} for i in range(50)]}
        (tmp_path / "r.json").write_text(json.dumps(run))
        catalog.import_paths([tmp_path / "r.json"], store=store, runs_dir=runs_dir, replace=True)
        table = reads.score_intervals(("r",))
        return table[(table["language"] == "go") & (table["metric"] == "mrr")]["value"].tolist()
    assert write(1) == [1.0] and write(2) == [0.5]


def test_cache_keys_tell_tables_and_id_lists_apart_without_hashing_them_whole():
    """per_version / per_db_version key a table by its columns and runs and a long id list by a digest: equal
    inputs share a cache entry, any other run, column or id makes another."""
    import pandas as pd

    from pages.parts.reads import _key
    ids = tuple(f"run-{i}" for i in range(1000))
    table = pd.DataFrame({"run_id": list(ids), "score": range(1000)})
    key = _key((table, ids, "ndcg@10"))
    assert key == _key((table.copy(), tuple(ids), "ndcg@10"))
    assert key != _key((table.iloc[1:], ids, "ndcg@10"))
    assert key != _key((table.rename(columns={"score": "mrr"}), ids, "ndcg@10"))
    assert key != _key((table, ids[:-1] + ("run-x",), "ndcg@10")) and key != _key((table, ids, "mrr"))
    assert _key(("a", ("x", "y"))) == ("a", ("x", "y"))  # short arguments stay as they are


def test_config_diff_compares_missing_none_and_nan_as_values():
    """pandas 3 keeps None/NaN as missing through astype(str), and nunique skipped them: a key only one run has
    (a student's pca_dims) must still show."""
    import pandas as pd

    from backend import compare
    runs = pd.DataFrame([
        {"run_id": "t", "name": "teacher", "benchmark": "b", "protocol": "full", "provenance": None,
         "config": json.dumps({"model": "m", "seed": 0, "note": None, "lr": 1.0, "empty": None})},
        {"run_id": "s", "name": "student", "benchmark": "b", "protocol": float("nan"), "provenance": None,
         "config": json.dumps({"model": "m", "seed": 0, "pca_dims": 128, "vocabulary_file": "", "note": None,
                               "lr": 1, "empty": 0})}])
    diff = compare.config_diff(runs).set_index("key")
    assert set(diff.index) == {"config.pca_dims", "config.vocabulary_file", "config.empty", "protocol"}
    assert diff.loc["config.pca_dims"].tolist() == [compare.NOT_SET, 128]
    assert diff.loc["config.vocabulary_file"].tolist() == [compare.NOT_SET, ""]
    assert diff.loc["config.empty"].tolist() == [None, 0]  # null is not 0
    same = pd.DataFrame([{**runs.iloc[0].to_dict(), "run_id": "u", "protocol": None}, runs.iloc[0].to_dict()])
    same.loc[0, "protocol"] = float("nan")
    same.loc[1, "protocol"] = None
    assert compare.config_diff(same).empty  # NaN and None: both missing, the same


def test_launch_says_started_where_the_user_is_looking(store, monkeypatch):
    """The Launch button ends a long form: what it started shows as a toast (at any scroll) and on top of the
    page, beside the running list, not under the form."""
    from backend.runs import supervision
    monkeypatch.setattr(supervision, "spawn", lambda *a: (42, "runs/x.log"))
    at = page("pages/launch.py")
    at.button[0].click().run()
    assert not at.exception and at.toast[0].value.startswith("Started") and "process 42" in at.toast[0].value
    top = at.main.children[1]  # right under the title, above the running list and the form
    assert [s.value for s in top.success] == [at.success[0].value] and "Started" in at.success[0].value
