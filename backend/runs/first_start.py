"""The first start: build the default benchmark, make the default runs and the student's search index, once per
DB, telling the terminal and the Launch page where it is and how long is left (``estimates``)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from backend import progress, rundirs
from backend.processes import try_lock
from backend.config import REPO_ROOT, Settings
from backend.progress import Reporter
from backend.runs.estimates import Rates, Stage, banner, stage_estimates
from backend.runs.lifecycle import RunFailed, build_config, make_run_id
from backend.runs.supervision import defaults_lock, launch_args
from backend.store import Store

DEFAULTS_KEY = "default_runs"
POLL_S = 2.0


def progress_path(runs_dir: Path) -> Path:
    """The first start's own progress (the benchmark build, then every stage with the ETA), for the Launch page."""
    return Path(runs_dir) / ".first-start.json"


def banner_text(runs_dir: Path) -> str:
    """The pages' first-start banner: where it is and how long is left, as the first start last reported."""
    last = progress.read(progress_path(runs_dir)).get("message")
    where = f" Now: {last}." if last else ""
    return ("First start: the default benchmark, runs and the student's search index are being made in the "
            f"background (progress on the Launch page and in the terminal).{where} The fast Model2Vec student "
            "appears here first, then its teacher.")


# The fast, telling runs first, then the slow teacher: each appears on the pages as soon as it finishes. BM25 is
# the lexical floor every embedder is compared with (2.1 s for the whole run on the default benchmark here,
# 2026-12-02, load 7: well under a minute); then the Model2Vec student (about a minute).
# Seen here: about 1 min on an idle machine (3 the first time packages are fetched), 4.5 min at load 4 to 9.
BUILD_TIME = "1 to 5 minutes on 2 cores, more while packages are fetched"
DEFAULT_RUNS = [("bm25", {}), ("m2v-distill", {"model": "minilm"}), ("teacher-eval", {"model": "minilm"})]
STUDENT = "m2v-distill"


def ensure_default_runs(store: Store, settings: Settings) -> bool:
    """First start: build the default benchmark and make the default runs; later starts return at once."""
    from backend.bench import build, dataset
    from backend.bench.sources import DEFAULT_SOURCES
    runs_dir, bench_dir, cache_dir = settings.runs_dir, settings.bench_dir, settings.cache_dir
    if store.get_meta(DEFAULTS_KEY):
        return False
    lock = try_lock(defaults_lock(runs_dir))  # a second dashboard start must not repeat the work
    if lock is None:
        print("default runs are already being made by another process", flush=True)
        return False
    report = Reporter(progress_path(runs_dir), every=30)
    try:
        bench = dataset.load(None, bench_dir)
    except dataset.BenchmarkError:
        print(f"first start: building the default 6-language benchmark ({BUILD_TIME})", flush=True)

        def building(fraction, message, **how):  # the rates behind every later estimate are measured after it
            report(fraction, f"{message} · no estimate until it is built ({BUILD_TIME})", **how)
        bench = dataset.load(str(build.build(list(DEFAULT_SOURCES), bench_dir, cache_dir, progress=building)),
                             bench_dir)
        report(1.0, f"benchmark {bench.id} built; measuring this machine's speed for the time estimate")
    from backend.runs.executors import already_done, expand_grids
    jobs = expand_grids([{"kind": kind, **options, "bench": bench.id} for kind, options in DEFAULT_RUNS], bench_dir,
                        "default runs")
    already_done(jobs, runs_dir)
    rates = measure_rates(bench, settings)
    estimates = stage_estimates(rates, eval_texts(bench), vocabulary_size(settings), index_docs(bench))
    todo = [job for job in jobs if not job.done_as]
    stages = [Stage(f"{job.kind} run", estimates[job.kind]) for job in todo] + [
        Stage("the student's search index", estimates["search index"])]
    for job in jobs:
        if job.done_as:  # e.g. a recipe made the teacher's run before the dashboard was first opened
            print(f"first start: {job.kind} on {bench.id} was made before, as {job.done_as}", flush=True)
    for job, stage in zip(todo, stages):
        print(f"first start: {job.kind} {job.options} on {bench.id}", flush=True)
        job.done_as = make_run_id(job.kind, build_config(job.kind, job.options).label())
        # One process per run: peak memory is then the run's own, and one failure does not stop the next.
        args = launch_args(job.kind, job.options, runs_dir, store.path, job.done_as)
        if _follow(args, stage, rundirs.run_dir(runs_dir, job.done_as) / "progress.json", stages, rates, report):
            raise RunFailed(f"default run {job.kind} failed; see the Runs page for its error")
    student = next((job.done_as for job in jobs if job.kind == STUDENT), None)
    if _student_index(student, bench, settings, store, stages[-1], stages, rates, report):
        print("first start: the student's search index was not built; Live search builds it when asked", flush=True)
    store.set_meta(DEFAULTS_KEY, bench.id)
    report(1.0, f"first start done in {progress.clock(time.time() - report.started)}")
    return True


