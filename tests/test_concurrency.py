"""Several real processes read and write one DB at once: all succeed, and the result equals a rebuild."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend import catalog, rundirs
from backend.config import REPO_ROOT
from tests.conftest import REFERENCE, reference_runs

pytestmark = pytest.mark.integration  # every test starts processes or pools of them

READER = """
import sys, time
from backend.catalog import default_store
from backend.config import settings
store, end = default_store(settings()), time.monotonic() + float(sys.argv[1])
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
    assert len(store.runs()) == reference_runs() + 12
    imported = store.fingerprint()
    catalog.rebuild(store, runs_dir)
    rebuilt = store.fingerprint()
    assert rebuilt["metrics"] == imported["metrics"] and rebuilt["runs"][0] == imported["runs"][0]


DASHBOARD = """
import sys, time
from streamlit.testing.v1 import AppTest
end, renders = time.monotonic() + float(sys.argv[1]), 0
while time.monotonic() < end:
    for page in ("pages/runs.py", "pages/deltas.py", "pages/efficiency.py"):
        at = AppTest.from_file(page, default_timeout=60).run()
        assert not at.exception, (page, at.exception)
        renders += 1
print(renders)
"""


def test_dashboard_open_while_two_runs_launch_and_an_import_runs(store, runs_dir, tmp_path):
    """The dashboard renders pages while two `launch` processes and one `import` write: all succeed."""
    import time

    from backend.bench import build
    from tests.conftest import make_tiny_model2vec
    from tests.test_search import _pairs
    bench_dir = tmp_path / "benchmarks"
    manifest = {"format": 1, "seed": 0, "test_size": 20, "languages": {"go": {"counts": {"test": 20}}}}
    bench = build.write(manifest, {"go": build.split(_pairs("go"), 20, seed=0)}, bench_dir).name
    model = make_tiny_model2vec(tmp_path / "tiny", [p["query"] + " " + p["code"] for p in _pairs("go")])
    catalog.import_paths(sorted(REFERENCE.iterdir()), store=store)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DASHBOARD_BENCH_DIR": str(bench_dir)}
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", DASHBOARD, "12"], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    for seed in (1, 2):
        procs.append(subprocess.Popen([sys.executable, "-m", "backend", "launch", "eval", "--model", str(model),
                                       "--bench", bench, "--seed", str(seed)], cwd=REPO_ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    paths = _run_files(tmp_path / "imports", "imp", 5)
    procs.append(subprocess.Popen([sys.executable, "-m", "backend", "import", *paths], cwd=REPO_ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(out)
    print(f"all writers and the dashboard done in {time.monotonic() - start:.1f} s; "
          f"dashboard renders: {outputs[0].strip()}")
    runs = store.runs()
    assert len(runs) == reference_runs() + 2 * 2 + 5 and set(runs["status"]) == {"finished"}
    imported = store.fingerprint()
    catalog.rebuild(store, runs_dir)
    rebuilt = store.fingerprint()
    for table in ("runs", "metrics", "query_results"):
        assert rebuilt[table][0] == imported[table][0], table
    assert rebuilt["metrics"] == imported["metrics"] and rebuilt["query_results"] == imported["query_results"]


def test_kill_9_during_an_import_leaves_all_or_none_of_its_runs(store, runs_dir, tmp_path):
    """A CSV of 3,000 runs is imported by a process killed mid-way; the DB holds all of them or none."""
    import signal
    import time
    lines = ["run_id,kind,language,ndcg@10"] + [f"bulk-{i},teacher-eval,{lang},0.5" for i in range(3000)
                                                for lang in ("python", "go")]
    (tmp_path / "bulk.csv").write_text("\n".join(lines) + "\n")
    catalog.import_paths(sorted(REFERENCE.iterdir()), store=store)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    outcomes = set()
    staging = runs_dir / rundirs.STAGING_DIR
    for delay in (0.0, 0.4, 0.8):
        proc = subprocess.Popen([sys.executable, "-m", "backend", "import", str(tmp_path / "bulk.csv")],
                                cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill once the import is under way, not at fixed times: on a loaded machine a fixed 2.4 s can pass
        # before the process has even imported its modules, and "none of them" would then prove nothing.
        deadline = time.monotonic() + 120
        while proc.poll() is None and not any(staging.glob("*/*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is not None or any(staging.glob("*/*")), "the import never began staging"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        bulk = int(store.runs()["run_id"].str.startswith("bulk-").sum())
        assert bulk in (0, 3000), bulk  # never a part of the file
        outcomes.add(bulk)
        store.delete(list(store.runs()["run_id"]))  # start the next round from an empty DB
        for path in runs_dir.glob("bulk-*"):
            __import__("shutil").rmtree(path)
    print(f"kill -9 outcomes (runs of the file in the DB): {sorted(outcomes)}")


def _build_once(args):
    from backend.bench import build
    from backend.bench.sources import SourceSpec
    bench_root, cache, src = args
    return str(build.build(["python"], Path(bench_root), Path(cache), test_size=3,
                           sources={"python": SourceSpec("python", "dir", path=src)}))


def _unpack_once(cache):
    from backend.bench.sources import _fetch_npm
    return str(_fetch_npm("left-pad@1.3.0", Path(cache))[0])


def test_builds_and_unpacks_at_once_all_succeed(tmp_path):
    """Two benchmark builds at once (the README tells Ray clusters to share the cache) once died with ENOENT
    on a shared temporary folder; each process now writes its own and renames it into place."""
    import io
    import multiprocessing
    import tarfile
    src = tmp_path / "src"
    src.mkdir()
    for i in range(12):
        (src / f"m{i}.py").write_text(
            f'def f{i}(a, b):\n    """Add the two numbers {i} and return the sum of them."""\n    c = a + b\n'
            f'    d = c * {i}\n    return c + d\n')
    cache = tmp_path / "cache"
    (cache / "npm").mkdir(parents=True)
    with tarfile.open(cache / "npm" / "left-pad-1.3.0.tgz", "w:gz") as tar:  # as `npm pack` leaves it
        for n in range(200):
            data = f"module.exports = {n};\n".encode()
            info = tarfile.TarInfo(f"package/lib/f{n}.js")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        for round_ in range(3):
            roots = pool.map(_build_once, [(tmp_path / f"bench{round_}", cache, str(src))] * 4)
            assert len(set(roots)) == 1 and (Path(roots[0]) / "manifest.json").is_file()
            unpacked = pool.map(_unpack_once, [_copy_npm(cache, tmp_path / f"c{round_}")] * 4)
            assert len(set(unpacked)) == 1 and len(list(Path(unpacked[0]).rglob("*.js"))) == 200
    leftovers = [p for p in tmp_path.rglob(".*tmp-*")]
    assert not leftovers, leftovers


def _copy_npm(cache: Path, dest: Path) -> Path:
    import shutil
    shutil.copytree(cache / "npm", dest / "npm")
    return dest
