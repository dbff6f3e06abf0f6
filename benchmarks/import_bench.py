"""Import speed and Runs page render time at 10,000 runs x 6 languages x 6 metrics.

Peer: row-by-row INSERT statements of the same rows into the same schema, measured in the same run.
Usage: python benchmarks/import_bench.py [--runs 10000] [--peer-runs N]
(--peer-runs times the peer on the first N runs and scales linearly, for a quicker look; default: all).

Scale: python benchmarks/import_bench.py --scale 100000,1000000 [--rounds 3] per size writes a wide CSV, then
``--rounds`` times in turn (A B A B: the same machine load for both) loads it with DuckDB's own read_csv (the
peer), imports it with the CLI into a fresh runs folder and rebuilds that store (each a fresh process: wall time,
peak memory, write lock), and prints the medians: import / DuckDB (goal <= 10x), rebuild / import (goal <= 10x),
peak memory (goal < 1 GiB), the longest write lock (goal < 2 s), with the load before and after.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

METRICS = ["ndcg@10", "mrr", "recall@1", "recall@5", "recall@10", "mean_rank"]
LANGS = ["python", "java", "javascript", "go", "php", "ruby"]


def write_csv(path: Path, n_runs: int):
    rng = random.Random(0)
    with open(path, "w") as f:
        f.write("run_id,kind,benchmark,protocol,params,disk_mb,language," + ",".join(METRICS) + "\n")
        for i in range(n_runs):
            params, disk_mb = rng.randint(10**6, 10**8), rng.random() * 100
            for lang in LANGS:
                vals = [f"{rng.random():.4f}" for _ in METRICS[:-1]] + [f"{1 + rng.random() * 50:.2f}"]
                f.write(f"bench-{i:05d},m2v-distill,b,full,{params},{disk_mb:.2f},{lang}," + ",".join(vals) + "\n")


def time_it(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def row_by_row(records, db_path: Path, limit: int | None) -> tuple[float, int]:
    """The peer: the same schema, one INSERT statement per row, one transaction."""
    from backend.store import Store, frames
    store = Store(db_path)
    store.migrate()
    runs, metrics, *_ = frames(records[:limit] if limit else records)
    with store.transaction() as con:
        start = time.perf_counter()
        for table, df in (("runs", runs), ("metrics", metrics)):
            cols = ", ".join(df.columns)
            sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(df.columns))})"
            for row in df.astype(object).where(df.notna(), None).itertuples(index=False):
                con.execute(sql, list(row))
        elapsed = time.perf_counter() - start
    return elapsed, len(runs) + len(metrics)


def render_runs_page(runs_dir: Path, repeats: int = 3) -> list[float]:
    from streamlit.testing.v1 import AppTest
    os.environ["DASHBOARD_RUNS_DIR"] = str(runs_dir)
    from backend.config import settings
    settings.cache_clear()
    page = str(Path(__file__).resolve().parent.parent / "pages" / "runs.py")
    times = []
    for _ in range(repeats):
        at = AppTest.from_file(page, default_timeout=60)
        times.append(time_it(at.run))
        assert not at.exception, at.exception
    return times


def browser_render(runs_dir: Path, n_runs: int) -> float | None:
    """Seconds from navigation to the Runs page showing its table in headless Chromium (None: no browser)."""
    import shutil
    import socket
    import subprocess
    import urllib.request
    if not shutil.which("chromium"):
        return None
    from playwright.sync_api import sync_playwright
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "backend", "--runs-dir", str(runs_dir), "serve", "--no-default-runs", "--port",
                             str(port)], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{port}/")  # warm-up: first load compiles the page's modules
            page.get_by_text(re.compile(r"of [0-9,]+ runs")).wait_for(timeout=60_000)
            start = time.perf_counter()
            page.reload()
            page.get_by_text(re.compile(r"of [0-9,]+ runs")).wait_for(timeout=60_000)
            page.locator('[data-testid="stDataFrame"]').wait_for()
            elapsed = time.perf_counter() - start
            b.close()
        return elapsed
    finally:
        proc.terminate()
        proc.wait()


def timed_process(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, stdout) of one process."""
    import subprocess
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{out}")
    return elapsed, usage.ru_maxrss / 1024, out


