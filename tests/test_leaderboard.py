"""Leaderboard: rank intervals and tiers against a straightforward loop, tie and significance behaviour on
constructed cases, the table's rules (no interval without per-item results, the mean, budgets, the front), and
the CLI contract on a store."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from backend import leaderboard as lb
from backend import ranking
from backend.__main__ import main
from backend.frames import by_language
from backend.significance import Resampling, paired_tests, query_values
from benchmarks.leaderboard_bench import naive, synthetic_scores

FEW = Resampling(resamples=400, seed=3)


def test_vectorised_core_equals_the_per_run_loop_on_small_data():
    scores = synthetic_scores(25, 120, seed=7)
    fast, slow = ranking.rank_scores(scores, True, FEW), naive(scores, FEW)
    assert set(fast) == set(slow) == {*scores, "mean"}
    for language in slow:
        for got, want in zip(fast[language], slow[language]):
            np.testing.assert_array_equal(got, want)
    assert 1 < fast["mean"][3].max() < 25  # several tiers, not one per run: the case is not trivial
    # Same seed, same intervals; another seed moves some interval.
    again = ranking.rank_scores(scores, True, FEW)
    assert all(np.array_equal(a, b) for a, b in zip(again["mean"], fast["mean"]))
    other = ranking.rank_scores(scores, True, Resampling(resamples=400, seed=4))
    assert not all(np.array_equal(a, b) for a, b in zip(other["mean"][1:3], fast["mean"][1:3]))


def test_min_ranks_are_scipys_min_ranks_with_ties():
    x = np.random.default_rng(0).integers(0, 6, size=(50, 30)).astype(float)
    np.testing.assert_array_equal(ranking.min_ranks(x), np.vstack([rankdata(row, method="min") for row in x]))


def test_identical_runs_share_rank_interval_and_tier():
    base = synthetic_scores(6, 200, seed=1)["python"]
    scores = {"python": np.vstack([base, base[2]])}  # run 6 is run 2 again
    rank, low, high, tier = ranking.rank_scores(scores, True, FEW)["python"]
    assert (rank[6], low[6], high[6], tier[6]) == (rank[2], low[2], high[2], tier[2])


def test_a_clearly_better_run_is_alone_in_tier_one():
    rng = np.random.default_rng(2)
    ranks = rng.integers(5, 40, size=(5, 300))
    ranks[0] = np.maximum(1, ranks[0] // 10)  # gold found far higher on every query
    rank, low, high, tier = ranking.rank_scores({"go": query_values(ranks, "ndcg@10")}, True, FEW)["go"]
    assert rank[0] == low[0] == high[0] == 1
    assert tier[0] == 1 and (tier[1:] > 1).all()


def test_runs_within_noise_are_tied_and_lower_is_better_for_mean_rank():
    rng = np.random.default_rng(5)
    ranks = np.maximum(1, rng.integers(1, 30, size=(1, 400)) + rng.integers(-1, 2, size=(3, 400)))
    out = ranking.rank_scores({"php": ranks.astype(float)}, False, FEW)["php"]  # mean rank: lower is better
    assert (out[3] == 1).all()  # a +-1 jitter per query is noise
    assert out[0][np.argmin(ranks.mean(axis=1))] == 1


def test_tier_p_values_match_the_monte_carlo_sign_flip_test():
    rng = np.random.default_rng(8)
    base = rng.integers(1, 50, 500)
    runs = np.vstack([query_values(base, "mrr")] + [query_values(np.maximum(1, base + rng.integers(-d, d + 2, 500)), "mrr")
                                                      for d in (2, 4, 8)])
    p = ranking.Paired([(runs, 1.0)]).p_values(0, np.arange(1, 4))
    _, _, monte_carlo = paired_tests((runs[1:] - runs[0]).T, Resampling(resamples=20_000, seed=1))
    assert p == pytest.approx(monte_carlo, abs=0.02)
    assert (monte_carlo > 0.001).sum() >= 1  # at least one p-value in the range where both resolve it


def test_tier_p_values_match_scipys_paired_permutation_test():
    from scipy.stats import permutation_test
    rng = np.random.default_rng(11)
    base = rng.integers(1, 40, 400)
    runs = np.vstack([query_values(base, "ndcg@10"), query_values(np.maximum(1, base + rng.integers(-3, 4, 400)), "ndcg@10")])
    ours = ranking.Paired([(runs, 1.0)]).p_values(0, np.array([1]))[0]
    theirs = permutation_test((runs[1], runs[0]), lambda a, b, axis: np.mean(a - b, axis=axis), vectorized=True,
                              permutation_type="samples", n_resamples=20_000, alternative="two-sided",
                              random_state=0).pvalue
    assert 0.01 < theirs < 0.9 and ours == pytest.approx(theirs, abs=0.02)


def _rows(run_id, language, values, items=True):
    metric = {"run_id": run_id, "language": language, "metric": "ndcg@10", "value": float(np.mean(values))}
    item = pd.DataFrame({"run_id": run_id, "language": language, "item_id": [f"q{i}" for i in range(len(values))],
                         "value": values}) if items else None
    return metric, item


def _table(budget=lb.Budget()):
    rng = np.random.default_rng(0)
    strong = {lang: query_values(rng.exponential(2, 300).astype(int) + 1, "ndcg@10") for lang in ("python", "java")}
    weak = {lang: query_values(rng.exponential(40, 300).astype(int) + 1, "ndcg@10") for lang in ("python", "java")}
    parts = [_rows("strong", lang, strong[lang]) for lang in strong] + \
            [_rows("twin", lang, strong[lang]) for lang in strong] + \
            [_rows("weak", lang, weak[lang]) for lang in weak] + \
            [_rows("published", "python", [0.99], items=False), _rows("published", "java", [0.10], items=False),
             _rows("python-only", "python", strong["python"][::-1])]
    metrics = pd.DataFrame([m for m, _ in parts] + [{"run_id": "overall", "language": "overall", "metric": "ndcg@10",
                                                      "value": 0.9}])
    items = pd.concat([i for _, i in parts if i is not None])
    runs = pd.DataFrame({"run_id": ["strong", "twin", "weak", "published", "python-only", "overall"],
                         "name": ["S", "T", "W", "P", "O", "A"], "source": "local",
                         "disk_mb": [100.0, 100.0, 5.0, None, 50.0, 1.0], "params": [1e8, 1e8, 1e6, 1e6, 1e7, 1e6],
                         "memory_mb": np.nan, "speedup": np.nan})
    return lb.leaderboard(runs, by_language(metrics), items, "ndcg@10", budget=budget, resampling=FEW)


def test_table_rules_intervals_tiers_mean_and_front():
    table, notes = _table()
    assert list(table.columns) == lb.COLUMNS
    at = table.set_index(["run_id", "language"])
    # Twins share everything; the weak run is below them with an interval.
    assert at.loc[("strong", "mean"), ["rank", "rank_low", "rank_high", "tier"]].tolist() == \
        at.loc[("twin", "mean"), ["rank", "rank_low", "rank_high", "tier"]].tolist()
    assert at.loc[("strong", "mean"), "tier"] == 1 and at.loc[("weak", "mean"), "tier"] > 1
    # A published run is ranked by value (first in python), with no interval and no tier.
    assert at.loc[("published", "python"), "rank"] == 1
    assert pd.isna(at.loc[("published", "python"), "rank_low"]) and pd.isna(at.loc[("published", "python"), "tier"])
    assert at.loc[("published", "python"), "note"].startswith("no interval")
    # Intervals are ranks among all runs: the published run above them pushes them down one.
    assert at.loc[("strong", "python"), "rank_low"] == 2
    # The mean is ranked only over runs with every language; an overall value is shown, not ranked.
    assert pd.isna(at.loc[("python-only", "mean"), "rank"]) and "no java" in at.loc[("python-only", "mean"), "note"]
    assert pd.isna(at.loc[("overall", "mean"), "rank"]) and at.loc[("overall", "mean"), "value"] == 0.9
    assert at.loc[("published", "mean"), "value"] == pytest.approx(0.545)
    # Every run x language plus a mean row per run.
    assert len(table[table["language"] == "mean"]) == 6 and len(table) == 6 + 9
    # Pareto of score vs disk MB: the small weak run, and the strong run with its twin (equal points).
    mean = table[table["language"] == "mean"].set_index("run_id")
    assert mean.loc["weak", "pareto"] and mean.loc["strong", "pareto"] and mean.loc["twin", "pareto"]
    assert not mean.loc["python-only", "pareto"]


def _field(seed: int):
    """A field of runs with tied values, missing languages, published overall values, per-item results for some
    runs and sizes with ties and gaps: what the table's order and flags are defined over."""
    rng = np.random.default_rng(seed)
    ids = [f"r{i:03d}" for i in rng.permutation(40)[: int(rng.integers(2, 40))]]
    langs = ["python", "java", "go"]
    rows = [(r, lang, float(np.round(rng.random(), 1))) for r in ids for lang in langs if rng.random() < 0.8]
    rows += [(r, "overall", float(rng.random())) for r in ids if rng.random() < 0.1]
    scored = [(r, lang) for r, lang, _ in rows if lang != "overall"] + [(r, lang) for r in ids for lang in langs
                                                                        if rng.random() < 0.1]  # items, no value
    items = pd.DataFrame([(r, lang, f"q{q}", float(rng.random())) for r, lang in scored if rng.random() < 0.3
                          for q in range(12 if rng.random() < 0.8 else 8)],
                         columns=["run_id", "language", "item_id", "value"])
    ids.append("a-items-only")  # per-item results on fewer items, and no value anywhere
    items = pd.concat([items, pd.DataFrame({"run_id": "a-items-only", "language": "python",
                                            "item_id": [f"q{q}" for q in range(7)], "value": 0.5})])
    runs = pd.DataFrame({"run_id": ids, "name": ids, "source": "local", "params": 1e6,
                         "disk_mb": np.where(rng.random(len(ids)) < 0.8, rng.integers(1, 6, len(ids)), np.nan),
                         "memory_mb": np.nan, "speedup": np.nan})
    metrics = pd.DataFrame(rows, columns=["run_id", "language", "value"]).sort_values(["run_id", "language"])
    return runs, by_language(metrics), items


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("metric", ["ndcg@10", "mean_rank"])
def test_order_front_and_best_follow_their_definitions(seed, metric):
    """The table's order, notes, Pareto flags and best-under-budget flags (computed on arrays, per language)
    against their definitions in plain pandas: sorted by language, rank (missing last), value best first, run id;
    a note where a row has no interval, "no per-item results" where its run has none; the front of score vs disk
    MB among ranked rows; the best the first affordable ranked row in that order."""
    from backend.pareto import pareto_front
    runs, values, items = _field(seed)
    budget = lb.Budget(max_disk_mb=3.0)
    table, _ = lb.leaderboard(runs, values, items, metric, budget=lb.Budget(), resampling=FEW)
    higher = metric != "mean_rank"
    place = {lang: i for i, lang in enumerate(["python", "java", "go", "mean"])}
    expected = table.assign(_place=table["language"].map(place), _value=table["value"] * (-1 if higher else 1))
    expected = expected.sort_values(["_place", "rank", "_value", "run_id"], na_position="last", kind="stable")
    assert table["run_id"].tolist() == expected["run_id"].tolist()
    assert table["language"].tolist() == expected["language"].tolist()
    for language, part in table.groupby("language"):
        ranked = part[part["rank"].notna()]
        front = pareto_front(ranked["value"] * (1 if higher else -1), ranked["disk_mb"])
        assert part["pareto"].tolist() == front.reindex(part.index, fill_value=False).tolist()
    with_items = set(zip(items["run_id"], items["language"]))
    for run, language, note, low in zip(table["run_id"], table["language"], table["note"], table["rank_low"]):
        assert (note is None) == pd.notna(low)  # a note says why a row has no interval
        if language != "mean" and (run, language) not in with_items:
            assert note == lb.NO_ITEMS
    within, _ = lb.leaderboard(runs, values, items, metric, budget=budget, resampling=FEW)
    assert (within["disk_mb"] <= 3.0).all() and set(within["run_id"]) == set(table.loc[table["disk_mb"] <= 3.0, "run_id"])
    for language, part in within.groupby("language", sort=False):
        ranked = part[part["rank"].notna()]
        best = ranked.index[0] if len(ranked) else None
        assert part["best_under_budget"].tolist() == [i == best for i in part.index]


