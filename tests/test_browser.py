"""End to end in headless Chromium: `python -m backend serve` on a free port, every page driven and screenshotted.

Skipped when Chromium or playwright is missing, unless REQUIRE_BROWSER=1 (CI sets it, so a missing install
step fails instead of hiding). Screenshots go to $SCREENSHOT_DIR (default: the test's temp folder).
"""
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from backend.config import REPO_ROOT
from tests.conftest import needs_sandbox, reference_runs

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _require():
    missing = [] if Path(CHROMIUM).exists() else ["chromium (apt-get install chromium)"]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -r requirements.txt)")
    if missing and os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests need {', '.join(missing)}")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, seconds: float = 60) -> bool:
    """Wait until the dashboard at ``url`` answers its health check; False if it did not within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _listen_addresses(port: int) -> set[str]:
    """Local addresses LISTENing on ``port``, read from /proc/net/tcp (hex, little-endian IPv4)."""
    out = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            out.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return out


def _search_setup(root: Path) -> dict:
    """A small benchmark and a tiny Model2Vec run, so the Live search page has something real to search."""
    from backend import catalog
    from backend.bench import build
    from backend.store import Store
    from tests.conftest import make_tiny_model2vec
    from tests.test_search import _pairs
    per_language = {"python": build.split(_pairs("python"), 20, seed=0)}
    manifest = {"format": 1, "seed": 0, "test_size": 20, "languages": {"python": {"counts": {"test": 20}}}}
    bench = build.write(manifest, per_language, root / "benchmarks")
    model = make_tiny_model2vec(root / "tiny-model", [p["query"] + " " + p["code"] for p in _pairs("python")])
    run = {"schema_version": 1, "run_id": "eval--tiny", "kind": "eval", "name": "tiny", "model": str(model),
           "benchmark": bench.name, "protocol": "full", "metrics": [{"language": "python", "metric": "mrr",
                                                                     "value": 0.5}]}
    (root / "run.json").write_text(__import__("json").dumps(run))
    catalog.import_paths([root / "run.json"], store=Store(root / "runs" / "dashboard.duckdb"), runs_dir=root / "runs")
    return {"DASHBOARD_BENCH_DIR": str(root / "benchmarks")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _require()
    root = tmp_path_factory.mktemp("browser")
    runs = root / "runs"
    port = _free_port()
    env = {**os.environ, "DASHBOARD_RUNS_DIR": str(runs), **_search_setup(root)}
    env.pop("DASHBOARD_DB", None)
    proc = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--port", str(port), "--no-default-runs"],
                            cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    if not wait_healthy(url):
        proc.kill()
        pytest.fail(f"dashboard did not start: {proc.stdout.read()}")
    yield url, port, runs
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server, tmp_path):
    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    pg = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    pg.shots = shots
    yield pg
    errors = pg.locator('[data-testid="stException"]').all_inner_texts()
    assert not errors, f"a page showed a Python exception: {errors}"
    pg.close()


def _click_first_row(page):
    """Tick the first row's selection checkbox (the grid is a canvas: click by position, once it settled)."""
    page.wait_for_timeout(700)
    grid = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
    page.mouse.click(grid["x"] + 15, grid["y"] + 52)


def _download(page, button_text) -> list[dict]:
    # The CSV is written when clicked (the server runs the callable): click once the page's script is done,
    # not while a rerun replaces the button.
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=60_000)
    with page.expect_download() as info:
        page.get_by_role("button", name=button_text).first.click()
    return list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))


# What the first start seeds (the public leaderboards' models included), and the tiny search run of the fixture.
RUNS = reference_runs() + 1


def test_a_link_opened_first_after_a_start_runs_through_the_app(page, server):
    """First in this file on purpose: the server's first request is a bookmarked page, which Streamlit would run on
    its own (no sidebar, no banner) until app.py's navigation has run once (pages/parts/navigation.through_the_app)."""
    page.goto(f"{server[0]}/efficiency")
    page.get_by_role("heading", name="Efficiency").wait_for()
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name="Launch").wait_for()
    assert "DB:" in sidebar.inner_text() and "/efficiency" in page.url
    assert not page.get_by_text("Page not found").count()


