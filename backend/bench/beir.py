"""Benchmarks in the field's standard format (BEIR, MTEB and CoIR retrieval tasks): import and export.

A dataset folder holds ``corpus.jsonl`` (``{"_id", "title", "text"}``), ``queries.jsonl`` (``{"_id", "text"}``) and
``qrels/<split>.tsv`` (a ``query-id corpus-id score`` header, then one judged pair per line: graded, any number
per query, 0 = judged non-relevant). A record may carry its ``language``; records without one take
``--language``, or the dataset folder's name when it is a language (a folder of such folders, one per language,
is one benchmark). Languages are the six code languages of this dashboard.

``import_folder`` checks everything (ids unique, every qrels id known, scores whole numbers), writes the data
normalised (``language`` on every record) into ``<bench_dir>/<id>/`` with a manifest, and pins it by content: the
id ends in a hash of the normalised files, so the same data always gets the same id. The evaluation split is
``test``, else ``dev``, else ``validation``, else the only one; ``train`` qrels are the training pairs.

``export`` writes any benchmark, mined or imported, as one such folder per language, each exactly what this
dashboard's ``full`` protocol ranks (a query against every document of its language), so BEIR, MTEB or pyserini
score the very same data: a mined benchmark's corpus is its test documents, with ``qrels/test.tsv``."""
from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

from backend.bench.dataset import BenchmarkError, read_jsonl
from backend.vocab import CODE_LANGUAGES

FORMAT = "beir"
EVAL_SPLITS = ("test", "dev", "validation")


