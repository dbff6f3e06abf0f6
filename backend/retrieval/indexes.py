"""Open search indexes for the Search page: built in the background with progress, kept in a cache bounded by
memory (least recently used closed first), shared by every session of one dashboard process."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from backend.progress import Meter
from backend.retrieval.search import Corpus, SearchIndex, load_or_build_index


@dataclass
class Build:
    """One index being loaded or encoded in a background thread."""
    label: str
    meter: Meter | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    def fraction(self) -> float:
        return self.meter.fraction() if self.meter else 0.0

    def message(self) -> str:
        return self.meter.message() if self.meter else f"{self.label}: opening the saved index"


class Indexes:
    """``get`` answers at once: the open index, or the Build that is making it (started on first ask)."""

    def __init__(self, cache_dir: Path, max_bytes: int):
        self.cache_dir, self.max_bytes = Path(cache_dir), max_bytes
        self._open: OrderedDict[tuple, SearchIndex] = OrderedDict()
        self._builds: dict[tuple, Build] = {}
        self._lock = threading.Lock()

    def get(self, ref: str, corpus: Corpus, encoder) -> SearchIndex | Build:
        key = (ref, corpus.id)
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key]
            build = self._builds.get(key)
            if build is not None and build.finished.is_set():  # it failed (a success is open): say so once
                del self._builds[key]
            elif build is None:
                build = self._builds[key] = Build(f"{corpus.label} with {Path(ref).name}")
                threading.Thread(target=self._build, args=(key, build, ref, corpus, encoder), daemon=True,
                                 name=f"index {key}").start()
            return build

    def _build(self, key, build: Build, ref: str, corpus: Corpus, encoder):
        def progress(done: int, total: int):
            if build.meter is None:
                build.meter = Meter(lambda *a, **k: None, "encoding the corpus", total, "documents")
            if done:
                build.meter.advance(done - build.meter.done)
        try:
            index = load_or_build_index(encoder, ref, corpus, self.cache_dir, progress)
        except Exception as e:  # shown on the page; asking again retries
            build.error = f"{type(e).__name__}: {e}"
        else:
            self.put(key, index)
        finally:
            build.finished.set()

    def put(self, key: tuple, index: SearchIndex):
        with self._lock:
            self._open[key] = index
            self._builds.pop(key, None)
            while len(self._open) > 1 and self.nbytes() > self.max_bytes:
                self._open.popitem(last=False)

    def nbytes(self) -> int:
        return sum(index.nbytes for index in self._open.values())

    def keys(self) -> list[tuple]:
        """Open indexes, least recently used first."""
        with self._lock:
            return list(self._open)