def test_budget_lists_affordable_runs_and_names_the_best_with_its_tier():
    table, notes = _table(lb.Budget(max_disk_mb=60))
    assert set(table["run_id"]) == {"weak", "python-only", "overall"}  # 'published' has no disk size: not counted
    best = table[table["best_under_budget"]].set_index("language")
    assert best.loc["mean", "run_id"] == "weak" and best.loc["python", "run_id"] == "python-only"
    assert best.loc["mean", "rank"] == 4  # its place in the whole field (below the twins and "published")
    assert any("without a disk size" in n for n in notes)
    assert any(n.startswith("best under budget (disk <= 60 MB) in mean: W (weak)") and "tier 2" in n for n in notes)


def _run_json(tmp_path, run_id, ranks, disk_mb=10.0, source="local", queries=True):
    metrics = [{"language": lang, "metric": m, "value": float(query_values(np.array(r), m).mean())}
               for lang, r in ranks.items() for m in ("ndcg@10", "mrr")]
    run = {"schema_version": 1, "run_id": run_id, "kind": "teacher-eval", "benchmark": "b", "protocol": "full",
           "disk_mb": disk_mb, "params": 1000, "source": source, "metrics": metrics,
           "queries": [{"language": lang, "query_id": f"{lang}/{i}", "gold_rank": int(g)}
                       for lang, r in ranks.items() for i, g in enumerate(r)] if queries else []}
    (tmp_path / f"{run_id}.json").write_text(json.dumps(run))
    return tmp_path / f"{run_id}.json"


