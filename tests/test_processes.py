"""The one process-liveness check: a process of another user (signalling it is refused) is alive, so its
import's journal is never undone under it."""
import json
import os
import subprocess
import sys

import pytest

from backend import processes, rundirs


def test_alive_dead_and_not_a_pid():
    assert processes.alive(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not processes.alive(proc.pid)
    assert not processes.alive(None) and not processes.alive("123") and not processes.alive(True)


def test_a_process_we_may_not_signal_is_alive(monkeypatch):
    def refused(pid, sig):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(processes.os, "kill", refused)
    assert processes.alive(4242)


def test_the_journal_of_another_users_live_import_is_not_undone(tmp_path, monkeypatch):
    journals = tmp_path / rundirs.JOURNAL_DIR
    journals.mkdir(parents=True)
    (journals / "other.jsonl").write_text(json.dumps({"pid": 4242, "token": "import:4242-1"}) + "\n")
    monkeypatch.setattr(processes.os, "kill", lambda pid, sig: (_ for _ in ()).throw(PermissionError(1, "no")))
    assert rundirs.dead_journals(tmp_path) == []
    monkeypatch.setattr(processes.os, "kill", lambda pid, sig: (_ for _ in ()).throw(ProcessLookupError()))
    assert rundirs.dead_journals(tmp_path) == [(journals / "other.jsonl", "import:4242-1")]


def test_an_imports_token_stays_until_the_next_commit_unless_its_journal_is_open(store, runs_dir, tmp_path):
    """The commit token tells a killed import's journal whether the DB has it; once the journal is gone nobody
    asks, and the next import's commit deletes it, but never the token of an import whose journal is open."""
    from backend import catalog

    def tokens():
        with store.connect() as con:
            return {k for (k,) in con.execute("SELECT key FROM meta WHERE key LIKE 'import:%'").fetchall()}
    for name in ("a", "b"):
        (tmp_path / f"{name}.csv").write_text(f"run_id,kind,language,mrr\n{name},eval,go,0.5\n")
    catalog.import_paths([tmp_path / "a.csv"], store=store)
    [first] = tokens()
    # Another import (a live process: this one) between its commit and the end of its journal.
    running = f"import:{os.getpid()}-1"
    (runs_dir / rundirs.JOURNAL_DIR / f"{os.getpid()}-1.jsonl").write_text(
        json.dumps({"pid": os.getpid(), "token": running}) + "\n")
    store.set_meta(running, "committed")
    catalog.import_paths([tmp_path / "b.csv"], store=store)
    assert first not in tokens() and running in tokens() and len(tokens()) == 2


def _state(pid: int) -> str | None:
    """The process's state letter from /proc (Z: a zombie), None once it is gone."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _until(condition, seconds: float = 20.0) -> bool:
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


CHILD = "import os, sys; print(os.nice(0), os.environ['OMP_NUM_THREADS'], os.getppid(), os.getpgrp(), flush=True)"


@pytest.mark.integration
def test_spawned_work_is_niced_bounded_and_never_left_a_zombie(tmp_path):
    """The Streamlit server starts workers and never waits for them: each used to stay <defunct> until the
    server ended. Now a reaper waits; the worker runs at nice +10 with every core but one."""
    from backend.config import REPO_ROOT
    log = tmp_path / "logs" / "child.log"  # its folder made on the way (runs/.launch/ on a first click)
    pid = processes.spawn([sys.executable, "-c", CHILD], REPO_ROOT, log)
    assert _until(lambda: _state(pid) is None), f"process {pid} left in state {_state(pid)}"
    nice, threads, parent, group = log.read_text().split()
    assert int(nice) == min(os.nice(0) + processes.NICE, 19) and int(threads) == processes.worker_threads()
    assert int(parent) == os.getpid() and int(group) != os.getpgrp()  # a session of its own


@pytest.mark.integration
def test_an_orphan_worker_belongs_to_init_and_to_the_terminals_process_group(tmp_path):
    """``serve`` becomes Streamlit by exec right after starting the first start: the first start is handed to
    init (no zombie), and stays in the terminal's process group (Ctrl+C stops it too)."""
    from backend.config import REPO_ROOT
    log = tmp_path / "child.log"
    pid = processes.spawn([sys.executable, "-c", CHILD], REPO_ROOT, log, orphan=True, new_session=False)
    assert _until(lambda: log.read_text().strip() != "")
    nice, threads, parent, group = log.read_text().split()
    assert int(parent) != os.getpid() and int(group) == os.getpgrp() and pid > 0
    assert _until(lambda: _state(pid) is None)


def test_serve_on_a_taken_port_says_so_before_anything_starts(runs_dir, capsys):
    """One line naming the fix, and no first start (no reference import, no default runs) behind it."""
    import socket

    from backend.__main__ import main
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot serve on 127.0.0.1:{port}" in err and "--port N" in err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())
