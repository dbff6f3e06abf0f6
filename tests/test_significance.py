"""Paired significance of deltas: agrees with scipy on the same data, adjusts across the table, never gives a
verdict without per-item data, and gates CI."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backend import catalog, significance, views
from backend.__main__ import main
from backend.significance import Resampling

FAST = Resampling(resamples=4000, seed=1)


@pytest.mark.integration
def test_interval_and_p_value_agree_with_scipy():
    rng = np.random.default_rng(7)
    base = rng.normal(0.5, 0.3, 400)
    cand = base + rng.normal(0.03, 0.2, 400)
    d = (cand - base)[:, None]
    low, high, p = significance.paired_tests(d, Resampling(resamples=20000, seed=3))
    ref = stats.bootstrap((d[:, 0],), np.mean, n_resamples=20000, method="percentile", random_state=4)
    assert low[0] == pytest.approx(ref.confidence_interval.low, abs=0.004)
    assert high[0] == pytest.approx(ref.confidence_interval.high, abs=0.004)
    perm = stats.permutation_test((cand, base), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
                                  permutation_type="samples", n_resamples=20000, random_state=5)
    assert p[0] == pytest.approx(perm.pvalue, abs=0.02)  # two Monte-Carlo estimates (SE ~0.004 each)
    assert p[0] == pytest.approx(stats.ttest_rel(cand, base).pvalue, abs=0.03)  # and the paired t-test


def test_with_one_sample_per_problem_the_sign_flip_test_is_mcnemars():
    """n = 1: per-problem pass/fail; the test on the discordant pairs is McNemar's exact binomial test."""
    a = np.array([1] * 30 + [0] * 12 + [1] * 6 + [0] * 52, dtype=float)  # 12 problems only B passes, 6 only A
    b = np.array([1] * 30 + [1] * 12 + [0] * 6 + [0] * 52, dtype=float)
    _, _, p = significance.paired_tests((b - a)[:, None], Resampling(resamples=40000, seed=2))
    assert p[0] == pytest.approx(stats.binomtest(12, 18, 0.5).pvalue, abs=0.01)


