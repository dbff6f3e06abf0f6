"""Read built benchmarks (``<bench_dir>/<id>/``) and the official CodeSearchNet files."""
from __future__ import annotations

import gzip
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from backend.bench import doctext
from backend.bench.miner import check_language
from backend.vocab import CODE_LANGUAGES


class BenchmarkError(ValueError):
    """A benchmark that cannot be read; the message says how to fix or rebuild it."""


@dataclass
class Benchmark:
    id: str
    path: Path
    manifest: dict

    @property
    def languages(self) -> list[str]:
        return [lang for lang in CODE_LANGUAGES if lang in self.manifest["languages"]]

    def pairs(self, language: str, split: str = "test") -> list[dict]:
        check_language(language)
        if language not in self.manifest["languages"]:
            raise BenchmarkError(f"benchmark {self.id} has no {language}; it has {', '.join(self.languages)}")
        return read_jsonl(self.path / f"{language}.{split}.jsonl")


MAX_DECOMPRESSED = 2 << 30  # a CodeSearchNet shard is ~100 MB; a gzip bomb stops here


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise BenchmarkError(f"{path} is not a regular file (a FIFO, a device or a link to one); give the file itself")
    rows, read = [], 0
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                read += len(line)
                if read > MAX_DECOMPRESSED:
                    raise BenchmarkError(f"{path} holds more than {MAX_DECOMPRESSED >> 30} GB of text (decompressed); "
                                         "split it, or check it is the file you meant")
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise BenchmarkError(f"{path}: line {line_no} is not valid JSON ({e.msg}); "
                                             "fix or delete that line, or rebuild the benchmark") from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise BenchmarkError(f"cannot read {path}: {e}") from None
    return rows


def manifests(bench_dir: Path) -> list[Path]:
    """The manifests of the built benchmarks, oldest first (a build in progress writes into a hidden
    temporary folder: not listed)."""
    found = [p for p in Path(bench_dir).glob("*/manifest.json") if not p.parent.name.startswith(".")]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def load(ref: str | None, bench_dir: Path) -> Benchmark:
    """A benchmark by id or folder; None picks the most recently built one."""
    if ref is None:
        built = manifests(bench_dir)
        if not built:
            raise BenchmarkError(f"no benchmark in {bench_dir}; build one: python -m backend bench build")
        path = built[-1].parent
    else:
        path = Path(ref) if Path(ref).is_dir() else Path(bench_dir) / ref
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise BenchmarkError(f"no benchmark {ref!r} (no {manifest_path}); list them with python -m backend bench list")
    manifest = json.loads(manifest_path.read_text())
    return Benchmark(manifest.get("id", path.name), path, manifest)


def read_codesearchnet(path: Path) -> list[dict]:
    """Pairs from official CodeSearchNet files: jsonl(.gz) with docstring/code, or parquet with func_* columns."""
    if str(path).endswith(".parquet"):
        import pandas as pd
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise BenchmarkError(f"{path} is not a regular file; give the parquet file itself")
        rows = pd.read_parquet(path).to_dict("records")
    else:
        rows = read_jsonl(path)
    out = []
    for i, row in enumerate(rows):
        doc = row.get("docstring", row.get("func_documentation_string"))
        code = row.get("code", row.get("func_code_string"))
        language = row.get("language")
        if not isinstance(doc, str) or not isinstance(code, str) or language not in CODE_LANGUAGES:
            raise BenchmarkError(f"{path}: row {i + 1} lacks docstring/code/language (or func_documentation_string/"
                                 f"func_code_string); is this a CodeSearchNet file?")
        query = doctext.first_paragraph(doc.splitlines())
        document = code.replace(doc, "", 1) if doc and doc in code else code  # CSN code keeps the docstring
        out.append({"language": language, "query": query, "code": document,
                    "func_name": str(row.get("func_name", "")), "path": str(row.get("path", "")),
                    "partition": _partition(row, path)})
    return out


def _partition(row: dict, path: Path) -> str:
    """The row's own partition (CodeSearchNet jsonl: ``partition``; the Hugging Face parquet: ``split_name``),
    else the file name's."""
    for key in ("partition", "split_name", "split"):
        if isinstance(row.get(key), str) and row[key]:
            return row[key]
    return _partition_of(path)


def _partition_of(path: Path) -> str:
    name = Path(path).name
    return next((p for p in ("test", "valid", "train") if p in name), "train")
