"""Page load time with many runs, as a ratio against the same page with 6 runs, measured side by side.

Two dashboards run at once, one over a store of 6 runs and one over N synthetic retrieval runs (one benchmark
and protocol, 6 languages x 2 metrics, sizes and throughputs); headless Chromium opens each page on both,
alternating, ``--rounds`` times after a warm-up, and the script prints the medians and their ratio, for the
first load after a write to the store (cold: the page's cached reads are stale) and the load after it (warm).
Goals: warm, N = 10,000 within 1.5x and N = 100,000 within 3x on every page (issue #16); cold, N = 100,000
within 2x (issue #30).

Usage: python benchmarks/pages_bench.py [--runs 10000] [--rounds 3] [--pages leaderboard ...]
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAGES = ["runs", "deltas", "efficiency", "leaderboard", "codegen"]
LANGUAGES = ["python", "java", "javascript", "go", "php", "ruby"]


def make_store(root: Path, n: int, chunk: int = 5000) -> Path:
    from backend.records import record_from_dict
    from backend.store import Store
    rng = random.Random(n)
    store = Store(root / "runs" / "dashboard.duckdb")
    for start in range(0, n, chunk):
        records = []
        for i in range(start, min(n, start + chunk)):
            kind = "teacher-eval" if i == 0 else rng.choice(["m2v-distill", "kd-student", "peft-contrastive"])
            records.append(record_from_dict({
                "schema_version": 1, "run_id": f"run-{i:07d}", "kind": kind, "name": f"{kind} #{i}",
                "benchmark": "bench", "protocol": "full", "params": rng.randint(1, 30) * 10**6,
                "disk_mb": rng.uniform(5, 100), "encode_throughput": rng.uniform(20, 5000),
                "created_at": f"2026-{1 + i % 12:02d}-01T00:00:00Z",
                "metrics": [{"language": lang, "metric": m, "value": rng.uniform(0.2, 0.9)}
                            for lang in LANGUAGES for m in ("ndcg@10", "mrr")]}))
        store.ingest(records)
    return root / "runs"


def serve(runs_dir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DASHBOARD_RUNS_DIR": str(runs_dir)}
    env.pop("DASHBOARD_DB", None)
    proc = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--no-default-runs", "--port", str(port)],
                            cwd=Path(__file__).resolve().parent.parent, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.2)
    return proc, url


def load_seconds(page, url: str) -> float:
    """From navigation to the page's script finished (Streamlit's own script state on the app's root) and its
    charts drawn."""
    done = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    start = time.perf_counter()
    page.goto(url)
    page.locator(done).wait_for(timeout=600_000)
    page.locator("h1").first.wait_for(timeout=600_000)
    charts = page.locator('[data-testid="stPlotlyChart"]').count()  # ... and every chart drawn
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
                           timeout=600_000)
    took = time.perf_counter() - start
    errors = page.locator('[data-testid="stException"]').all_inner_texts()
    if errors:  # a page that crashed early is fast: never a number
        raise SystemExit(f"{url} showed an exception: {errors[0][:500]}")
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the big store (default 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed loads per page and store (default 3)")
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=PAGES, help="pages to time (default: all)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from backend.store import Store
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        small, big = make_store(Path(tmp) / "small", 6), make_store(Path(tmp) / "big", args.runs)
        print(f"stores made in {time.perf_counter() - t0:.0f} s (6 and {args.runs:,} runs)")
        servers = [serve(small), serve(big)]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                print(f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
                print(f"{'page':12} {'':5} {'6 runs':>9} {f'{args.runs:,} runs':>12} {'ratio':>7}")
                stores = [Store(root / "dashboard.duckdb") for root in (small, big)]
                for name in args.pages:
                    times = {(kind, which): [] for kind in ("cold", "warm") for which in (0, 1)}
                    for which in (0, 1):  # warm-up: first import of the page's modules, first DB read
                        load_seconds(page, f"{servers[which][1]}/{name}")
                    for r in range(args.rounds):
                        for which in (0, 1):  # alternating: both see the same machine load
                            # A write (any) changes the store's version: the page's cached reads are stale,
                            # and the next load is the first after a write (cold); the one after it is warm.
                            stores[which].set_meta("pages_bench_write", f"{name}-{r}")
                            times[("cold", which)].append(load_seconds(page, f"{servers[which][1]}/{name}"))
                            times[("warm", which)].append(load_seconds(page, f"{servers[which][1]}/{name}"))
                    for kind in ("cold", "warm"):
                        a, b = statistics.median(times[(kind, 0)]), statistics.median(times[(kind, 1)])
                        print(f"{name:12} {kind:5} {a:8.2f}s {b:11.2f}s {b / a:6.2f}x", flush=True)
                print(f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
                browser.close()
        finally:
            for proc, _ in servers:
                os.killpg(proc.pid, 15)
                proc.wait()


if __name__ == "__main__":
    main()
