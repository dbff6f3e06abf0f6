"""Build a benchmark: mine pairs per language, filter, de-duplicate, split with a seed, write jsonl + manifest.

Output: ``<bench_root>/<bench-id>/{<lang>.test.jsonl, <lang>.train.jsonl, manifest.json}``; the id is a hash of
the manifest (sources with sha256, filters, seed, counts), so the same inputs always give the same id.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from backend.bench import doctext, miner
from backend.bench.dataset import BenchmarkError
from backend.bench.sources import DEFAULT_SOURCES, SourceSpec, fetch, iter_files, publish
from backend.progress import Meter

FORMAT = 1
DEFAULT_TEST_SIZE = 1000


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def dedupe(pairs: list[dict]) -> list[dict]:
    """Keep the first pair for each normalized code and each normalized query (CodeSearchNet de-duplication)."""
    seen_code, seen_query, out = set(), set(), []
    for pair in pairs:
        code, query = _normalize(pair["code"]), _normalize(pair["query"])
        if code in seen_code or query in seen_query:
            continue
        seen_code.add(code)
        seen_query.add(query)
        out.append(pair)
    return out


MIN_TRAIN_SHARE = 0.2  # a small language still keeps some pairs for fine-tuning


def split(pairs: list[dict], test_size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Seeded shuffle; the first ``test_size`` pairs (at most 80 % of them) are test, every pair in one split."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    shuffled = [pairs[i] for i in order]
    n_test = min(test_size, len(pairs) - int(len(pairs) * MIN_TRAIN_SHARE)) if len(pairs) > 1 else len(pairs)
    return shuffled[:n_test], shuffled[n_test:]


def mine_language(source: SourceSpec, cache: Path, meter: Meter | None = None) -> tuple[list[dict], dict]:
    roots, provenance = fetch(source, cache)
    files_hash, pairs, n_files = hashlib.sha256(), [], 0
    for rel, data in iter_files(roots, source.language):
        files_hash.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        n_files += 1
        pairs.extend(miner.mine_source(data, source.language, rel))
        if meter:
            meter.advance()
    info = {"kind": source.kind, "packages": provenance, "files": n_files, "files_sha256": files_hash.hexdigest()}
    return pairs, info


def build(languages: list[str], bench_root: Path, cache: Path, test_size: int = DEFAULT_TEST_SIZE, seed: int = 0,
          sources: dict[str, SourceSpec] | None = None, progress: Callable | None = None) -> Path:
    """Mine, filter, split and write a benchmark; returns its folder (reused if it exists already).
    ``progress``: a progress.Reporter (or any ``(fraction, message, **kw)`` callable) told per file mined."""
    sources = sources or DEFAULT_SOURCES
    for language in languages:
        miner.check_language(language)
    per_language, manifest_languages = {}, {}
    for i, language in enumerate(languages):
        meter = Meter(progress, f"benchmark: mining {language} ({i + 1}/{len(languages)})", None, "files",
                      (i / len(languages), (i + 1) / len(languages))) if progress else None
        pairs, info = mine_language(sources[language], cache, meter)
        unique = dedupe(pairs)
        if not unique:
            raise ValueError(f"no documented functions found for {language} in {info['packages']}; "
                             "check that the folder holds source files of that language")
        test, train = split(unique, test_size, seed)
        per_language[language] = (test, train)
        manifest_languages[language] = {**info, "counts": {"mined": len(pairs), "unique": len(unique),
                                                           "test": len(test), "train": len(train)}}
    manifest = {"format": FORMAT, "seed": seed, "test_size": test_size, "languages": manifest_languages,
                "filters": {"min_query_tokens": miner.MIN_QUERY_TOKENS, "min_code_lines": miner.MIN_CODE_LINES,
                            "max_code_chars": miner.MAX_CODE_CHARS, "min_train_share": MIN_TRAIN_SHARE,
                            "skip_dirs": miner.SKIP_DIRS.pattern,
                            "skip_files": miner.SKIP_FILES.pattern, "dedupe": "normalized code and query"}}
    return write(manifest, per_language, bench_root)


def bench_id(manifest: dict) -> str:
    langs = "".join(sorted(lang[:2] for lang in manifest["languages"]))
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:10]
    return f"csn-{langs}-{digest}"


def write(manifest: dict, per_language: dict, bench_root: Path) -> Path:
    """Write to a temp folder and rename: a benchmark folder is complete or absent."""
    out = Path(bench_root) / bench_id(manifest)
    if (out / "manifest.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    # This process's own temporary folder: two builds of the same benchmark at once must not write into one.
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    for language, (test, train) in per_language.items():
        for name, rows in (("test", test), ("train", train)):
            with open(tmp / f"{language}.{name}.jsonl", "w", encoding="utf-8") as f:
                for i, row in enumerate(rows):
                    f.write(json.dumps({"id": f"{language}/{name}/{i}", **row}, ensure_ascii=False) + "\n")
    (tmp / "manifest.json").write_text(json.dumps({"id": out.name, **manifest}, indent=1, sort_keys=True))
    if out.is_dir() and not (out / "manifest.json").is_file():
        shutil.rmtree(out, ignore_errors=True)  # an incomplete folder from an older version of this code
    publish(tmp, out)
    return out


def build_from_codesearchnet(files: list[str], bench_root: Path, test_size: int = DEFAULT_TEST_SIZE,
                             seed: int = 0) -> Path:
    """A benchmark from the official CodeSearchNet files, keeping their own test/train partitions."""
    from backend.bench.dataset import read_codesearchnet
    from backend.bench.sources import sha256_file
    pairs = [pair for f in files for pair in read_codesearchnet(Path(f))]
    per_language, languages = {}, {}
    for language in sorted({p["language"] for p in pairs}):
        rows = dedupe([{k: v for k, v in p.items() if k != "partition"} | {"_test": p["partition"] == "test"}
                       for p in pairs if p["language"] == language
                       and doctext.token_count(p["query"]) >= miner.MIN_QUERY_TOKENS])
        test, train = [r for r in rows if r["_test"]][:test_size], [r for r in rows if not r["_test"]]
        if not test:
            raise BenchmarkError(f"no {language} test pairs in {', '.join(Path(f).name for f in files)}: nothing to "
                                 f"evaluate on; add the {language} test file (e.g. {language}_test_0.jsonl.gz, or "
                                 "the parquet rows with split_name 'test')")
        for r in rows:
            del r["_test"]
        per_language[language] = (test, train)
        languages[language] = {"kind": "codesearchnet", "counts": {"unique": len(rows), "test": len(test),
                                                                   "train": len(train)}}
    manifest = {"format": FORMAT, "seed": seed, "test_size": test_size, "languages": languages,
                "sources": [{"file": Path(f).name, "sha256": sha256_file(Path(f))} for f in files],
                "filters": {"min_query_tokens": miner.MIN_QUERY_TOKENS, "dedupe": "normalized code and query"}}
    return write(manifest, per_language, bench_root)
