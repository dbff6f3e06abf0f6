"""Several real processes read and write one DB at once: all succeed, and the result equals a rebuild."""
import json
import os
import subprocess
import sys

from backend import catalog
from backend.config import REPO_ROOT
from tests.conftest import REFERENCE

READER = """
import sys, time
from backend.catalog import default_store
store, end = default_store(), time.monotonic() + float(sys.argv[1])
reads = 0
while time.monotonic() < end:
    store.runs(); store.metrics(); reads += 1
print(reads)
"""


def _run_files(folder, prefix, count):
    folder.mkdir()
    paths = []
    for i in range(count):
        run = {"schema_version": 1, "run_id": f"{prefix}-{i}", "kind": "teacher-eval",
               "metrics": [{"language": lang, "metric": "ndcg@10", "value": i / count}
                           for lang in ("python", "java", "go")]}
        (folder / f"{i}.json").write_text(json.dumps(run))
        paths.append(str(folder / f"{i}.json"))
    return paths


def test_two_writers_and_a_reader_all_succeed_and_match_rebuild(store, runs_dir, tmp_path):
    catalog.import_paths(sorted(REFERENCE.iterdir()), store=store)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    writers = []
    for prefix in ("a", "b"):
        paths = _run_files(tmp_path / prefix, prefix, 6)
        script = " && ".join(f"{sys.executable} -m backend import {p}" for p in paths)
        writers.append(subprocess.Popen(["bash", "-c", script], cwd=REPO_ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    reader = subprocess.Popen([sys.executable, "-c", READER, "8"], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for proc in writers + [reader]:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert int(out) > 0
    assert len(store.runs()) == 3 + 12
    imported = store.fingerprint()
    catalog.rebuild(store, runs_dir)
    rebuilt = store.fingerprint()
    assert rebuilt["metrics"] == imported["metrics"] and rebuilt["runs"][0] == imported["runs"][0]