DUCKDB_LOAD = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('CREATE TABLE t AS SELECT * FROM read_csv(?)', [sys.argv[2]])"


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def scale_bench(sizes: list[int], rounds: int):
    """Per size, ``rounds`` times in turn: the peer (DuckDB read_csv of the file into a table), our import of it
    into a fresh runs folder, and our rebuild of that store from runs/ (each a fresh process); medians."""
    tmp = Path(tempfile.mkdtemp(prefix="import-scale-"))
    print(f"start: {load()}", flush=True)
    for n in sizes:
        csv_path = tmp / f"runs-{n}.csv"
        write_csv(csv_path, n)
        peer, ours, rebuilt, peaks, rebuild_peaks, locks = [], [], [], [], [], []
        for r in range(rounds):  # A B A B: the peer and ours see the same load
            peer.append(timed_process([sys.executable, "-c", DUCKDB_LOAD, str(tmp / f"peer-{n}-{r}.duckdb"),
                                       str(csv_path)])[0])
            runs_dir = tmp / f"runs-{n}-{r}"
            seconds, peak, out = timed_process([sys.executable, "-m", "backend", "--runs-dir", str(runs_dir),
                                                "import", str(csv_path)])
            ours.append(seconds)
            peaks.append(peak)
            locks.append(float(re.search(r"write lock held ([0-9.]+) s", out).group(1)))
            seconds, peak, _ = timed_process([sys.executable, "-m", "backend", "--runs-dir", str(runs_dir), "rebuild"])
            rebuilt.append(seconds)
            rebuild_peaks.append(peak)
            print(f"  round {r + 1}: DuckDB {peer[-1]:.2f} s, import {ours[-1]:.2f} s, rebuild {rebuilt[-1]:.2f} s "
                  f"({load()})", flush=True)
        p, o, b = statistics.median(peer), statistics.median(ours), statistics.median(rebuilt)
        print(f"{n:>9,} runs ({csv_path.stat().st_size / 2**20:.0f} MB CSV), medians of {rounds}: import {o:.2f} s | "
              f"DuckDB read_csv {p:.2f} s | import / DuckDB {o / p:.1f}x (goal <= 10x) | rebuild {b:.2f} s, "
              f"rebuild / import {b / o:.1f}x (goal <= 10x) | peak {max(peaks):.0f} MiB, rebuild's "
              f"{max(rebuild_peaks):.0f} MiB (goal < 1024) | "
              f"longest write lock {max(locks):.2f} s (goal < 2 s)", flush=True)
        for path in tmp.glob(f"*-{n}*"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    print(f"end: {load()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--peer-runs", type=int, default=None)
    ap.add_argument("--scale", default=None, help="comma-separated run counts, e.g. 10000,100000")
    ap.add_argument("--rounds", type=int, default=3, help="--scale: alternating rounds per size (default 3)")
    args = ap.parse_args()
    if args.scale:
        return scale_bench([int(n) for n in args.scale.split(",")], args.rounds)
    from backend import catalog
    from backend.importers import load_path
    from backend.store import Store
    tmp = Path(tempfile.mkdtemp(prefix="import-bench-"))
    csv_path = tmp / "runs.csv"
    write_csv(csv_path, args.runs)
    rows = args.runs * len(LANGS) * len(METRICS)
    print(f"data: {args.runs:,} runs x {len(LANGS)} languages x {len(METRICS)} metrics = {rows:,} metric rows")

    records = load_path(csv_path)
    t_parse = time_it(lambda: load_path(csv_path))
    ingest_store = Store(tmp / "ingest.duckdb")
    ingest_store.migrate()
    t_ingest = time_it(lambda: ingest_store.ingest(records))
    runs_dir = tmp / "runs"
    t_import = time_it(lambda: catalog.import_paths([csv_path], store=Store(runs_dir / "dashboard.duckdb"),
                                                    runs_dir=runs_dir))
    t_peer, peer_rows = row_by_row(records, tmp / "peer.duckdb", args.peer_runs)
    scale = (args.runs + rows) / peer_rows
    t_peer_all = t_peer * scale
    print(f"parse + validate CSV            {t_parse:8.2f} s")
    print(f"store.ingest (bulk, DataFrames) {t_ingest:8.2f} s")
    print(f"full import (parse, write {args.runs:,} run.json, ingest) {t_import:8.2f} s")
    note = "" if scale == 1 else f" (measured {peer_rows:,} rows in {t_peer:.2f} s, scaled x{scale:.1f})"
    print(f"peer: row-by-row INSERTs        {t_peer_all:8.2f} s{note}")
    print(f"ratio bulk ingest vs row-by-row:  {t_peer_all / t_ingest:6.1f}x faster")
    print(f"ratio full import vs row-by-row:  {t_peer_all / t_import:6.1f}x faster (goal >= 20x)")
    times = render_runs_page(runs_dir)
    print(f"Runs page render with {args.runs:,} runs (AppTest, {len(times)} runs): "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s (goal < 1.5 s)")
    seconds = browser_render(runs_dir, args.runs)
    if seconds is not None:
        print(f"Runs page in headless Chromium, reload until the table shows: {seconds:.2f} s (goal < 1.5 s)")


if __name__ == "__main__":
    main()