def import_folder(src: Path, bench_dir: Path, language: str | None = None, name: str | None = None
                  ) -> tuple[Path, list[str]]:
    """(the benchmark folder, notes) for a BEIR-style folder or a folder of them (one per language)."""
    from backend.bench.sources import publish
    src = Path(src)
    if language is not None and language not in CODE_LANGUAGES:
        raise BenchmarkError(f"--language {language!r} is not one of {', '.join(CODE_LANGUAGES)}")
    datasets = [src] if (src / "corpus.jsonl").is_file() else sorted(
        p for p in src.iterdir() if (p / "corpus.jsonl").is_file()) if src.is_dir() else []
    if not datasets:
        raise BenchmarkError(f"{src} has no corpus.jsonl (nor subfolders with one); a BEIR folder holds corpus.jsonl, "
                             "queries.jsonl and qrels/<split>.tsv")
    corpus, queries, qrels, notes = {}, {}, {}, []
    for folder in datasets:
        default = language or (folder.name if folder.name in CODE_LANGUAGES and folder != src else None)
        _read_dataset(folder, default, corpus, queries, qrels)
    splits = sorted(qrels)
    eval_split = next((s for s in EVAL_SPLITS if s in qrels), None) or (splits[0] if len(splits) == 1 else None)
    if eval_split is None:
        raise BenchmarkError(f"{src}: qrels splits {', '.join(splits) or 'none'}: no test, dev or validation split "
                             "to evaluate on; name the evaluation one qrels/test.tsv")
    if eval_split != "test":
        notes.append(f"{src}: evaluating on the {eval_split!r} qrels split (no test split)")
    languages = sorted({r["language"] for r in queries.values()}, key=CODE_LANGUAGES.index)
    counts = {lang: _counts(lang, corpus, queries, qrels, eval_split) for lang in languages}
    for lang, c in counts.items():
        if c["cross_language"]:
            notes.append(f"{src}: {c['cross_language']} {lang} {eval_split} judgment(s) point to documents of another "
                         "language; they count as relevant but cannot be retrieved (each query ranks its language)")
        if c["unjudged_queries"]:
            notes.append(f"{src}: {c['unjudged_queries']} {lang} quer(ies) have no judgment with score > 0 in any "
                         "qrels split; not used")
    files = _normalised(corpus, queries, qrels)
    digest = hashlib.sha256("".join(f"{k}\0{hashlib.sha256(v.encode()).hexdigest()}\n"
                                    for k, v in sorted(files.items())).encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", (name or src.name).lower()).strip("-")[:40] or "dataset"
    out = Path(bench_dir) / f"beir-{slug}-{digest}"
    if (out / "manifest.json").is_file():
        return out, notes + [f"benchmark {out.name} exists already (the same content)"]
    manifest = {"id": out.name, "format": FORMAT, "name": name or src.name, "eval_split": eval_split,
                "splits": splits, "source": str(src.resolve()),
                "files": {k: hashlib.sha256(v.encode()).hexdigest() for k, v in files.items()},
                "languages": {lang: {"kind": "beir", "counts": {"test": c["eval_queries"], "train": c["train_pairs"],
                                                                "corpus": c["documents"]}}
                              for lang, c in counts.items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    for rel, text in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text, encoding="utf-8")
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    publish(tmp, out)
    return out, notes


def _read_dataset(folder: Path, default: str | None, corpus: dict, queries: dict, qrels: dict):
    for file, into, what in (("corpus.jsonl", corpus, "document"), ("queries.jsonl", queries, "query")):
        path = folder / file
        if not path.is_file():
            raise BenchmarkError(f"{folder} has no {file}")
        for i, row in enumerate(read_jsonl(path), start=1):
            record_id = row.get("_id", row.get("id")) if isinstance(row, dict) else None
            if record_id is None or not isinstance(row.get("text"), str):
                raise BenchmarkError(f"{path}: line {i} needs \"_id\" and \"text\" (BEIR format)")
            record_id = str(record_id)
            if record_id in into:
                raise BenchmarkError(f"{path}: line {i}: {what} id {record_id!r} appears twice; ids must be unique")
            lang = str(row.get("language") or default or "").lower()
            if lang not in CODE_LANGUAGES:
                raise BenchmarkError(f"{path}: line {i}: language {lang or 'missing'!r}; give each record a \"language\" "
                                     f"of {', '.join(CODE_LANGUAGES)}, or pass --language for records without one")
            into[record_id] = {"_id": record_id, "title": str(row.get("title") or ""), "text": row["text"],
                               "language": lang}
    qrels_dir = folder / "qrels"
    if not qrels_dir.is_dir() or not list(qrels_dir.glob("*.tsv")):
        raise BenchmarkError(f"{folder} has no qrels/<split>.tsv (query-id, corpus-id, score)")
    for path in sorted(qrels_dir.glob("*.tsv")):
        split = qrels.setdefault(path.stem, {})
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split("\t") if "\t" in line else line.split()
            if not parts or not line.strip():
                continue
            if i == 1 and not _is_int(parts[-1]):
                continue  # the header: query-id corpus-id score
            if len(parts) != 3 or not _is_int(parts[2]):
                raise BenchmarkError(f"{path}: line {i} must be query-id, corpus-id and a whole-number score")
            qid, did, score = parts[0], parts[1], int(float(parts[2]))
            if qid not in queries or did not in corpus:
                which = f"query id {qid!r} is not in queries.jsonl" if qid not in queries else \
                    f"corpus id {did!r} is not in corpus.jsonl"
                raise BenchmarkError(f"{path}: line {i}: {which}; fix the ids or add the record")
            if did in split.setdefault(qid, {}):
                raise BenchmarkError(f"{path}: line {i}: query {qid} judges document {did} twice")
            split[qid][did] = score


def _is_int(text: str) -> bool:
    try:
        return float(text) == int(float(text))
    except ValueError:
        return False


def _counts(lang, corpus, queries, qrels, eval_split) -> dict:
    judged = {q: docs for q, docs in qrels[eval_split].items() if queries[q]["language"] == lang}
    evaluated = [q for q, docs in judged.items() if any(g > 0 for g in docs.values())]
    return {"documents": sum(d["language"] == lang for d in corpus.values()), "eval_queries": len(evaluated),
            "unjudged_queries": sum(q["language"] == lang and not any(
                g > 0 for split in qrels.values() for g in split.get(qid, {}).values()) for qid, q in queries.items()),
            "cross_language": sum(corpus[d]["language"] != lang for q in evaluated for d, g in judged[q].items() if g > 0),
            "train_pairs": sum(g > 0 and queries[q]["language"] == lang
                               for q, docs in qrels.get("train", {}).items() for g in docs.values())}


def _normalised(corpus: dict, queries: dict, qrels: dict) -> dict[str, str]:
    def lines(records):
        return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for _, r in sorted(records.items()))
    files = {"corpus.jsonl": lines(corpus), "queries.jsonl": lines(queries)}
    for split, judged in qrels.items():
        rows = sorted((q, d, g) for q, docs in judged.items() for d, g in docs.items())
        files[f"qrels/{split}.tsv"] = "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{g}\n" for q, d, g in rows)
    return files


def export(bench, out: Path) -> list[Path]:
    """One BEIR folder per language under ``out`` (``out/<language>/``); returns them."""
    out = Path(out)
    written = []
    for lang in bench.languages:
        folder = out / lang
        (folder / "qrels").mkdir(parents=True, exist_ok=True)
        docs = bench.eval_corpus(lang)
        with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"_id": d["id"], "title": d["title"], "text": d["body"], "language": lang},
                                   ensure_ascii=False) + "\n")
        queries = bench.queries(lang)
        with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
            for q in queries:
                f.write(json.dumps({"_id": q["id"], "text": q["text"], "language": lang}, ensure_ascii=False) + "\n")
        rows = [(q, d, g) for q, judged in bench.qrels(lang).items() for d, g in judged.items()]
        (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                                   + "".join(f"{q}\t{d}\t{g}\n" for q, d, g in rows), encoding="utf-8")
        written.append(folder)
    return written
