import math

import numpy as np
import pandas as pd
import pytest

from backend import compare, figures, pareto
from backend.frames import by_language


def long(rows):
    return pd.DataFrame(rows, columns=["run_id", "language", "metric", "value"]).assign(n=None)


def runs(*rows):
    cols = ["run_id", "name", "kind", "source", "benchmark", "protocol", "params", "disk_mb", "model", "status",
            "encode_throughput", "created_at", "trainable_params"]
    return pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols)


def test_deltas_are_direction_aware():
    m = long([("a", "java", "ndcg@10", 0.7027), ("b", "java", "ndcg@10", 0.2820),
              ("a", "java", "mean_rank", 7.24), ("b", "java", "mean_rank", 5.0)])
    d = compare.deltas(m, "a", "b").set_index(["language", "metric"])
    assert d.loc[("java", "ndcg@10"), "rel_delta_pct"] == pytest.approx(-59.87, abs=0.01)
    assert d.loc[("java", "ndcg@10"), "verdict"] == "worse"
    assert d.loc[("java", "mean_rank"), "delta"] == pytest.approx(-2.24)
    assert d.loc[("java", "mean_rank"), "improvement_pct"] > 0
    assert d.loc[("java", "mean_rank"), "verdict"] == "better"


def test_deltas_with_missing_languages_and_zero_base():
    m = long([("a", "python", "ndcg@10", 0.0), ("b", "python", "ndcg@10", 0.1),
              ("a", "go", "mrr", 0.5), ("b", "ruby", "mrr", 0.4)])
    d = compare.deltas(m, "a", "b").set_index(["language", "metric"])
    assert math.isnan(d.loc[("python", "ndcg@10"), "rel_delta_pct"])  # no division by zero
    assert d.loc[("python", "ndcg@10"), "verdict"] == "better"
    assert d.loc[("go", "mrr"), "verdict"] == "only in base"
    assert d.loc[("ruby", "mrr"), "verdict"] == "only in candidate"
    assert list(d.index.get_level_values(0)) == ["python", "go", "ruby"]  # fixed language order


def test_multi_deltas_stacks_candidates():
    m = long([("a", "go", "mrr", 0.5), ("b", "go", "mrr", 0.4), ("c", "go", "mrr", 0.6)])
    d = compare.multi_deltas(m, "a", ["b", "c"])
    assert d["candidate_id"].tolist() == ["b", "c"]
    assert d["verdict"].tolist() == ["worse", "better"]


@pytest.mark.parametrize("score, cost, front", [
    ([0.9, 0.8, 0.7], [10, 5, 1], [True, True, True]),  # a staircase: all optimal
    ([0.9, 0.8, 0.95], [10, 20, 10], [False, False, True]),  # same cost, higher score dominates
    ([0.9, 0.9], [5, 5], [True, True]),  # identical points tie on the front
    ([0.9, 0.9], [5, 6], [True, False]),  # same score, higher cost is dominated
    ([0.9, np.nan, 0.5], [5, 1, np.nan], [True, False, False]),  # missing values never on the front
    ([0.5, 0.6], [0, 1], [True, True]),  # zero cost is a valid cost for the front
])
def test_pareto_front(score, cost, front):
    assert pareto.pareto_front(pd.Series(score, dtype=float), pd.Series(cost, dtype=float)).tolist() == front


def test_pareto_front_matches_brute_force_on_random_points():
    rng = np.random.default_rng(0)
    score, cost = pd.Series(rng.integers(0, 8, 300) / 8), pd.Series(rng.integers(0, 8, 300).astype(float))
    brute = [not any((score[j] >= score[i]) and (cost[j] <= cost[i]) and (score[j] > score[i] or cost[j] < cost[i])
                     for j in range(len(score))) for i in range(len(score))]
    assert pareto.pareto_front(score, cost).tolist() == brute


