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

    @property
    def graded(self) -> bool:
        """An imported BEIR-style benchmark (qrels: graded, any number of relevant documents per query), as
        opposed to a mined one (one gold document per query: its own code)."""
        return self.manifest.get("format") == "beir"

    def pairs(self, language: str, split: str = "test") -> list[dict]:
        """(query, code) pairs: a mined benchmark's rows; for a BEIR benchmark, each judged (query, document with
        score > 0) of the split (``test``: the evaluation split), id ``<query-id>`` for test, the pair for train."""
        self._check(language)
        if not self.graded:
            return read_jsonl(self.path / f"{language}.{split}.jsonl")
        queries, corpus = self._records("queries.jsonl"), self._records("corpus.jsonl")
        out = []
        for qid, judged in self._qrels(self.manifest["eval_split"] if split == "test" else split).items():
            if queries[qid]["language"] != language:
                continue
            relevant = sorted(((g, d) for d, g in judged.items() if g > 0), key=lambda x: (-x[0], x[1]))
            for rank, (_, did) in enumerate(relevant if split != "test" else relevant[:1]):
                doc = corpus[did]
                out.append({"id": qid if split == "test" else f"{qid}::{did}", "query": queries[qid]["text"],
                            "code": _doc_text(doc), "func_name": doc["title"] or did, "path": did, "gold": did})
        return out

    def queries(self, language: str) -> list[dict]:
        """The evaluation queries of a language ({id, text}): those with a judged document of score > 0."""
        self._check(language)
        if not self.graded:
            return [{"id": p["id"], "text": p["query"]} for p in self.pairs(language, "test")]
        queries, judged = self._records("queries.jsonl"), self.qrels(language)
        return [{"id": q, "text": queries[q]["text"]} for q in sorted(judged) if any(g > 0 for g in judged[q].values())]

    def qrels(self, language: str) -> dict[str, dict[str, int]]:
        """Every judgment of the evaluation split for the language's queries (0: judged non-relevant)."""
        self._check(language)
        if not self.graded:
            return {p["id"]: {p["id"]: 1} for p in self.pairs(language, "test")}
        queries = self._records("queries.jsonl")
        return {q: dict(docs) for q, docs in self._qrels(self.manifest["eval_split"]).items()
                if queries[q]["language"] == language}

    def eval_corpus(self, language: str) -> list[dict]:
        """What the ``full`` protocol ranks a query against ({id, title, body, text}: text is what is encoded, the
        title and the body): every document of its language (a mined benchmark: its test documents)."""
        self._check(language)
        if not self.graded:
            return [{"id": p["id"], "title": "", "body": p["code"], "text": p["code"]}
                    for p in self.pairs(language, "test")]
        return [{"id": d["_id"], "title": d["title"], "body": d["text"], "text": _doc_text(d)}
                for d in self._records("corpus.jsonl").values() if d["language"] == language]

    def documents(self, language: str) -> list[dict]:
        """Documents for live search ({id, language, func_name, path, code}; + query where a benchmark query
        has it as its gold): a mined benchmark's test and train pairs, a BEIR benchmark's corpus."""
        if not self.graded:
            return [p for split in ("test", "train") for p in self.pairs(language, split)]
        gold = {p["gold"]: p["query"] for p in self.pairs(language, "test")}
        return [{"id": d["id"], "language": language, "func_name": d["title"] or d["id"], "path": d["id"],
                 "code": d["text"], **({"query": gold[d["id"]]} if d["id"] in gold else {})}
                for d in self.eval_corpus(language)]

    def _check(self, language: str):
        check_language(language)
        if language not in self.manifest["languages"]:
            raise BenchmarkError(f"benchmark {self.id} has no {language}; it has {', '.join(self.languages)}")

    def _records(self, name: str) -> dict[str, dict]:
        cache = self.__dict__.setdefault("_cache", {})
        if name not in cache:
            cache[name] = {r["_id"]: r for r in read_jsonl(self.path / name)}
        return cache[name]

    def _qrels(self, split: str) -> dict[str, dict[str, int]]:
        cache = self.__dict__.setdefault("_cache", {})
        key = f"qrels/{split}"
        if key not in cache:
            path = self.path / "qrels" / f"{split}.tsv"
            judged: dict[str, dict[str, int]] = {}
            if path.is_file():
                for line in path.read_text(encoding="utf-8").splitlines()[1:]:
                    q, d, g = line.split("\t")
                    judged.setdefault(q, {})[d] = int(g)
            cache[key] = judged
        return cache[key]


def _doc_text(doc: dict) -> str:
    """A BEIR document's text as BEIR encodes it: the title, a space, the text (the text alone without title)."""
    return f"{doc['title']} {doc['text']}" if doc.get("title") else doc["text"]


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
    """A benchmark by id or folder; None picks the most recently built (mined) one, or the most recently
    imported one when none was built: importing a BEIR folder does not change what runs, recipes and sweeps
    launched without --bench evaluate on."""
    if ref is None:
        built = manifests(bench_dir)
        if not built:
            raise BenchmarkError(f"no benchmark in {bench_dir}; build one: python -m backend bench build")
        mined = [p for p in built if json.loads(p.read_text()).get("format") != "beir"]
        path = (mined or built)[-1].parent
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