def lb_store(store, tmp_path):
    from backend import catalog
    rng = np.random.default_rng(1)
    files = [_run_json(tmp_path, name, {lang: rng.exponential(skill, 80).astype(int) + 1 for lang in ("python", "go")},
                       disk_mb=disk) for name, skill, disk in (("good", 2, 90.0), ("fair", 6, 20.0), ("poor", 30, 5.0))]
    files.append(_run_json(tmp_path, "paper", {"python": [1] * 80, "go": [3] * 80}, source="reference", queries=False))
    catalog.import_paths(files, store=store)
    return store


def test_cli_contract_columns_rows_and_budget(store, tmp_path, capsys):
    lb_store(store, tmp_path)
    out = tmp_path / "lb.csv"
    assert main(["leaderboard", "-o", str(out)]) == 0
    table = pd.read_csv(out)
    assert {"run_id", "language", "value", "rank", "rank_low", "rank_high", "tier", "pareto", "note"} <= set(table)
    assert len(table) == 4 * 3 and sorted(table["language"].unique()) == ["go", "mean", "python"]
    paper = table[table["run_id"] == "paper"]
    assert paper["rank_low"].isna().all() and paper["rank_high"].isna().all() and paper["tier"].isna().all()
    assert table[table["run_id"] != "paper"]["rank_low"].notna().all()
    assert main(["leaderboard", "--max-disk-mb", "50", "--no-public", "-o", str(out)]) == 0
    assert set(pd.read_csv(out)["run_id"]) == {"fair", "poor"}
    assert "best under budget" in capsys.readouterr().err


