"""Progress: per-batch counts with a rate and an ETA, a terminal that is not flooded, the Launch page's view."""
import fcntl
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from backend.config import REPO_ROOT
from backend.progress import Meter, Reporter, clock
from backend.retrieval.encoders import Encoder
from backend.runs.first_start import progress_path


def test_meter_reports_count_rate_and_eta_within_its_span():
    now = [0.0]
    seen = []
    meter = Meter(lambda f, m, **kw: seen.append((f, m)), "go: encoding", 100, "texts", (0.5, 0.7),
                  clock_fn=lambda: now[0])
    now[0] = 5.0
    meter.advance(25)
    fraction, message = seen[-1]
    assert fraction == pytest.approx(0.55)
    assert message == "go: encoding: 25/100 texts · 5.0 texts/s · 0:05 elapsed · ETA 0:15"
    now[0] = 20.0
    meter.advance(75)
    assert seen[-1][0] == pytest.approx(0.7) and "ETA" not in seen[-1][1]
    assert clock(3725) == "1:02:05" and clock(42) == "0:42"


def test_reporter_writes_every_report_but_prints_throttled_ones_rarely(tmp_path, capsys):
    report = Reporter(tmp_path / "progress.json", every=3600)
    report(0.1, "stage one")
    for i in range(50):
        report(0.1 + i / 100, f"batch {i}", throttled=True)
    report(0.9, "stage two")
    for step in range(1, 401):  # a training loop's unthrottled reports: the same stage, other numbers
        report(0.9, f"step {step}/400 loss {1 / step:.4f}")
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["[ 10.0%] stage one", "[ 90.0%] stage two", "[ 90.0%] step 1/400 loss 1.0000"]
    assert json.loads((tmp_path / "progress.json").read_text())["message"] == "step 400/400 loss 0.0025"


def test_encoding_with_progress_reports_every_chunk_and_gives_the_same_vectors():
    rng = np.random.default_rng(0)
    table = {f"t{i}": rng.normal(size=4) for i in range(1000)}
    encoder = Encoder("fake", REPO_ROOT, 0, lambda texts, bs: np.stack([table[t] for t in texts]))
    texts = list(table)
    counts = []
    chunked = encoder.encode(texts, 32, counts.append)
    assert counts == [128] * 7 + [1000 - 7 * 128]
    np.testing.assert_array_equal(chunked, encoder.encode(texts, 32))


def test_launch_page_shows_the_first_start_benchmark_build(store, runs_dir):
    Reporter(progress_path(runs_dir), echo=False)(0.4, "benchmark: mining go (3/6): 1,200 files · 400.0 files/s")
    with open(runs_dir / ".defaults.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as the background `defaults` process holds it
        at = AppTest.from_file(str(REPO_ROOT / "pages/launch.py"), default_timeout=60).run()
    assert not at.exception
    assert at.subheader[0].value == "Running (1)"
    bar = at.get("progress")[0]
    assert "First start: benchmark: mining go (3/6)" in bar.proto.text and bar.proto.value == 40
