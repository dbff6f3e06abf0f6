"""Speed-ups measured side by side: interleaved rounds in one process, stored with the machine's load."""
import json
import os

import pytest

from backend import catalog
from backend.__main__ import main
from backend.config import settings
from backend.retrieval import speed
from backend.retrieval.encoders import load_encoder
from tests.conftest import make_tiny_model2vec, synthetic_bench
from tests.test_search import _pairs


@pytest.mark.integration
def test_two_loads_of_the_same_model_measure_within_15_percent(tmp_path):
    texts = [p["query"] + " " + p["code"] for p in _pairs("python")] * 200  # ~0.3 s per encode: timing, not noise
    folder = make_tiny_model2vec(tmp_path / "m", texts[:100], dim=256)
    a, b = load_encoder(str(folder), settings().cache_dir), load_encoder(str(folder), settings().cache_dir)
    result = speed.measure({"a": a, "b": b}, texts, base="a", rounds=7)
    ratio = {r["run_id"]: r["speedup"] for r in result["results"]}
    assert ratio["a"] == 1.0 and 0.85 <= ratio["b"] <= 1.15, result["results"]
    assert result["cpu_count"] >= 1 and len(result["load_before"]) == 3


@pytest.mark.integration
def test_speed_command_stores_side_by_side_ratios(store, runs_dir, tmp_path, monkeypatch):
    bench = synthetic_bench(monkeypatch, tmp_path / "benchmarks", ("python",))
    texts = [p["query"] + " " + p["code"] for p in _pairs("python")]
    runs = []
    for name, dim in (("small", 8), ("large", 512)):
        folder = make_tiny_model2vec(tmp_path / name, texts, dim=dim)
        run = {"schema_version": 1, "run_id": f"speed--{name}", "kind": "eval", "model": str(folder),
               "benchmark": bench.name, "protocol": "full", "encode_throughput": 100.0 if name == "small" else 10.0,
               "metrics": [{"language": "python", "metric": "ndcg@10", "value": 0.5}]}
        (tmp_path / f"{name}.json").write_text(json.dumps(run))
        runs.append(tmp_path / f"{name}.json")
    catalog.import_paths(runs, store=store)
    assert main(["speed", "--base", "speed--large", "speed--small", "--texts", "20", "--rounds", "3"]) == 0
    measured = speed.latest(runs_dir, "speed--large")
    table = speed.as_table(measured).set_index("run_id")
    assert table.loc["speed--large", "speedup"] == 1.0 and table.loc["speed--small", "speedup"] > 0
    assert measured["rounds"] == 3 and measured["cpu_count"] >= 1
    assert (table["inference_mb"] > 0).all() and (table["process_peak_mb"] > table["inference_mb"]).all()
    assert table.loc["speed--large", "inference_mb"] >= table.loc["speed--small", "inference_mb"] * 0.5
    with pytest.raises(SystemExit):
        main(["speed", "speed--small"])  # --base is required
    from streamlit.testing.v1 import AppTest

    from backend.config import REPO_ROOT
    at = AppTest.from_file(str(REPO_ROOT / "pages/efficiency.py"), default_timeout=60).run()
    base_box = next(b for b in at.selectbox if b.label == "Speed-up and retention relative to")
    base_box.set_value("speed--large").run()
    assert not at.exception
    assert any("measured side by side" in c.value for c in at.caption)
    table = at.dataframe[0].value.set_index("run_id")
    assert table.loc["speed--small", "speedup_basis"] == "side by side"
    assert table.loc["speed--small", "speedup"] == pytest.approx(
        speed.as_table(measured).set_index("run_id").loc["speed--small", "speedup"])
    assert any(s.value == "NDCG@10 vs inference memory" for s in at.subheader)


