"""BEIR / MTEB-style benchmarks: import (pinned by content), export, and every retrieval run on them scored with
several graded relevant documents per query, as pytrec_eval scores the same ranking."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from backend import significance
from backend.__main__ import main
from backend.bench import beir, dataset
from backend.config import settings
from backend.runs.lifecycle import launch
from tests.conftest import make_tiny_model2vec, synthetic_bench

EXAMPLE = Path(__file__).parent / "data" / "beir" / "python-graded"


@pytest.fixture
def bench_dir(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_BENCH_DIR", str(tmp_path / "benchmarks"))
    settings.cache_clear()
    return settings().bench_dir


def _texts(folder: Path) -> list[str]:
    return [json.loads(line)["text"] for name in ("corpus.jsonl", "queries.jsonl")
            for line in (folder / name).read_text().splitlines()]


def test_import_pins_by_content_and_lists(bench_dir, capsys):
    assert main(["bench", "import", str(EXAMPLE), "--language", "python", "--name", "Tiny graded"]) == 0
    bench_id = capsys.readouterr().out.strip().splitlines()[-1]
    assert bench_id.startswith("beir-tiny-graded-")
    path, notes = beir.import_folder(EXAMPLE, bench_dir, "python", "Tiny graded")
    assert path.name == bench_id and "exists already" in notes[-1]  # same content, same id
    assert main(["bench", "list"]) == 0
    assert f"{bench_id} (imported: Tiny graded, test split) python:4/2" in capsys.readouterr().out
    bench = dataset.load(bench_id, bench_dir)
    assert bench.graded and bench.qrels("python")["q1"] == {"d1": 2, "d2": 1, "d3": 0}
    assert [q["id"] for q in bench.queries("python")] == ["q1", "q2", "q3", "q4"]
    assert len(bench.pairs("python", "train")) == 2 and len(bench.eval_corpus("python")) == 10


def test_bad_folders_are_refused_with_the_fix(bench_dir, tmp_path):
    with pytest.raises(dataset.BenchmarkError, match="pass --language for records without one"):
        beir.import_folder(EXAMPLE, bench_dir)
    broken = shutil.copytree(EXAMPLE, tmp_path / "b")
    (broken / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tnope\t1\n")
    with pytest.raises(dataset.BenchmarkError, match="corpus id 'nope' is not in corpus.jsonl"):
        beir.import_folder(broken, bench_dir, "python")
    assert not list(Path(bench_dir).glob("beir-*"))  # nothing half written


def _pytrec_eval_of(model_dir: Path, bench) -> dict:
    """pytrec_eval on the run our encoder's exact scores make: every document of the language, per query."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    from backend.retrieval.encoders import load_encoder
    from backend.retrieval.metrics import normalize
    encoder = load_encoder(str(model_dir), settings().cache_dir)
    docs, queries = bench.eval_corpus("python"), bench.queries("python")
    scores = normalize(encoder.encode([q["text"] for q in queries], 8)) @ normalize(
        encoder.encode([d["text"] for d in docs], 8)).T
    run = {q["id"]: {d["id"]: float(scores[i, j]) for j, d in enumerate(docs)} for i, q in enumerate(queries)}
    qrels = {q["id"]: bench.qrels("python")[q["id"]] for q in queries}
    return pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank", "recall.5", "map", "P.5"}).evaluate(run)


def test_model_runs_on_an_imported_benchmark_score_as_pytrec_eval_with_significance(bench_dir, store, tmp_path):
    bench_path, _ = beir.import_folder(EXAMPLE, bench_dir, "python")
    bench = dataset.load(bench_path.name, bench_dir)
    models = [make_tiny_model2vec(tmp_path / f"m{seed}", _texts(EXAMPLE), seed=seed) for seed in (0, 1)]
    ids = []
    for model in models:
        [record] = launch("eval", {"model": str(model), "bench": bench_path.name}, store, settings())
        ids.append(record.run_id)
        assert record.protocol == "full" and len(record.relevant) == 7  # every judged document with grade > 0
        theirs = _pytrec_eval_of(model, bench)
        stored = {m["metric"]: m["value"] for m in record.metrics}
        for ours, key in (("ndcg@10", "ndcg_cut_10"), ("mrr", "recip_rank"), ("recall@5", "recall_5"), ("map", "map"),
                          ("p@5", "P_5")):
            assert stored[ours] == pytest.approx(np.mean([v[key] for v in theirs.values()]), abs=1e-9), ours
    table = significance.stored_deltas(store, ids[0], [ids[1]], significance.Resampling(resamples=200))
    ndcg = table[table["metric"] == "ndcg@10"].iloc[0]
    assert ndcg["n_pairs"] == 4 and not np.isnan(ndcg["p_value"])  # per-query values from the relevant ranks
    moves, counts = significance.query_moves(store.query_results(ids[0]), store.query_results(ids[1]))
    assert len(moves) == 4 and counts[["win", "tie", "loss"]].sum(axis=1).iloc[0] == 4


