"""Every button a new user presses in the first hour, on the default runs (the first start's teacher and
student), in a browser: measure speed side by side, search, launch, report. Used by the first-hour test after
its first start; runnable against any served dashboard with the default runs:
``python -m tests.default_run_actions http://127.0.0.1:8601 SHOTS_DIR``."""
from __future__ import annotations

import sys
import time
from pathlib import Path

SETTLE_MS = 2500


def _settle(page):
    page.wait_for_timeout(SETTLE_MS)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=180_000)


def _no_exception(page, where: str):
    errors = page.locator('[data-testid="stException"]').all_inner_texts()
    assert not errors, f"{where}: {errors}"


def _wait_text(page, text: str, seconds: float, where: str):
    deadline = time.monotonic() + seconds
    while text not in page.inner_text("body"):
        assert time.monotonic() < deadline, f"{where}: no {text!r} after {seconds:.0f} s: {page.inner_text('body')[-1500:]}"
        page.wait_for_timeout(2000)


def measure_speed(page, url: str, shots: Path):
    """The speed-up column turns from per-run readings to side by side, on this page, without a reload."""
    page.goto(f"{url}/efficiency")
    _settle(page)
    page.get_by_role("button", name="Measure speed side by side").wait_for(timeout=60_000)
    measured_before = "Speed-ups: measured side by side" in page.inner_text("body")
    page.get_by_role("button", name="Measure speed side by side").click()
    _wait_text(page, "Measuring speed side by side (process", 60, "speed")
    page.screenshot(path=shots / "speed-measuring.png", full_page=True)
    _wait_text(page, "Speed measurement ended", 900, "speed")
    _settle(page)
    _no_exception(page, "speed")
    body = page.inner_text("body")
    assert "Speed-ups: measured side by side" in body, body[:2000]
    assert "Speed-ups divide throughputs" not in body
    page.screenshot(path=shots / "speed-measured.png", full_page=True)
    return measured_before


def search(page, url: str, shots: Path, nonsense: str = "purple monkey dishwasher banana bread"):
    """The teacher against its student on the first language: the teacher's index is built by a worker (its
    progress shown), results show path and first lines, overlap by document, a nonsense query is flagged."""
    page.goto(f"{url}/search?q=read+a+file+line+by+line")
    _settle(page)
    _no_exception(page, "search")
    page.screenshot(path=shots / "search-first.png", full_page=True)
    _wait_text(page, "Overlap, by document", 1800, "search")  # both indexes ready
    _settle(page)
    page.screenshot(path=shots / "search-results.png", full_page=True)
    assert page.locator('[data-testid="stCode"]').count() >= 10  # first lines shown, nothing to expand
    page.goto(f"{url}/search?q={nonsense.replace(' ', '+')}")
    _settle(page)
    _wait_text(page, "Weak match", 120, "search nonsense")
    page.screenshot(path=shots / "search-weak.png", full_page=True)


def launch(page, url: str, shots: Path):
    """A BM25 run (seconds) from the Launch form: started, followed, then finished on the Runs page."""
    page.goto(f"{url}/launch")
    _settle(page)
    page.get_by_role("combobox", name="Kind").click()
    page.get_by_role("option", name="bm25", exact=False).first.click()
    _settle(page)
    page.get_by_role("button", name="Launch").click()
    _wait_text(page, "Started bm25 (process", 60, "launch")
    page.screenshot(path=shots / "launch-started.png", full_page=True)
    _no_exception(page, "launch")


def report(page, url: str, shots: Path):
    """The Deltas page's report of the default pair downloads."""
    page.goto(f"{url}/deltas")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=120_000)
    _settle(page)
    page.get_by_role("button", name="Report").first.click()  # the popover
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="HTML", exact=True).click()
    path = shots / "report.html"
    download.value.save_as(path)
    assert path.stat().st_size > 10_000 and "<html" in path.read_text()[:500].lower()


def every_action(page, url: str, shots: Path):
    for action in (report, measure_speed, launch, search):
        action(page, url, shots)


if __name__ == "__main__":
    from playwright.sync_api import sync_playwright
    url, shots = sys.argv[1], Path(sys.argv[2])
    shots.mkdir(parents=True, exist_ok=True)
    only = sys.argv[3:] or ["report", "measure_speed", "launch", "search"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name in only:
            started = time.monotonic()
            globals()[name](page, url, shots)
            print(f"{name}: ok in {time.monotonic() - started:.0f} s", flush=True)
        browser.close()
