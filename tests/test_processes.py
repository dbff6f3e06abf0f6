"""The one process-liveness check: a process of another user (signalling it is refused) is alive, so its
import's journal is never undone under it."""
import json
import os
import subprocess
import sys

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