def test_efficiency_guards_zero_size_and_prefers_published_overall():
    r = runs(("a", "A", "m2v-distill", "local", "b", "p", 7_560_000, 15.0),
             ("b", "B", "m2v-distill", "local", "b", "p", 0, 0.0))
    m = long([("a", "overall", "ndcg@10", 0.74), ("a", "python", "ndcg@10", 0.5),
              ("b", "python", "ndcg@10", 0.6), ("b", "go", "ndcg@10", 0.4)])
    e = compare.efficiency(r, by_language(m, "ndcg@10")).set_index("run_id")
    assert e.loc["a", "score"] == pytest.approx(0.74) and e.loc["a", "basis"] == "published overall"
    assert e.loc["b", "score"] == pytest.approx(0.5) and e.loc["b", "basis"] == "mean of 2 languages"
    assert e.loc["a", "score_per_mb"] == pytest.approx(0.74 / 15)
    assert math.isnan(e.loc["b", "score_per_mb"]) and math.isnan(e.loc["b", "score_per_mparams"])


def test_efficiency_trainable_share_and_retention():
    r = runs(("t", "teacher", "teacher-eval", "local", "b", "full", 22_700_000, 90.0, "m", "finished", 30.0, None, None),
             ("l", "lora", "peft-contrastive", "local", "b", "full", 23_000_000, 1.4, "m", "finished", 30.0, None,
              230_000))
    m = long([("t", "python", "ndcg@10", 0.70), ("l", "python", "ndcg@10", 0.77)])
    e = compare.efficiency(r, by_language(m, "ndcg@10"))
    e["retention"] = compare.relative(e, "t", "score")
    e = e.set_index("run_id")
    assert e.loc["l", "trainable_pct"] == pytest.approx(1.0) and math.isnan(e.loc["t", "trainable_pct"])
    assert e.loc["l", "retention"] == pytest.approx(1.1) and e.loc["t", "retention"] == 1.0


def test_check_comparable():
    a = {"run_id": "a", "benchmark": "b1", "protocol": "full", "source": "local"}
    assert compare.check_comparable(a, {**a, "run_id": "b"}) is None
    with pytest.raises(compare.ComparisonError, match="evaluated differently"):
        compare.check_comparable(a, {**a, "run_id": "b", "protocol": "csn-1000"})
    with pytest.raises(compare.ComparisonError, match="same run"):
        compare.check_comparable(a, a)
    ref = {**a, "source": "reference"}
    assert "care" in compare.check_comparable(ref, {**ref, "run_id": "b", "benchmark": "mteb"})



def test_comparable_candidates_leave_out_the_other_protocol_and_the_base():
    r = runs(("t", "T", "teacher-eval", "local", "b1", "full"), ("t2", "T", "teacher-eval", "local", "b1", "csn-1000"),
             ("s", "S", "m2v-distill", "local", "b1", "full"), ("x", "X", "m2v-distill", "local", "b2", "full"),
             ("r1", "R1", "m2v-distill", "reference", "p", "q"), ("r2", "R2", "m2v-distill", "reference", "m", "q"))
    assert compare.comparable_candidates(r, "t") == ["s"]
    assert compare.comparable_candidates(r, "r1") == ["r2"]  # reference runs: offered, with a caution


def test_filter_runs_is_literal_text_not_an_expression():
    r = runs(("a", "x.*", "teacher-eval", "local", None, None, None, None), ("b", "plain", "kd-student", "reference"))
    assert compare.filter_runs(r, "x.*")["run_id"].tolist() == ["a"]
    assert compare.filter_runs(r, "__import__('os')").empty
    assert compare.filter_runs(r, "", sources=["reference"])["run_id"].tolist() == ["b"]


def test_default_pair_prefers_teacher_vs_student_evaluated_the_same_way():
    r = runs(("x", "X", "teacher-eval", "local", "b2", "mteb"), ("t", "T", "teacher-eval", "local", "b1", "full"),
             ("d", "D", "m2v-distill", "local", "b1", "full"), ("c", "C", "m2v-distill", "local", "b1", "csn-1000"))
    assert compare.default_pair(r) == ("t", "d")
    ref = runs(("p", "P", "external-retrieval", "reference", "m", "mteb"),
               ("k", "K", "m2v-tokenlearn", "reference", "n", "published"),
               ("d", "D", "m2v-distill", "reference", "n", "published"))
    assert compare.default_pair(ref) == ("d", "k")