def test_export_of_a_mined_benchmark_scores_the_same_once_imported(bench_dir, store, tmp_path, monkeypatch):
    mined = synthetic_bench(monkeypatch, bench_dir, ("python", "java"))
    out = tmp_path / "export"
    assert main(["bench", "export", mined.name, str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["java", "python"]
    imported, _ = beir.import_folder(out, bench_dir)  # a folder of per-language folders: one benchmark
    assert dataset.load(imported.name, bench_dir).languages == ["python", "java"]
    texts = [p[k] for lang in ("python", "java") for split in ("test", "train")
             for p in dataset.load(mined.name, bench_dir).pairs(lang, split) for k in ("query", "code")]
    model = make_tiny_model2vec(tmp_path / "m", texts)
    one_gold = launch("eval", {"model": str(model), "bench": mined.name}, store, settings())[0]
    [graded_run] = launch("eval", {"model": str(model), "bench": imported.name}, store, settings())
    want = {(m["language"], m["metric"]): m["value"] for m in one_gold.metrics}
    for m in graded_run.metrics:  # the same ranking, scored through the graded path: the very same numbers
        if (m["language"], m["metric"]) in want:
            assert m["value"] == pytest.approx(want[(m["language"], m["metric"])], abs=1e-12), m


def _scores_as_trec(model_dir: Path, bench, path: Path, skip: str = "") -> Path:
    """Our encoder's exact scores of every document as a TREC run file, with a field after the run tag."""
    from backend.retrieval.encoders import load_encoder
    from backend.retrieval.metrics import normalize
    encoder = load_encoder(str(model_dir), settings().cache_dir)
    lines = []
    for lang in bench.languages:
        docs, queries = bench.eval_corpus(lang), bench.queries(lang)
        scores = normalize(encoder.encode([q["text"] for q in queries], 8)) @ normalize(
            encoder.encode([d["text"] for d in docs], 8)).T
        lines += [f"{q['id']} Q0 {d['id']} 0 {float(scores[i, j])!r} tiny extra-field"
                  for i, q in enumerate(queries) if q["id"] != skip for j, d in enumerate(docs)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_trec_run_file_becomes_a_run_scored_as_the_same_ranking_made_here(bench_dir, store, tmp_path, capsys):
    bench_path, _ = beir.import_folder(EXAMPLE, bench_dir, "python")
    bench = dataset.load(bench_path.name, bench_dir)
    model = make_tiny_model2vec(tmp_path / "m", _texts(EXAMPLE))
    [made_here] = launch("eval", {"model": str(model), "bench": bench.id}, store, settings())
    run_file = _scores_as_trec(model, bench, tmp_path / "tiny.trec")
    assert main(["import", str(run_file), "--bench", bench.id, "--run-id", "trec-tiny"]) == 0
    runs = store.runs().set_index("run_id")
    assert runs.loc["trec-tiny", "benchmark"] == bench.id and np.isnan(runs.loc["trec-tiny", "disk_mb"])  # unknown
    table = significance.stored_deltas(store, made_here.run_id, ["trec-tiny"], significance.Resampling(resamples=200))
    assert (table["delta"].abs() < 1e-12).all() and (table["n_pairs"] == 4).all()  # same ranking, same per query
    partial = _scores_as_trec(model, bench, tmp_path / "partial.trec", skip="q2")
    assert main(["import", str(partial), "--bench", bench.id, "--run-id", "trec-partial"]) == 0
    assert "python: 1 of 4 benchmark queries are not in the run; they score 0" in capsys.readouterr().out
    per_query = significance.stored_values(store, ["trec-partial", made_here.run_id])
    ndcg = per_query[per_query["metric"] == "ndcg@10"].pivot(index="item_id", columns="run_id", values="value")
    assert ndcg.loc["q2", "trec-partial"] == 0 and (ndcg.drop("q2")["trec-partial"] == ndcg.drop("q2")[made_here.run_id]).all()


def test_a_trec_run_against_a_mined_benchmark_equals_the_model_run(bench_dir, store, tmp_path, monkeypatch):
    mined = synthetic_bench(monkeypatch, bench_dir, ("python",))
    bench = dataset.load(mined.name, bench_dir)
    model = make_tiny_model2vec(tmp_path / "m", [p[k] for s in ("test", "train") for p in bench.pairs("python", s)
                                                 for k in ("query", "code")])
    made_here = launch("eval", {"model": str(model), "bench": mined.name}, store, settings())[0]
    assert main(["import", str(_scores_as_trec(model, bench, tmp_path / "r.trec")), "--bench", mined.name]) == 0
    trec_id = next(r for r in store.runs()["run_id"] if r.startswith("trec--"))
    table = significance.stored_deltas(store, made_here.run_id, [trec_id], significance.Resampling(resamples=200))
    shared = table[table["metric"].isin(["ndcg@10", "mrr", "recall@1", "recall@5", "recall@10", "mrr@10"])]
    assert len(shared) == 6 and (shared["delta"].abs() < 1e-12).all() and (shared["n_pairs"] == 20).all()


def test_bm25_runs_on_both_kinds_of_benchmark(bench_dir, store, monkeypatch, capsys):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    import bm25s
    bench_path, _ = beir.import_folder(EXAMPLE, bench_dir, "python")
    bench = dataset.load(bench_path.name, bench_dir)
    assert main(["launch", "bm25", "--bench", bench.id, "--run-id", "bm25-tiny"]) == 0
    runs = store.runs().set_index("run_id")
    assert runs.loc["bm25-tiny", "kind"] == "bm25" and runs.loc["bm25-tiny", "disk_mb"] > 0  # the saved index
    # pytrec_eval on bm25s's own scores of every document
    docs, queries = bench.eval_corpus("python"), bench.queries("python")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([d["text"] for d in docs], stopwords="en", show_progress=False), show_progress=False)
    run = {q["id"]: {d["id"]: float(s) for d, s in zip(docs, retriever.get_scores(t))}
           for q, t in zip(queries, bm25s.tokenize([q["text"] for q in queries], stopwords="en", show_progress=False,
                                                    return_ids=False))}
    theirs = pytrec_eval.RelevanceEvaluator(bench.qrels("python"), {"ndcg_cut.10", "map"}).evaluate(run)
    stored = {m: v for (r, _, m), v in {(x.run_id, x.language, x.metric): x.value
                                        for x in store.metrics().itertuples()}.items() if r == "bm25-tiny"}
    assert stored["ndcg@10"] == pytest.approx(np.mean([v["ndcg_cut_10"] for v in theirs.values()]), abs=1e-12)
    assert stored["map"] == pytest.approx(np.mean([v["map"] for v in theirs.values()]), abs=1e-12)
    mined = synthetic_bench(monkeypatch, bench_dir, ("python",))
    assert main(["launch", "bm25", "--bench", mined.name, "--run-id", "bm25-mined"]) == 0
    rows = store.query_results("bm25-mined")
    assert len(rows) == 20 and rows["gold_rank"].min() >= 1  # gold ranks, as model runs on a mined benchmark


def test_live_search_corpus_of_an_imported_benchmark_marks_gold_documents(bench_dir):
    from backend.retrieval import search
    bench_path, _ = beir.import_folder(EXAMPLE, bench_dir, "python")
    corpus = search.corpus_from_benchmark(dataset.load(bench_path.name, bench_dir), "python")
    assert len(corpus.docs) == 10  # the whole corpus, train-only documents included
    gold = {d["id"]: d["query"] for d in corpus.docs if d.get("query")}
    assert gold == {"d1": "read a json file", "d4": "average of a list of numbers", "d9": "download a web page",
                    "d7": "check whether a number is prime"}  # each evaluation query's best-graded document


def test_a_trec_run_imported_without_a_benchmark_says_how(store, capsys):
    assert main(["import", str(Path(__file__).parent / "data" / "trec" / "ranx-run.txt")]) == 1
    assert "looks like a TREC run file: import it against a benchmark with --bench ID" in capsys.readouterr().err


def test_an_imported_benchmark_exports_and_reimports_to_the_same_evaluation_data(bench_dir, tmp_path):
    first, _ = beir.import_folder(EXAMPLE, bench_dir, "python")
    written = beir.export(dataset.load(first.name, bench_dir), tmp_path / "out")
    assert [p.name for p in written] == ["python"]
    again, _ = beir.import_folder(tmp_path / "out", bench_dir)  # language from the records (and the folder name)
    a, b = dataset.load(first.name, bench_dir), dataset.load(again.name, bench_dir)
    assert a.qrels("python") == b.qrels("python") and a.queries("python") == b.queries("python")
    assert a.eval_corpus("python") == b.eval_corpus("python")


def test_importing_a_benchmark_does_not_change_the_default_one(bench_dir, monkeypatch):
    mined = synthetic_bench(monkeypatch, bench_dir, ("python",))
    beir.import_folder(EXAMPLE, bench_dir, "python")  # newer than the mined one
    assert dataset.load(None, bench_dir).id == mined.name
