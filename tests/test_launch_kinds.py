"""The Launch page launches every registered kind: its defaults, then one changed option of each type (a whole
number, a number, a choice, text), converted once (backend/options.py) exactly as the CLI and sweeps convert."""
import dataclasses
import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from backend import options
from backend.config import REPO_ROOT, settings
from backend.kinds import KINDS
from backend.runs import lifecycle, supervision

LAUNCHABLE = [k.name for k in KINDS.values() if k.runner]


def _changes(config_cls) -> dict:
    """One changed value per field type the kind has: {field name: new value}."""
    out = {}
    for f in dataclasses.fields(config_cls):
        kind_of, allowed = options.field_type(config_cls, f), f.metadata.get("choices")
        key = "choice" if allowed else kind_of.__name__
        if key in out or f.name in ("model", "bench", "languages", "problem_sets", "vocabulary_file", "execute_on"):
            continue
        if allowed:
            out[key] = (f.name, next(v for v in allowed if v != f.default))
        elif kind_of is int:
            out[key] = (f.name, f.default + 1)
        elif kind_of is float:
            out[key] = (f.name, f.default + 0.5 if f.default < 0.5 else f.default / 2)
    return dict(out.values())


@pytest.fixture
def spawned(monkeypatch):
    """supervision.spawn validates exactly as before starting a process; here it records instead of starting one."""
    calls = []

    def fake_spawn(kind, opts, runs_dir, db_path, default_device="auto"):
        lifecycle.build_config(kind, opts)
        calls.append((kind, opts))
        return 0, runs_dir / "fake.log"
    monkeypatch.setattr(supervision, "spawn", fake_spawn)
    return calls


@pytest.mark.parametrize("kind", LAUNCHABLE)
def test_every_kind_launches_with_defaults_and_changed_options(kind, store, spawned):
    at = AppTest.from_file(str(REPO_ROOT / "pages/launch.py"), default_timeout=60).run()
    at.selectbox[0].set_value(kind).run()
    at.button[0].click().run()
    assert not at.exception and f"Started {kind}" in at.success[0].value, [e.value for e in at.error]
    assert spawned[-1] == (kind, {})  # untouched defaults: nothing differs ("0.05" is 0.05)
    config_cls = KINDS[kind].load()[1]
    changes = _changes(config_cls)
    for name, value in changes.items():
        label = name.replace("_", " ")
        widget = next(w for w in [*at.number_input, *at.selectbox, *at.text_input] if w.label == label)
        widget.set_value(value)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    kind_of = {f.name: options.field_type(config_cls, f) for f in dataclasses.fields(config_cls)}
    assert spawned[-1][0] == kind and {k: kind_of[k](v) for k, v in spawned[-1][1].items()} == changes


@pytest.mark.integration
def test_a_float_option_launched_from_the_page_starts_a_real_run(store, runs_dir, tiny_bench):
    """The real process: its command line goes through the CLI and the same conversion, and the run starts."""
    at = AppTest.from_file(str(REPO_ROOT / "pages/launch.py"), default_timeout=60).run()
    at.selectbox[0].set_value("peft-contrastive").run()
    next(w for w in at.number_input if w.label == "temperature").set_value(0.07)
    next(w for w in at.text_input if w.label == "model").input("/nonexistent/model-folder")
    at.button[0].click().run()
    assert not at.exception and "Started peft-contrastive" in at.success[0].value
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (store.runs().empty or store.runs()["status"].iloc[0] == "running"):
        time.sleep(0.5)
    run = store.runs().iloc[0]
    assert '"temperature": 0.07' in run["config"]  # typed: a number, not the text "0.07"
    assert run["status"] == "failed" and "not found" in run["error"]  # it ran: the missing model ended it
    config, provenance = json.loads(run["config"]), json.loads(run["provenance"])
    assert config["bench"] == tiny_bench.name  # pinned at launch, not looked up again
    environment = provenance["environment"]  # how it was made, even when it failed
    assert len(environment["code_commit"]) == 40 and environment["libraries"]["torch"].startswith("2.13.0")
    assert environment["cpu_count"] >= 1 and environment["python"]


def test_the_cli_offers_choices_and_refuses_others(capsys):
    from backend.__main__ import main
    with pytest.raises(SystemExit):
        main(["launch", "peft-contrastive", "--method", "lorax"])
    assert "invalid choice: 'lorax'" in capsys.readouterr().err


def test_sweep_values_get_the_same_messages(tmp_path):
    from backend.runs.executors import expand_sweep
    path = tmp_path / "sweep.toml"
    path.write_text('[[grid]]\nkind = "peft-contrastive"\ntemperature = "warm"\n')
    with pytest.raises(ValueError, match="option temperature must be a number, got 'warm'"):
        expand_sweep(path, settings().bench_dir)
    path.write_text('[[grid]]\nkind = "kd-student"\nloss = "l1"\n')
    with pytest.raises(ValueError, match="option loss must be one of cosine, mse"):
        expand_sweep(path, settings().bench_dir)


@pytest.mark.integration
@pytest.mark.parametrize("kind", LAUNCHABLE)
def test_every_kind_really_starts_from_the_page(kind, store, runs_dir, tiny_bench):
    """The real thing for every kind: the page spawns `python -m backend launch`, the process passes the CLI and
    the conversion and the run is stored `running` (then we stop it: the run itself is tested elsewhere)."""
    import os
    import re
    import signal
    at = AppTest.from_file(str(REPO_ROOT / "pages/launch.py"), default_timeout=60).run()
    at.selectbox[0].set_value(kind).run()
    config_cls = KINDS[kind].load()[1]
    for name, value in _changes(config_cls).items():
        next(w for w in [*at.number_input, *at.selectbox, *at.text_input] if w.label == name.replace("_", " ")).set_value(value)
    at.button[0].click().run()
    assert not at.exception and f"Started {kind}" in at.success[0].value, [e.value for e in at.error]
    pid = int(re.search(r"process (\d+)", at.success[0].value).group(1))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and store.runs().empty:
            time.sleep(0.5)
        runs = store.runs()
        assert len(runs) and runs["kind"].iloc[0] == kind, list((runs_dir / ".launch").glob("*.log"))[0].read_text()[-2000:]
        config = json.loads(runs["config"].iloc[0])
        assert all(config[k] == pytest.approx(v) if isinstance(v, float) else config[k] == v
                   for k, v in _changes(config_cls).items())
    finally:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