def test_sidebar_lists_the_pages_not_the_files(page, server):
    page.goto(server[0])
    page.get_by_text(f"of {RUNS} runs").wait_for()
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Launch").wait_for()  # links come late
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert all(t in sidebar for t in ("Runs", "Language deltas", "Efficiency", "Live search", "Launch"))
    assert "parts" not in sidebar and "navigation" not in sidebar


def test_server_binds_loopback_only(server):
    assert _listen_addresses(server[1]) == {"127.0.0.1"}


def test_runs_page_filter_select_download(page, server):
    page.goto(server[0])
    page.get_by_text(f"{RUNS} of {RUNS} runs").wait_for()
    page.screenshot(path=page.shots / "runs.png", full_page=True)
    assert len(_download(page, f"Download CSV ({RUNS} rows)")) == RUNS
    page.get_by_placeholder("text in id, name or model").fill("tokenlearn")
    page.keyboard.press("Enter")
    page.get_by_text(f"1 of {RUNS} runs").wait_for()
    _click_first_row(page)  # the first row's selection checkbox
    page.get_by_role("heading", name="reference--m2v-mpnet-tokenlearn-c4").wait_for()
    page.screenshot(path=page.shots / "runs-selected.png", full_page=True)


def test_deltas_page_heatmap_and_csv(page, server):
    page.goto(f"{server[0]}/deltas")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    page.wait_for_timeout(1000)  # let plotly finish drawing before the screenshot
    page.screenshot(path=page.shots / "deltas.png", full_page=True)
    rows = {(r["language"], r["metric"]): r for r in _download(page, "Download CSV (17 rows)")}
    assert float(rows[("java", "ndcg@10")]["rel_delta_pct"]) == pytest.approx(-59.9, abs=0.1)
    assert float(rows[("javascript", "ndcg@10")]["rel_delta_pct"]) == pytest.approx(3.6, abs=0.1)
    page.locator('[data-testid="stSelectbox"]').first.click()  # pick another base run
    page.keyboard.type("potion")
    page.keyboard.press("Enter")
    page.get_by_text("read the deltas with care").wait_for()  # reference runs on different benchmarks
    page.screenshot(path=page.shots / "deltas-other-base.png", full_page=True)


def test_deltas_report_opens_offline_with_its_figures(page, browser, server, tmp_path):
    """The page's HTML report, opened with networking off: plotly is inside the file, every figure draws."""
    page.goto(f"{server[0]}/deltas")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    page.get_by_role("button", name="Report").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="HTML").click()
    report = tmp_path / "deltas.html"
    info.value.save_as(report)
    offline = browser.new_context(offline=True)
    fetched = []
    offline.route("**/*", lambda route: (fetched.append(route.request.url), route.continue_()))
    view = offline.new_page()
    errors = []
    view.on("pageerror", lambda e: errors.append(str(e)))
    view.goto(report.as_uri())
    view.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
    view.screenshot(path=page.shots / "report-offline.png", full_page=True)
    assert view.locator(".js-plotly-plot").count() == 1 and view.locator("table").count() == 1
    assert not errors and fetched == [report.as_uri()]  # nothing but the file itself was requested
    offline.close()


def test_a_link_opens_the_page_as_its_sender_saw_it(page, server):
    page.goto(f"{server[0]}/deltas?base=reference--m2v-mpnet-tokenlearn-c4&candidate=reference--m2v-mpnet-distill")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    assert page.get_by_role("combobox", name="Base run").input_value().endswith("reference--m2v-mpnet-tokenlearn-c4")
    page.get_by_role("button", name="Link to this view").click()
    link = page.locator('[data-testid="stCode"]').inner_text()
    assert link.startswith(f"{server[0]}/deltas?base=reference--m2v-mpnet-tokenlearn-c4&candidate=")


def test_efficiency_page(page, server):
    page.goto(f"{server[0]}/efficiency")
    page.locator('[data-testid="stPlotlyChart"]').nth(1).wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=page.shots / "efficiency.png", full_page=True)
    assert len(_download(page, "Download CSV (2 rows)")) == 2  # the research-notes runs' evaluation


def test_live_search_benchmark_query_shows_gold_in_both_columns(page, server):
    page.goto(f"{server[0]}/search")
    page.get_by_role("button", name="Try a benchmark query").click()
    page.get_by_text("Gold document rank").nth(1).wait_for(timeout=120_000)
    page.get_by_text("Overlap, by document").wait_for()  # the last element: the run is complete
    page.screenshot(path=page.shots / "search.png", full_page=True)
    assert page.get_by_text(":material/star:").count() == 0  # icons render, not their names