def test_adjustments():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    assert significance.adjust(p, "holm")[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert significance.adjust(p, "bh")[:4] == pytest.approx(stats.false_discovery_control(p[:4], method="bh"))
    assert np.isnan(significance.adjust(p)[4])


def _run(run_id, ranks_by_language, store_dir):
    metrics, queries = [], []
    for lang, ranks in ranks_by_language.items():
        ranks = np.asarray(ranks)
        queries += [{"language": lang, "query_id": f"q{i}", "gold_rank": int(r)} for i, r in enumerate(ranks)]
        metrics += [{"language": lang, "metric": m, "value": float(significance.query_values(ranks, m).mean()),
                     "n": len(ranks)} for m in ("ndcg@10", "mrr", "recall@1")]
    run = {"schema_version": 1, "run_id": run_id, "kind": "m2v-distill", "benchmark": "b", "protocol": "full",
           "metrics": metrics, "queries": queries}
    (store_dir / f"{run_id}.json").write_text(json.dumps(run))
    return store_dir / f"{run_id}.json"


@pytest.fixture
def three_runs(store, tmp_path):
    rng = np.random.default_rng(0)
    base = rng.integers(1, 30, size=(2, 600))
    same = base.copy()
    same[:, :5] = np.maximum(1, same[:, :5] - 1)  # a tiny change on 5 of 600 queries
    better = np.maximum(1, base - rng.integers(0, 8, size=base.shape))  # most queries move up
    paths = [_run(name, {"python": r[0], "java": r[1]}, tmp_path) for name, r in
             (("base", base), ("tiny", same), ("better", better))]
    catalog.import_paths(paths, store=store)
    return store


def test_verdicts_on_the_deltas_table(three_runs):
    store = three_runs
    ids = ["base", "tiny", "better"]
    values = significance.item_values(store.query_results(ids), store.problem_results(ids))
    table = significance.deltas_table(store.metrics(ids), values, "base", ["tiny", "better"], FAST)
    by = table.set_index(["candidate_id", "language", "metric"])
    assert set(by.loc["tiny", "verdict"]) == {"n.s."}
    assert set(by.loc["better", "verdict"]) == {"better"}
    assert (table["n_pairs"] == 600).all() and (table["p_adjusted"] >= table["p_value"]).all()
    assert (table["ci_low"] <= table["delta"]).all() and (table["delta"] <= table["ci_high"]).all()


@pytest.mark.integration
def test_export_deltas_has_the_significance_columns_and_check_gates(three_runs, tmp_path, capsys):
    out = tmp_path / "d.csv"
    assert main(["export", "deltas", "--base", "better", "--candidate", "base", "-o", str(out)]) == 0
    table = pd.read_csv(out)
    assert {"ci_low", "ci_high", "p_value", "p_adjusted", "verdict"} <= set(table.columns)
    assert set(table["verdict"]) == {"worse"}
    assert main(["check", "--base", "better", "--candidate", "base", "--resamples", "2000"]) == 1
    assert capsys.readouterr().out.count("FAIL base") == 2  # python and java ndcg@10
    assert main(["check", "--base", "better", "--candidate", "base", "--max-drop", "0.5"]) == 0
    assert main(["check", "--base", "base", "--candidate", "tiny"]) == 0


def test_check_exit_codes_tell_a_regression_from_a_usage_or_data_error(three_runs, tmp_path, capsys, monkeypatch):
    """0 holds, 1 regressed, 2 usage or data error: a CI script must not read a typo as a regression."""
    assert main(["check", "--base", "better", "--candidate", "base", "--resamples", "500"]) == 1
    assert main(["check", "--base", "better", "--candidate", "base", "--resamples", "500", "--max-drop", "0.5"]) == 0
    capsys.readouterr()
    assert main(["check", "--base", "better", "--candidate", "no-such-run"]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err
    assert main(["check", "--base", "base", "--candidate", "base"]) == 2  # the same run twice
    run = json.loads(_run("other", {"python": [1, 2, 3]}, tmp_path).read_text())
    (tmp_path / "other.json").write_text(json.dumps({**run, "protocol": "csn-1000"}))
    catalog.import_paths([tmp_path / "other.json"], store=three_runs)
    assert main(["check", "--base", "base", "--candidate", "other"]) == 2  # evaluated differently
    assert "evaluated differently" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["check", "--base", "base"])  # argparse: --candidate missing
    assert usage.value.code == 2
    capsys.readouterr()
    # Options the runs cannot answer are usage errors with one line, never a traceback or a gate that checked nothing.
    for wrong, says in ((["--metric", "ndcg@20"], "--metric ndcg@20: not scored by both runs"),
                        (["--languages", "klingon"], "--languages klingon: not scored by both runs"),
                        (["--resamples", "0"], "resamples must be at least 1"),
                        (["--max-drop", "-1"], "--max-drop -1 is negative")):
        assert main(["check", "--base", "better", "--candidate", "base", *wrong]) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    monkeypatch.setattr(views, "check", lambda *a, **k: {}["a bug"])
    assert main(["check", "--base", "better", "--candidate", "base"]) == 2  # a crash is no verdict either
    assert main(["export", "deltas", "--base", "base", "--candidate", "no-such-run", "-o", "-"]) == 1  # others: 1


def test_runs_without_per_query_results_never_get_a_verdict(reference_store):
    store = reference_store
    ids = ["reference--m2v-mpnet-distill", "reference--m2v-mpnet-tokenlearn-c4"]
    values = significance.item_values(store.query_results(ids), store.problem_results(ids))
    table = significance.deltas_table(store.metrics(ids), values, ids[0], ids[1:], FAST)
    assert set(table["verdict"]) == {significance.UNKNOWN}


def test_codegen_pass_rates_are_compared_per_problem(store, tmp_path):
    def run(run_id, passed):
        problems = [{"language": "python", "problem_id": f"HumanEval/{i}", "sample": 0,
                     "status": "PASS" if ok else "FAIL"} for i, ok in enumerate(passed)]
        data = {"schema_version": 1, "run_id": run_id, "kind": "codegen-eval", "benchmark": "he", "protocol": "greedy",
                "config": {"problem_sets": {"python": "he"}}, "problems": problems,
                "metrics": [{"language": "python", "metric": "pass@1", "value": float(np.mean(passed))}]}
        (tmp_path / f"{run_id}.json").write_text(json.dumps(data))
        return tmp_path / f"{run_id}.json"
    a = [i % 3 == 0 for i in range(164)]
    b = [i % 3 == 0 or i % 5 == 0 for i in range(164)]  # gains 44 problems, loses none
    catalog.import_paths([run("cg-a", a), run("cg-b", b)], store=store)
    values = significance.item_values(store.query_results(["cg-a", "cg-b"]), store.problem_results(["cg-a", "cg-b"]))
    table = significance.deltas_table(store.metrics(["cg-a", "cg-b"]), values, "cg-a", ["cg-b"], FAST)
    assert table["verdict"].tolist() == ["better"] and table["n_pairs"].tolist() == [164]


@pytest.mark.integration
def test_score_intervals_and_the_query_drilldown(three_runs):
    store = three_runs
    values = significance.item_values(store.query_results(["base", "better"]), store.problem_results([]))
    ci = significance.score_interval(values).set_index(["run_id", "language", "metric"])
    for run in ("base", "better"):
        row = ci.loc[(run, "mean", "ndcg@10")]
        assert row["ci_low"] < row["value"] < row["ci_high"] and row["ci_high"] - row["ci_low"] < 0.1
    from backend import compare
    eff = compare.efficiency(store.runs(), store.metric_by_language("ndcg@10"), "ndcg@10", significance.score_interval(values))
    assert eff["score_ci_low"].notna().sum() == 2 and eff["score_ci_low"].isna().sum() == 1  # "tiny" not given
    moved, counts = significance.query_moves(store.query_results("base"), store.query_results("better"), top=5)
    assert len(moved) == 5 and (moved["rank_change"].abs().diff().dropna() <= 0).all()
    assert counts.set_index("language")[["win", "tie", "loss"]].sum(axis=1).tolist() == [600, 600]
    assert (counts["loss"] == 0).all()  # "better" never ranks gold lower


@pytest.mark.integration
def test_deltas_page_shows_verdicts_and_the_drilldown(three_runs):
    from streamlit.testing.v1 import AppTest

    from backend.config import REPO_ROOT
    at = AppTest.from_file(str(REPO_ROOT / "pages/deltas.py"), default_timeout=60).run()
    at.selectbox[0].set_value("base").run()
    at.multiselect[0].set_value(["better", "tiny"]).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.dataframe[0].value
    assert set(shown[shown["candidate_id"] == "better"]["verdict"]) == {"better"}
    assert set(shown[shown["candidate_id"] == "tiny"]["verdict"]) == {"n.s."}
    assert any(s.value == "Queries that moved most" for s in at.subheader)
    assert len(at.dataframe) == 3  # deltas, win/tie/loss, moved queries


@pytest.mark.integration
def test_deltas_and_efficiency_pages_show_seed_groups(store, tmp_path):
    from streamlit.testing.v1 import AppTest

    from backend.config import REPO_ROOT
    rng = np.random.default_rng(3)
    paths = []
    for seed in (0, 1, 2):
        path = _run(f"lora-seed{seed}", {"python": rng.integers(1, 20, 200)}, tmp_path)
        data = json.loads(path.read_text())
        path.write_text(json.dumps({**data, "kind": "peft-contrastive", "name": "LoRA",
                                    "config": {"method": "lora", "seed": seed}}))
        paths.append(path)
    catalog.import_paths(paths, store=store)
    for name in ("pages/deltas.py", "pages/efficiency.py"):
        at = AppTest.from_file(str(REPO_ROOT / name), default_timeout=60).run()
        if name == "pages/deltas.py":
            at.selectbox[0].set_value("lora-seed0").run()
            at.multiselect[0].set_value(["lora-seed1"]).run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("seed" in s.value.lower() for s in at.subheader), [s.value for s in at.subheader]


@pytest.mark.integration
def test_candidates_survive_a_change_of_base(three_runs):
    from streamlit.testing.v1 import AppTest

    from backend.config import REPO_ROOT
    at = AppTest.from_file(str(REPO_ROOT / "pages/deltas.py"), default_timeout=60).run()
    at.selectbox[0].set_value("base").run()
    at.multiselect[0].set_value(["better"]).run()
    at.selectbox[0].set_value("tiny").run()
    assert not at.exception and at.multiselect[0].value == ["better"]


def test_a_median_is_not_tested_but_said_so(three_runs):
    store = three_runs
    import numpy as np
    rows = store.metrics(["base", "better"])
    median = rows.assign(metric="median_rank", value=np.where(rows["run_id"] == "base", 9.0, 7.0)).drop_duplicates(
        ["run_id", "language"])
    ids = ["base", "better"]
    values = significance.item_values(store.query_results(ids), store.problem_results(ids))
    table = significance.deltas_table(pd.concat([rows, median]), values, "base", ["better"], FAST)
    assert set(table[table["metric"] == "median_rank"]["verdict"]) == {significance.NOT_TESTED}