def test_codegen_ranks_pass_at_k_per_problem_and_refuses_other_problem_sets(store, tmp_path):
    from backend import catalog, views
    from backend.codegen.passk import pass_metrics

    def run(run_id, passes, problem_set):
        problems = [{"language": "python", "problem_id": f"HumanEval/{i}", "sample": s, "status": "PASS" if p else "FAIL"}
                    for i, row in enumerate(passes) for s, p in enumerate(row)]
        return {"schema_version": 1, "run_id": run_id, "kind": "codegen-eval", "benchmark": problem_set,
                "config": {"problem_sets": {"python": problem_set}}, "problems": problems,
                "metrics": pass_metrics(problems, 2, False)}
    rng = np.random.default_rng(0)
    runs = [run("a", rng.random((40, 2)) < 0.8, "he-40"), run("b", rng.random((40, 2)) < 0.2, "he-40"),
            run("c", rng.random((10, 2)) < 0.5, "he-10")]
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    catalog.import_paths([tmp_path / "runs.json"], store=store)
    board = views.leaderboard(store, tmp_path, codegen=True, resampling=FEW)
    table, notes = board.table, board.notes
    assert set(table["run_id"]) == {"a", "b"}
    assert any(n.startswith("refused: c in python covers problems 'he-10', not 'he-40'") for n in notes)
    at = table.set_index(["run_id", "language"])
    assert at.loc[("a", "python"), "tier"] == 1 and at.loc[("b", "python"), "tier"] == 2
    assert at.loc[("a", "python"), "n_items"] == 40
    board = views.leaderboard(store, tmp_path, metric="pass@1", codegen=True, codegen_set="he-10", resampling=FEW)
    assert set(board.table["run_id"]) == {"c"}


def _page():
    from streamlit.testing.v1 import AppTest

    from backend.config import REPO_ROOT
    return AppTest.from_file(str(REPO_ROOT / "pages" / "leaderboard.py"), default_timeout=60)