def test_speedup_and_evaluation_groups():
    eff = pd.DataFrame({"run_id": ["t", "s", "u"], "encode_throughput": [40.0, 4000.0, None]})
    speedup = compare.relative(eff, "t", "encode_throughput")
    assert speedup.tolist()[:2] == [1.0, 100.0] and math.isnan(speedup[2])
    assert compare.relative(eff, "u", "encode_throughput").isna().all()
    r = runs(("a", "A", "teacher-eval", "local", "b1", "full"), ("b", "B", "m2v-distill", "local", "b1", "full"),
             ("c", "C", "m2v-distill", "local", "b1", "csn-1000"))
    assert compare.evaluation_groups(r) == [("b1", "full"), ("b1", "csn-1000")]


def test_figures_build_and_failures_become_text():
    m = long([("a", "java", "ndcg@10", 0.7), ("b", "java", "ndcg@10", 0.3)])
    fig, problem = figures.safe(figures.deltas_heatmap, compare.deltas(m, "a", "b"))  # no test: grey, not red
    grey, coloured = fig.data
    assert problem is None and coloured.z.shape == (1, 1) and math.isnan(coloured.z[0][0]) and grey.z[0][0] == 0
    tested = compare.deltas(m, "a", "b").assign(p_adjusted=0.01, verdict="worse")
    fig, problem = figures.safe(figures.deltas_heatmap, tested)
    assert problem is None and fig.data[1].z[0][0] < 0 and math.isnan(fig.data[0].z[0][0])
    fig, problem = figures.safe(figures.deltas_heatmap, pd.DataFrame({"x": [1]}))
    assert fig is None and "Could not draw" in problem
    r = runs(("a", "A", "m2v-distill", "local", "b", "p", 1e6, 2.0), ("b", "B", "teacher-eval", "local", "b", "p", 2e7, 90))
    eff = compare.efficiency(r, by_language(long([("a", "go", "ndcg@10", 0.4), ("b", "go", "ndcg@10", 0.6)])))
    fig = figures.efficiency_scatter(eff)
    assert [t.name for t in fig.data] == ["local", "Pareto front"] and len(fig.data[1].x) == 2
    assert not fig.layout.shapes and fig.layout.xaxis.type == "linear"
    eff["trainable_pct"] = [0.5, None]  # a PEFT run against its untrained teacher, drawn as a line
    fig = figures.efficiency_scatter(eff, "trainable_pct", "trainable %", reference=("B", 0.6))
    assert fig.layout.xaxis.type == "log" and [s.y0 for s in fig.layout.shapes] == [0.6]
    assert list(fig.data[0].x) == [0.5] and "B: 0.600" in fig.layout.annotations[0].text


def test_retention_scatter_places_each_run_against_the_base():
    eff = pd.DataFrame({"run_id": ["t", "s", "k"], "name": ["teacher", "m2v", "kd"], "score": [0.6, 0.3, 0.45],
                        "kind": ["teacher-eval", "m2v-distill", "kd-student"],
                        "encode_throughput": [30.0, 3000.0, 60.0], "disk_mb": [90.0, 15.0, None]})
    eff["speedup"] = compare.relative(eff, "t", "encode_throughput")
    eff["retention"] = compare.relative(eff, "t", "score")
    fig = figures.retention_scatter(eff, "teacher")
    assert [t.name for t in fig.data] == ["teacher-eval", "m2v-distill", "kd-student"]  # one colour per kind
    points = {t.text[0]: (round(t.x[0], 6), round(t.y[0], 6), t.marker.size[0]) for t in fig.data}
    assert {name: p[:2] for name, p in points.items()} == {"teacher": (1.0, 1.0), "m2v": (100.0, 0.5), "kd": (2.0, 0.75)}
    assert points["teacher"][2] > points["m2v"][2] > points["kd"][2]  # 90 MB > 15 MB > unknown
    assert fig.layout.xaxis.type == "log"