def test_launch_page(page, server):
    """The Launch page offers every launchable kind, and its form opens on the first one's options."""
    from backend.kinds import KINDS
    launchable = [k for k in KINDS.values() if k.runner]
    page.goto(f"{server[0]}/launch")
    page.get_by_text("Running (").wait_for()
    page.screenshot(path=page.shots / "launch.png", full_page=True)
    page.locator('[data-testid="stSelectbox"]').first.click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    assert [o.split(" — ")[0] for o in options] == [k.name for k in launchable]
    assert page.get_by_role("button", name="Launch", exact=True).count() == 1


def test_delete_from_runs_page(page, server):
    page.goto(server[0])
    page.get_by_text(f"{RUNS} of {RUNS} runs").wait_for()
    page.get_by_placeholder("text in id, name or model").fill("tokenlearn")
    page.keyboard.press("Enter")
    page.get_by_text(f"1 of {RUNS} runs").wait_for()
    _click_first_row(page)
    page.get_by_role("heading", name="reference--m2v-mpnet-tokenlearn-c4").wait_for()  # the selection rerun is done
    page.get_by_text("Delete 1 selected run(s)").click()
    delete = page.get_by_role("button", name="Delete", exact=True)
    delete.wait_for()
    delete.click()
    try:
        page.get_by_text(f"0 of {RUNS - 1} runs").wait_for(timeout=60_000)
    except Exception:
        page.screenshot(path=page.shots / "delete-failed.png", full_page=True)
        raise AssertionError(f"the delete did not show '0 of {RUNS - 1} runs'; the page said: "
                             f"{page.inner_text('body')}")


@needs_sandbox
def test_codegen_page(page, server):
    """Two codegen runs imported as human-eval samples (executed in the sandbox on import), then the page."""
    from backend.codegen.problems import humaneval_rows
    rows = {r["task_id"]: r for r in humaneval_rows()}
    root = server[2].parent
    for name, good in (("base", ["HumanEval/0"]), ("tuned", ["HumanEval/0", "HumanEval/2", "HumanEval/4"])):
        lines = [{"task_id": t, "completion": rows[t]["canonical_solution"] if t in good else "    pass\n"}
                 for t in ("HumanEval/0", "HumanEval/2", "HumanEval/4", "HumanEval/7")]
        (root / f"{name}.jsonl").write_text("".join(__import__("json").dumps(x) + "\n" for x in lines))
    env = {**os.environ, "DASHBOARD_RUNS_DIR": str(server[2])}
    subprocess.run([sys.executable, "-m", "backend", "import", str(root / "base.jsonl"), str(root / "tuned.jsonl")],
                   cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    page.goto(f"{server[0]}/codegen")
    page.get_by_text("2 problem(s) pass more often in B, 0 less often").wait_for()
    page.get_by_text("public models").click()  # the EvalPlus leaderboard's 118 models off: the runs of this test
    page.get_by_text("Download CSV (10 rows)").wait_for()
    # pass@1 was the default while the public models (greedy pass@1, with params) were on; the published study
    # has params and pass@100 only
    page.get_by_text("pass@100", exact=True).click()
    page.get_by_role("heading", name="pass@100 vs params").wait_for()
    page.wait_for_timeout(1500)  # the rerun's stale elements (the pass@1 render) leave the page
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)
    # Samples files carry no params or memory: the charts name them instead of drawing them; the published
    # codegen-350M study (reference runs, params but no memory) fills the params chart only.
    assert "base (human-eval samples)" in page.get_by_text("Not drawn (no params recorded)").inner_text()
    assert page.get_by_text("Not drawn (no peak memory MB recorded)").count() == 1
    page.locator(".js-plotly-plot .main-svg").first.wait_for()  # charts draw after the text around them
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 1
    page.wait_for_timeout(1000)  # let plotly finish drawing before the screenshot
    page.screenshot(path=page.shots / "codegen.png", full_page=True)
    table = _download(page, "Download CSV (10 rows)")  # 2 imported x 1 language + 4 published x 2 languages
    assert sorted(float(r["pass@1"]) for r in table if r["pass@1"]) == [0.25, 0.75]