def test_each_run_keeps_its_newest_side_by_side_ratio_across_sessions(runs_dir):
    """Timing a new run later against the same base keeps the earlier runs' ratios (each from its own session);
    a run timed twice has its newer ratio."""
    def session(t, rows):
        speed.save({"time": t, "base": rows[0][0], "texts": 10, "rounds": 3, "cpu_count": 2, "load_before": [1, 1, 1],
                    "load_after": [1, 1, 1], "results": [{"run_id": r, "speedup": v} for r, v in rows]}, runs_dir)
    session(1.0, [("t", 1.0), ("a", 100.0), ("b", 2.0)])
    session(2.0, [("t", 1.0), ("b", 3.0), ("c", 0.9)])
    session(3.0, [("x", 1.0), ("c", 5.0)])  # another base
    merged = speed.latest(runs_dir, "t")
    assert speed.as_table(merged).set_index("run_id")["speedup"].to_dict() == {"t": 1.0, "a": 100.0, "b": 3.0,
                                                                                "c": 0.9}
    assert merged["time"] == 2.0 and merged["sessions"] == 2 and "1 earlier session" in speed.describe(merged)


def test_the_speed_button_measures_the_default_runs(store, runs_dir, tmp_path, monkeypatch):
    """Efficiency page, default selections (the teacher as base), "Measure speed side by side": the process it
    starts is ``python -m backend speed --base TEACHER RUN...`` on this store, and that command, run here, times
    the runs' own model folders (issue 29: the page passed efficiency-table rows without model or config)."""
    from streamlit.testing.v1 import AppTest

    from backend.__main__ import _parser
    from backend.config import REPO_ROOT
    from backend.runs import supervision
    bench = synthetic_bench(monkeypatch, tmp_path / "benchmarks", ("python",))
    texts = [p["query"] + " " + p["code"] for p in _pairs("python")]
    paths = []
    for run_id, kind, dim, throughput in (("teacher", "teacher-eval", 256, 10.0), ("student", "m2v-distill", 8, 900.0),
                                          ("imported", "eval", None, 50.0)):
        run = {"schema_version": 1, "run_id": run_id, "kind": kind, "benchmark": bench.name, "protocol": "full",
               "encode_throughput": throughput, "config": {"model": "minilm", "seed": 0},  # the student's teacher
               "metrics": [{"language": "python", "metric": "ndcg@10", "value": 0.5}]}
        if dim:
            run["model"] = str(make_tiny_model2vec(tmp_path / run_id, texts, dim=dim))
        else:  # no model files here: not timed, not an error
            run.update(source="imported", config={"seed": 0})
        (tmp_path / f"{run_id}.json").write_text(json.dumps(run))
        paths.append(tmp_path / f"{run_id}.json")
    catalog.import_paths(paths, store=store)

    started = []
    monkeypatch.setattr(supervision, "_background", lambda args, log: started.append(args) or (os.getpid(), log))
    at = AppTest.from_file(str(REPO_ROOT / "pages/efficiency.py"), default_timeout=60).run()
    assert at.selectbox(key="eff_base").value == "teacher"
    next(b for b in at.button if b.label == "Measure speed side by side").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"process {os.getpid()}" in s.value for s in at.success)
    # while it runs, the page follows it (a live process: this one stands in for it)
    assert any(i.value.startswith(f"Measuring speed side by side (process {os.getpid()}") for i in at.info)
    [argv] = started
    assert argv[1:3] == ["-m", "backend"]
    args = _parser().parse_args(argv[3:])
    assert args.func.__name__ == "cmd_speed" and args.base == "teacher"
    assert sorted(args.runs) == ["imported", "student"]
    assert args.runs_dir == str(settings().runs_dir) and args.db == str(store.path)

    # The very command, here (cheaper options appended: few texts, no memory probe), then the page again.
    assert main([*argv[3:], "--texts", "20", "--rounds", "2", "--no-memory"]) == 0
    measured = speed.as_table(speed.latest(runs_dir, "teacher")).set_index("run_id")
    assert sorted(measured.index) == ["student", "teacher"]  # the imported run has no model to time
    at = AppTest.from_file(str(REPO_ROOT / "pages/efficiency.py"), default_timeout=60).run()
    table = at.dataframe[0].value.set_index("run_id")
    assert table.loc["student", "speedup_basis"] == "side by side"
    assert table.loc["student", "speedup"] == pytest.approx(measured.loc["student", "speedup"])