def test_seed_groups_summarise_runs_that_differ_only_by_seed():
    import json

    import pandas as pd
    runs = pd.DataFrame([{"run_id": f"r{s}", "name": "LoRA", "kind": "peft-contrastive", "benchmark": "b", "protocol": "full",
                          "config": json.dumps({"method": "lora", "seed": s})} for s in range(3)]
                        + [{"run_id": "other", "name": "IA3", "kind": "peft-contrastive", "benchmark": "b",
                            "protocol": "full", "config": json.dumps({"method": "ia3", "seed": 0})}])
    metrics = pd.DataFrame([{"run_id": f"r{s}", "language": lang, "metric": "ndcg@10", "value": v}
                            for s, (a, b) in enumerate([(0.70, 0.80), (0.72, 0.80), (0.71, 0.79)])
                            for lang, v in (("python", a), ("java", b))])
    table = compare.seed_groups(runs, metrics).set_index("language")
    assert set(table["seeds"]) == {3} and "×3 seeds (0, 1, 2)" in table["group"].iloc[0]
    assert table.loc["python", "mean"] == pytest.approx(0.71) and table.loc["python", "sd"] == pytest.approx(0.01)
    assert table.loc["mean", "ci_low"] < 0.7533 < table.loc["mean", "ci_high"]


def test_comparable_candidates_equal_the_one_by_one_check_on_random_runs():
    import json
    import random
    rng = random.Random(3)
    rows = []
    for i in range(300):
        codegen = rng.random() < 0.3
        rows.append({"run_id": f"r{i}", "name": f"r{i}", "kind": "codegen-eval" if codegen else "m2v-distill",
                     "source": rng.choice(["local", "reference"]), "benchmark": rng.choice(["a", "b", None, ""]),
                     "protocol": rng.choice(["full", "csn-1000", None]),
                     "config": json.dumps({"problem_sets": {"python": rng.choice(["p1", "p2"])}}) if codegen else None})
    runs = pd.DataFrame(rows)
    for base in ("r0", "r1", "r2", "r3", "r7", "r11"):
        expected = []
        for row in rows:
            try:
                compare.check_comparable(runs.set_index("run_id", drop=False).loc[base].to_dict(), row)
            except compare.ComparisonError:
                continue
            expected.append(row["run_id"])
        assert compare.comparable_candidates(runs, base) == expected


@pytest.mark.parametrize("values, labels", [
    ([1.0, 12.0, 355.0], ["1", "10", "100"]),  # speed-ups: powers of ten, never "5 1 2 5 10 2 5 100 2"
    ([0.012, 0.4, 100.0], ["0.1", "1", "10", "100"]),  # trainable shares
    ([4.0, 30.0], ["5", "10", "20"]),  # less than two powers of ten in range: 1-2-5 steps
    ([135.0, 630.0, 7000.0, 34000.0], ["1000", "10k"]),  # params in millions
])
def test_log_axes_are_labelled_at_readable_ticks(values, labels):
    from backend import figures
    ticks = figures.log_ticks(values)
    assert ticks["ticktext"] == labels
    eff = pd.DataFrame({"run_id": [f"r{i}" for i in range(len(values))], "name": list("abcd")[:len(values)],
                        "kind": "m2v-distill", "speedup": values, "retention": 0.9, "disk_mb": 10.0})
    fig = figures.retention_scatter(eff, "teacher")
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.ticktext) == ticks["ticktext"]


def test_the_efficiency_and_codegen_grids_lead_with_what_a_user_came_for():
    from backend import views
    eff = pd.DataFrame(columns=["run_id", "name", "kind", "source", "score", "score_ci_low", "score_ci_high",
                                "basis", "disk_mb", "params_m", "score_per_mb", "score_per_mparams",
                                "encode_throughput", "speedup", "retention"])
    assert views.efficiency_columns(eff)[:5] == ["name", "score", "speedup", "score_per_mb", "score_per_mparams"]
    assert sorted(views.efficiency_columns(eff)) == sorted(eff.columns)  # none lost
    codegen = pd.DataFrame(columns=["name", "language", "problem_set", "method", "pass@1", "pass@5", "pass@100",
                                    "problems", "params_m", "run_id"])
    assert views.codegen_columns(codegen)[:5] == ["name", "language", "pass@1", "pass@5", "pass@100"]
