"""The first start tells the truth about its time: per-stage estimates from rates measured here, corrected by
the stages done, the running stage by its own pace; the distillation reports its progress."""
import pytest

from backend.runs.estimates import Rates, Stage, banner, correction, remaining, stage_estimates

RATES = Rates(startup_s=20.0, texts_per_s=10.0, tokens_per_s=100.0)


def test_estimates_follow_the_measured_rates():
    slow = stage_estimates(RATES, eval_texts=18_000, vocabulary=30_000, index_docs=4_000)
    assert slow["teacher-eval"] == pytest.approx(20 + 1_800)  # start-up + texts / rate
    assert slow["m2v-distill"] == pytest.approx(20 + 300 + 9)  # + vocabulary / token rate + a static evaluation
    fast = stage_estimates(Rates(20.0, 40.0, 400.0), 18_000, 30_000, 4_000)
    assert fast["teacher-eval"] < slow["teacher-eval"] / 3  # four times the rate: about a quarter of the time


def test_a_running_stage_goes_by_its_own_pace_and_later_ones_by_how_far_off_the_done_ones_were():
    done = Stage("bm25 run", 10.0, started=0.0, finished=30.0)  # took 3x its estimate
    running = Stage("m2v-distill run", 100.0, started=30.0, fraction=0.25,
                    detail="python (1/6): encoding: 512/3,000 texts · 27.5 texts/s · 0:18 elapsed · ETA 1:30")
    later = Stage("teacher-eval run", 200.0)
    assert correction([done, running, later]) == 3.0
    assert remaining(running, now=90.0, factor=3.0) == pytest.approx(180.0)  # 60 s for 25 %: 180 s more
    assert remaining(later, now=90.0, factor=3.0) == 600.0
    fraction, text = banner([done, running, later], 90.0, RATES)
    assert fraction == pytest.approx(90 / (90 + 780))
    assert text.startswith("step 2/3 m2v-distill run: python (1/6): encoding: 512/3,000 texts · 27.5 texts/s · "
                           "this step about 3:00 more · all done in about 13:00")
    assert "teacher 10.0 texts/s" in text
    just_started = Stage("m2v-distill run", 100.0, started=85.0, fraction=0.01)  # too early for its own pace
    assert remaining(just_started, now=90.0, factor=3.0) == 295.0
    assert correction([Stage("x", 10.0, started=0, finished=1000)]) == 4.0  # one odd stage is bounded
    # a long stage weighs more than a short one's fixed costs: (5 + 200) / (20 + 100)
    assert correction([Stage("a", 20.0, started=0, finished=5), Stage("b", 100.0, started=5, finished=205)]) == \
        pytest.approx(205 / 120)


def _distill_with_a_bar(report):
    """What model2vec's distillation does with its bar while ``distill_progress`` follows it."""
    from model2vec.distill import inference

    from backend.retrieval.runs import distill_progress
    before = inference.tqdm
    with distill_progress(report, (0.0, 0.2)):
        bar = inference.tqdm(total=1000, desc="Encoding tokens", unit=" tokens")
        for _ in range(4):
            bar.update(250)
        bar.close()
    assert inference.tqdm is before  # the library's own again


def test_distillation_reports_its_vocabulary_progress(monkeypatch):
    """On a stand-in of model2vec's module (importing the real one costs 5 s of the fast tier: see below)."""
    import sys
    import types

    from tqdm import tqdm
    package, module = types.ModuleType("model2vec.distill"), types.ModuleType("model2vec.distill.inference")
    module.tqdm, package.inference = tqdm, module
    monkeypatch.setitem(sys.modules, "model2vec.distill", package)
    monkeypatch.setitem(sys.modules, "model2vec.distill.inference", module)
    seen = []
    _distill_with_a_bar(lambda f, m, **kw: seen.append((f, m)))
    assert seen[-1][0] == pytest.approx(0.2) and "1,000/1,000 tokens" in seen[-1][1]
    assert seen[2][0] == pytest.approx(0.1) and "distilling" in seen[2][1]


@pytest.mark.integration
def test_the_installed_model2vec_still_has_the_bar_followed():
    """The real module: its bar is still where ``distill_progress`` replaces it."""
    seen = []
    _distill_with_a_bar(lambda f, m, **kw: seen.append((f, m)))
    assert seen and "1,000/1,000 tokens" in seen[-1][1]


def test_while_the_benchmark_is_built_the_banner_says_why_it_has_no_estimate(store, runs_dir, tmp_path, monkeypatch):
    """The rates every estimate comes from are measured once the benchmark exists: until then the banner says so
    and gives the build time seen here, instead of a bare count."""
    from backend import progress
    from backend.bench import build, dataset
    from backend.config import settings
    from backend.runs import first_start

    def no_benchmark(*a, **k):
        raise dataset.BenchmarkError("none built")

    def one_report(sources, bench_dir, cache_dir, progress=None):
        progress(0.17, "benchmark: mining java (2/6): 934 files · 186.8 files/s · 0:05 elapsed")
        raise RuntimeError("stop here")
    monkeypatch.setattr(dataset, "load", no_benchmark)
    monkeypatch.setattr(build, "build", one_report)
    monkeypatch.setenv("DASHBOARD_BENCH_DIR", str(tmp_path / "benchmarks"))
    settings.cache_clear()
    with pytest.raises(RuntimeError, match="stop here"):
        first_start.ensure_default_runs(store, settings())
    message = progress.read(first_start.progress_path(runs_dir))["message"]
    assert message.startswith("benchmark: mining java (2/6)") and "no estimate until it is built (1 to 5 min" in message
