"""Imported files stored once: ``runs/.imports/<sha256>/<original name>`` beside ``import.json``.

A file of a format read in columns (the wide CSV) is the source of truth of its runs: it is kept as it came,
named by its content's hash, and ``rebuild`` reads it again. ``import.json`` holds the import's options and
the runs of the file that are not taken from it, per run: ``deleted`` (deleted since, or replaced by a later
import: tombstones, never edits of the file) and ``held_elsewhere`` (a run folder of that id was there first and
keeps it). Runs made here keep their folders (``rundirs``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from backend.fileio import read_text, write_atomic
from backend.timestamps import now

IMPORTS_DIR = ".imports"  # a run id never starts with a dot: no run folder can take this name
META = "import.json"


def import_dir(runs_dir: Path, key: str) -> Path:
    """The folder of a stored import: its content's sha256 (and a hash of its name when the same bytes came
    under another name: the name is part of its runs' provenance)."""
    return Path(runs_dir) / IMPORTS_DIR / key


def copy_in(src: Path, parent: Path) -> tuple[str, Path]:
    """Copy ``src`` to ``parent/<sha256>/<name>`` (hashing as it copies); (the hash, the copy)."""
    digest, tmp = hashlib.sha256(), parent / f".copy-{src.name}"
    parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as f, open(tmp, "xb") as out:
        while chunk := f.read(2**20):
            digest.update(chunk)
            out.write(chunk)
    key = digest.hexdigest()
    (parent / key).mkdir(exist_ok=True)
    copy = parent / key / src.name
    tmp.replace(copy)
    return key, copy


def new_meta(key: str, name: str, fmt: str, held_elsewhere: list[str]) -> dict:
    return {"sha256": key[:64], "file": name, "format": fmt, "imported_at": now(), "deleted": [],
            "held_elsewhere": sorted(held_elsewhere)}


def read_meta(runs_dir: Path, key: str) -> dict | None:
    text = read_text(import_dir(runs_dir, key) / META)
    return json.loads(text) if text else None


def meta_text(meta: dict) -> str:
    return json.dumps(meta, indent=1, sort_keys=True) + "\n"


def stored(runs_dir: Path) -> list[tuple[Path, dict]]:
    """(the stored file, its import.json) of every stored import, oldest first."""
    out = []
    for meta_path in sorted((Path(runs_dir) / IMPORTS_DIR).glob(f"*/{META}")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        out.append((meta_path.parent / meta["file"], meta))
    return sorted(out, key=lambda item: item[1]["imported_at"])


def excluded(meta: dict) -> set[str]:
    """Runs of the file not taken from it."""
    return set(meta.get("deleted", [])) | set(meta.get("held_elsewhere", []))


def with_deleted(meta: dict, run_ids) -> dict:
    return {**meta, "deleted": sorted(set(meta.get("deleted", [])) | set(run_ids))}


def tombstone(runs_dir: Path, key: str, run_ids):
    """Record ``run_ids`` as deleted from the stored import ``key`` (the file itself is never edited)."""
    meta = read_meta(runs_dir, key)
    if meta is not None:
        write_atomic(import_dir(runs_dir, key) / META, meta_text(with_deleted(meta, run_ids)))


def remove_created(path: Path):
    """Undo a stored file an import put in place (its folder goes once empty)."""
    Path(path).unlink(missing_ok=True)
    try:
        Path(path).parent.rmdir()
    except OSError:
        pass