def test_page_table_is_the_cli_export(store, tmp_path):
    import io

    from backend import csvexport
    lb_store(store, tmp_path)
    at = _page().run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 1
    cli = tmp_path / "cli.csv"
    assert main(["leaderboard", "--bench", "b", "--protocol", "full", "-o", str(cli)]) == 0
    page = pd.read_csv(io.StringIO(csvexport.to_csv(at.dataframe[0].value)))
    pd.testing.assert_frame_equal(page, pd.read_csv(cli))
    # The public toggle leaves the published run out; a budget lists the runs within it.
    at.toggle[0].set_value(False).run()
    assert "paper" not in set(at.dataframe[0].value["run_id"])
    at.number_input[0].set_value(50.0).run()
    assert at.dataframe[0].value.set_index("language").loc["mean", "run_id"] == "fair"  # the best under budget
    assert set(at.dataframe[1].value["run_id"]) == {"fair", "poor"}
    assert at.query_params["disk"] == "50.0" and at.query_params["public"] == "False"


def test_page_opens_a_linked_view(store, tmp_path):
    lb_store(store, tmp_path)
    at = _page()
    at.query_params["metric"] = "mrr"
    at.query_params["disk"] = "50"
    at.run()
    assert not at.exception and at.selectbox[1].value == "mrr", [i.value for i in at.info]
    assert set(at.dataframe[1].value["run_id"]) == {"fair", "poor", "paper"}


def test_page_on_an_empty_store_and_on_partial_data(store, tmp_path):
    from backend import catalog
    from tests.test_pages import _partial_runs
    at = _page().run()
    assert not at.exception and "runs/reference" in at.info[0].value
    catalog.import_paths(_partial_runs(tmp_path), store=store)
    at = _page().run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio[0].set_value("codegen").run()  # a codegen run with pass@1 only, no sizes
    assert not at.exception, [e.value for e in at.exception]


def test_page_on_the_reference_runs(reference_store):
    at = _page().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["rank_low"].isna().all()  # published figures: ranked by value, no interval
    at.radio[0].set_value("codegen").run()
    assert not at.exception and len(at.dataframe[0].value)  # published pass@100 of the codegen paper


def test_overview_report_has_the_leaderboard(store, tmp_path):
    lb_store(store, tmp_path)
    assert main(["report", "-o", str(tmp_path / "r.md")]) == 0
    text = (tmp_path / "r.md").read_text()
    assert "## Leaderboard: NDCG@10" in text
    mean = [line for line in text.splitlines() if line.startswith("| mean |")]
    assert len(mean) == 4 and mean[0].startswith("| mean | 1 |")


def test_codegen_results_go_out_and_come_back_as_model_index(tmp_path):
    from backend import modelindex
    from backend.importers import load_path
    run = {"run_id": "cg", "name": "coder", "benchmark": "he-python+he-java", "protocol": "greedy",
           "config": {"problem_sets": {"python": "humaneval-python-164", "java": "humaneval-java-158"}}}
    rows = [{"language": "python", "metric": "pass@1", "value": 0.25}, {"language": "java", "metric": "pass@1",
                                                                         "value": 0.125}]
    index = modelindex.model_index(run, rows, None, "codegen")
    results = index["model-index"][0]["results"]
    assert [r["task"]["type"] for r in results] == ["text-generation"] * 2
    assert [r["dataset"]["type"] for r in results] == ["code-model-dashboard/humaneval-python-164",
                                                       "code-model-dashboard/humaneval-java-158"]
    (tmp_path / "card.yaml").write_text(modelindex.dump(index))
    back = load_path(tmp_path / "card.yaml")
    assert sorted((r.kind, r.benchmark, r.protocol, r.metrics[0]["value"]) for r in back) == [
        ("codegen-eval", "humaneval-java-158", "greedy", 0.125), ("codegen-eval", "humaneval-python-164", "greedy", 0.25)]


def test_cli_refuses_unknown_evaluations_languages_and_metrics(store, tmp_path, capsys):
    lb_store(store, tmp_path)
    out = str(tmp_path / "x.csv")
    assert main(["leaderboard", "--bench", "nope", "--protocol", "full", "-o", out]) == 1
    assert "pick --bench/--protocol from b·full" in capsys.readouterr().err
    assert main(["leaderboard", "--languages", "rust", "-o", out]) == 1
    assert "unknown language 'rust'" in capsys.readouterr().err
    assert main(["leaderboard", "--metric", "bleu", "-o", out]) == 1
    assert "unknown metric 'bleu'" in capsys.readouterr().err
    assert main(["leaderboard", "--codegen", "--metric", "ndcg@10", "-o", out]) == 1
    assert "ranked by pass@k" in capsys.readouterr().err