def _follow(args: list[str], stage: Stage, progress_file: Path | None, stages: list[Stage], rates: Rates,
            report: Reporter) -> int:
    """Run one stage's process to its end, turning its progress into the first start's banner; its exit code."""
    stage.started = time.time()
    proc = subprocess.Popen(args, cwd=REPO_ROOT)
    while proc.poll() is None:
        last = progress.read(progress_file) if progress_file else {}
        stage.fraction, stage.detail = last.get("fraction", 0.0), last.get("message", "")
        report(*banner(stages, time.time(), rates), throttled=True)
        time.sleep(POLL_S)
    stage.finished, stage.fraction = time.time(), 1.0
    report(*banner(stages, time.time(), rates))
    return proc.returncode


def _student_index(run_id: str | None, bench, s: Settings, store: Store, stage: Stage, stages, rates, report) -> int:
    """Live search opens on the teacher against its student, on the first language: the student's index over it
    is made now (seconds), so the page answers at once. Its exit code (1: no student model)."""
    record = run_id and rundirs.read_record(rundirs.record_path(s.runs_dir, run_id))
    if not record or not record.model:
        return 1
    stage.detail = f"{bench.languages[0]} documents"
    return _follow([sys.executable, "-m", "backend", "--runs-dir", str(s.runs_dir), "--db", str(store.path),
                    "search-index", "--model", record.model, "--corpus", bench.languages[0], "--bench", bench.id,
                    "--quiet"], stage, None, stages, rates, report)


def measure_rates(bench, s: Settings, sample: int = 192) -> Rates:
    """The teacher's start-up (imports and load), and its encoding rates on benchmark code and queries (two to
    one, as an evaluation encodes them) and on single vocabulary tokens (as distillation does), measured here."""
    from backend.device import device_for
    from backend.retrieval.encoders import load_encoder
    from backend.retrieval.models import resolve
    start = time.monotonic()
    encoder = load_encoder("minilm", s.cache_dir, device_for("auto", s.device))
    startup = time.monotonic() - start
    per_language = max(1, sample // 3 // len(bench.languages))
    # Spread over each language's test set (its first functions were four times longer than its average).
    pairs = [p for lang in bench.languages for p in (lambda t: t[:: max(1, len(t) // per_language)][:per_language])(
        bench.pairs(lang, "test"))]
    texts = [t for p in pairs for t in (p["code"], p["code"], p["query"])]
    tokens = (resolve("minilm", s.cache_dir) / "vocab.txt").read_text().split()[2000:2512]
    encoder.encode(texts[:32], 32)  # warm-up, a whole batch: first-call costs are not a rate
    rates = []
    for batch, size in ((texts, 32), (tokens, 256)):  # an evaluation's batches; model2vec's 256 tokens a batch
        began = time.monotonic()
        encoder.encode(batch, size)
        rates.append(len(batch) / max(time.monotonic() - began, 1e-6))
    return Rates(startup, *rates)


def eval_texts(bench) -> int:
    """Texts an evaluation encodes: each language's test code and queries, and as much train code."""
    total = 0
    for lang in bench.languages:
        test = len(bench.pairs(lang, "test"))
        total += 2 * test + min(test, len(bench.pairs(lang, "train")))
    return total


def index_docs(bench) -> int:
    """Documents the student's index holds: the first language's (the Live search page's first corpus)."""
    return len(bench.documents(bench.languages[0]))


def vocabulary_size(s: Settings) -> int:
    from backend.retrieval.models import resolve
    return len((resolve("minilm", s.cache_dir) / "vocab.txt").read_text().split())
