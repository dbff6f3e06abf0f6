"""Open search indexes for the Search page: built by a worker process of their own (never in the server: a
transformer encoding a corpus there made every page of every session wait), kept in a cache bounded by memory
(least recently used closed first), shared by every session of one dashboard process."""
from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from backend import processes, progress
from backend.retrieval.search import Corpus, SearchIndex, index_folder, open_saved_index

LOG = "build.log"


@dataclass(frozen=True)
class CorpusSpec:
    """What a worker needs to open the page's corpus again: a benchmark's language (None: all), or a folder."""
    bench_id: str = ""
    language: str | None = None
    folder: str = ""

    def args(self) -> list[str]:
        if self.folder:
            return ["--corpus", self.folder, "--lang", self.language or "python"]
        return ["--corpus", self.language or "all", *(["--bench", self.bench_id] if self.bench_id else [])]


@dataclass
class Build:
    """An index a worker is making (or failed to make): its last progress report."""
    label: str
    report: dict
    error: str | None = None

    def fraction(self) -> float:
        return float(self.report.get("fraction", 0.0))

    def message(self) -> str:
        return self.report.get("message") or f"{self.label}: starting a worker"


def spawn_worker(ref: str, spec: CorpusSpec, folder: Path, runs_dir: Path, db_path: Path, device: str) -> int:
    """Start ``python -m backend search-index`` (one model's index over one corpus; its progress and log in the
    index's folder) the one way heavy work starts: niced, bounded threads. Returns its pid."""
    from backend.config import REPO_ROOT
    args = [sys.executable, "-m", "backend", "--runs-dir", str(runs_dir), "--db", str(db_path), "search-index",
            "--model", ref, "--device", device, *spec.args()]
    return processes.spawn(args, REPO_ROOT, Path(folder) / LOG)


class Indexes:
    """``get`` answers at once: the open index, or the Build a worker is doing (started on first ask by
    ``start(ref, folder) -> pid``)."""

    def __init__(self, cache_dir: Path, max_bytes: int, model_cache: Path):
        self.cache_dir, self.max_bytes, self.model_cache = Path(cache_dir), max_bytes, Path(model_cache)
        self._open: OrderedDict[tuple, SearchIndex] = OrderedDict()
        self._workers: dict[tuple, int] = {}  # pid of the worker this process started per index
        self._lock = threading.Lock()

    def get(self, ref: str, corpus: Corpus, start) -> SearchIndex | Build:
        key, label = (ref, corpus.id), f"{corpus.label} with {Path(ref).name}"
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key]
        folder = index_folder(self.cache_dir, ref, corpus.id, self.model_cache)
        saved = open_saved_index(folder)
        if saved is not None:
            self.put(key, saved)
            return saved
        report = progress.read(folder / "progress.json")
        with self._lock:
            pid = self._workers.get(key)
            if pid is not None and not processes.alive(pid) and open_saved_index(folder) is None:
                del self._workers[key]  # it ended without an index: say why once; asking again retries
                return Build(label, report, processes.last_line(folder / LOG) or f"the worker (process {pid}) ended")
            if pid is None and not _building_elsewhere(folder, report):
                folder.mkdir(parents=True, exist_ok=True)
                self._workers[key] = start(ref, folder)
                report = {}
        return Build(label, report)

    def put(self, key: tuple, index: SearchIndex):
        with self._lock:
            self._open[key] = index
            self._workers.pop(key, None)
            while len(self._open) > 1 and self.nbytes() > self.max_bytes:
                self._open.popitem(last=False)

    def nbytes(self) -> int:
        return sum(index.nbytes for index in self._open.values())

    def keys(self) -> list[tuple]:
        """Open indexes, least recently used first."""
        with self._lock:
            return list(self._open)


def _building_elsewhere(folder: Path, report: dict) -> bool:
    """Another process (the first start, a second server, the CLI) is making this index: it holds the folder's
    lock, or reported lately from a live process of this machine (before it takes the lock: loading the model)."""
    recent = time.time() - report.get("time", 0) < 120 and processes.alive(report.get("pid"))
    return processes.lock_held(folder / ".lock") or recent
