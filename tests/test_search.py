"""Live search with a tiny local Model2Vec model on a small synthetic benchmark: backend, CLI and page."""
import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from backend import catalog
from backend.__main__ import main
from backend.bench import dataset
from backend.config import REPO_ROOT, settings
from backend.retrieval import search
from backend.retrieval.encoders import load_encoder
from tests.conftest import make_tiny_model2vec, synthetic_bench
from tests.test_bench import MINE

VERBS = ["read", "parse", "sort", "merge", "count", "split", "format", "encode", "hash", "compress"]
NOUNS = ["file", "date", "list", "map", "string", "number", "token", "header", "path", "buffer"]


def _pairs(language):
    return [{"language": language, "func_name": f"{v}_{n}", "path": f"src/{v}.x", "line": 1,
             "query": f"{v} the {n} quickly and return it", "code": f"def {v}_{n}(x):\n    y = {v}({n})\n    return y"}
            for v in VERBS for n in NOUNS]


@pytest.fixture
def env(runs_dir, tmp_path, monkeypatch):
    """A 2-language benchmark of 100 pairs each, a tiny model saved as a run's model, imported."""
    bench = synthetic_bench(monkeypatch, tmp_path / "benchmarks", ("python", "go"))
    texts = [p["query"] + " " + p["code"] for p in _pairs("python")]
    model = make_tiny_model2vec(tmp_path / "tiny-model", texts)
    run = {"schema_version": 1, "run_id": "eval--tiny", "kind": "eval", "name": "tiny", "model": str(model),
           "benchmark": bench.name, "protocol": "full", "metrics": [{"language": "go", "metric": "mrr", "value": 0.5}]}
    (tmp_path / "run.json").write_text(json.dumps(run))
    catalog.import_paths([tmp_path / "run.json"], store=catalog.default_store(settings()))
    return {"bench": dataset.load(bench.name, settings().bench_dir), "model": str(model), "tmp": tmp_path}


class CountingEncoder:
    def __init__(self, encoder):
        self.inner, self.calls, self.path = encoder, 0, encoder.path

    def encode(self, texts, batch_size=64, **kw):
        self.calls += len(texts)
        return self.inner.encode(texts, batch_size, **kw)


def test_search_finds_the_matching_function_and_caches_the_index(env, runs_dir):
    corpus = search.corpus_from_benchmark(env["bench"], "python")
    assert len(corpus.docs) == 100
    encoder = CountingEncoder(load_encoder(env["model"], settings().cache_dir))
    index = search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index")
    # the corpus, then the benchmark queries that calibrate a weak best score (100 here: all of them)
    assert index.kind == "flat" and not index.reused and encoder.calls == 100 + 100
    assert index.calibration["queries"] == 100 and 0 < index.calibration["p5"] <= index.calibration["p50"] <= 1
    result = search.search(encoder, index, corpus, "parse the date quickly and return it", k=5)
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
    assert result.hits[0].doc["func_name"] == "parse_date"  # exact word overlap wins with a bag of words
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    again = search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index")
    assert again.reused and encoder.calls == 200 + 1  # only the query was encoded, not the corpus
    assert again.calibration == index.calibration


def test_search_reports_encoding_and_searching_time_apart(env, runs_dir, monkeypatch):
    """The page's "encode X ms · search Y ms": the query's encoding and the index search, each timed on its own
    (a clock that reads 1.0 s, 1.5 s, 1.75 s makes them 500 ms and 250 ms, not swapped, not summed)."""
    import types
    corpus = search.corpus_from_benchmark(env["bench"], "python")
    encoder = load_encoder(env["model"], settings().cache_dir)
    index = search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index")
    ticks = iter([1.0, 1.5, 1.75])
    monkeypatch.setattr(search, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    result = search.search(encoder, index, corpus, "parse the date", k=3)
    assert (result.encode_ms, result.search_ms) == (500.0, 250.0)


def test_two_sessions_building_the_same_index_encode_the_corpus_once(env, runs_dir):
    import threading
    import time
    corpus = search.corpus_from_benchmark(env["bench"], "python")

    class SlowEncoder(CountingEncoder):
        def encode(self, texts, batch_size=64, **kw):
            time.sleep(0.5)  # long enough that the second session asks while the first is still encoding
            return super().encode(texts, batch_size, **kw)

    encoder, results = SlowEncoder(load_encoder(env["model"], settings().cache_dir)), []
    threads = [threading.Thread(target=lambda: results.append(
        search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert encoder.calls == 100 + 100 and sorted(r.reused for r in results) == [False, True]
    assert {r.size for r in results} == {100}


def test_approximate_index_above_threshold_reports_recall(env, runs_dir):
    corpus = search.corpus_from_benchmark(env["bench"])  # 200 documents
    encoder = load_encoder(env["model"], settings().cache_dir)
    index = search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index", approx_threshold=50)
    assert index.kind == "hnsw" and 0.9 <= index.recall_at_10 <= 1.0


def test_bad_search_input(env, tmp_path):
    with pytest.raises(search.SearchError, match="type a query"):
        search.check_query("   ")
    with pytest.raises(search.SearchError, match="100,000 characters"):
        search.check_query("x" * 100_000)
    binary = tmp_path / "bin"
    binary.mkdir()
    (binary / "blob.py").write_bytes(b"\x00\x01\x02" * 100)
    (binary / "notes.txt").write_text("def f(): pass")
    with pytest.raises(search.SearchError, match="no documented python functions"):
        search.corpus_from_dir(str(binary), "python")
    with pytest.raises(search.SearchError, match="not a folder"):
        search.corpus_from_dir(str(tmp_path / "missing"), "python")
    with pytest.raises(search.SearchError, match="no model files"):
        search.model_ref({"run_id": "r", "model": str(tmp_path / "deleted"), "config": "{}"})
    with pytest.raises(search.SearchError, match="no model files"):  # a student's config names its teacher
        search.model_ref({"run_id": "s", "kind": "m2v-distill", "model": str(tmp_path / "deleted"),
                          "config": '{"model": "minilm"}'})
    assert search.model_ref({"run_id": "t", "kind": "teacher-eval", "config": '{"model": "minilm"}'}) == "minilm"


def test_corpus_from_a_folder_uses_the_miner():
    corpus = search.corpus_from_dir(str(MINE), "python")
    assert {d["func_name"] for d in corpus.docs} == {"add_numbers", "scale"}


def test_overlap_measures():
    assert search.jaccard([1, 2], [2, 3]) == pytest.approx(1 / 3)
    assert search.rank_biased_overlap([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert search.rank_biased_overlap([1, 2, 3], [4, 5, 6]) == 0.0
    assert search.rank_biased_overlap([1, 2, 3], [3, 2, 1]) == pytest.approx(0.855)


def test_cli_search_prints_both_lists(env, capsys):
    assert main(["search", "--run", "eval--tiny", "--run", "eval--tiny", "--corpus", "go", "-k", "3",
                 "sort the list quickly"]) == 0
    out = capsys.readouterr().out
    assert out.count("== eval--tiny") == 2 and "sort_list" in out and "Jaccard 1.00" in out


@pytest.fixture(autouse=True)
def inline_worker(request, monkeypatch):
    """The page's index worker, in this process and at once (the fast tier starts no process): the very command
    the worker runs, ``search-index``, then this process's pid as the worker's. Integration tests start the
    real worker (mark ``real_worker``)."""
    from backend.retrieval import indexes
    if request.node.get_closest_marker("integration"):
        return
    started = []

    def run_inline(ref, spec, folder, runs_dir, db_path, device):
        started.append((ref, spec))
        assert main(["--runs-dir", str(runs_dir), "--db", str(db_path), "search-index", "--model", ref, "--quiet",
                     *spec.args()]) == 0
        import os
        return os.getpid()
    monkeypatch.setattr(indexes, "spawn_worker", run_inline)
    return started


def _page():
    return BuiltPage(AppTest.from_file(str(REPO_ROOT / "pages" / "search.py"), default_timeout=60))


class BuiltPage:
    """The Search page under AppTest, rerun while a worker builds an index (the browser's fragment refreshes
    itself each second; AppTest does not run fragments on a timer)."""

    def __init__(self, at):
        self.at = at

    def run(self):
        self.at.run()
        for _ in range(300):
            if not any("in a worker process" in p.proto.text for p in self.at.get("progress")):
                break
            time.sleep(0.1)
            self.at.run()
        return self

    def __getattr__(self, name):
        return getattr(self.at, name)


def test_page_benchmark_query_marks_gold_in_both_columns(env):
    at = _page().run()
    assert not at.exception
    at.selectbox[0].set_value("tiny · eval--tiny")
    at.selectbox[1].set_value("tiny · eval--tiny")
    at.selectbox[2].set_value("python")
    at.run()
    at.button[0].click()
    at.run()
    assert not at.exception and not at.error
    gold_lines = [m.value for m in at.markdown if m.value.startswith("**Gold document rank")]
    assert len(gold_lines) == 2
    assert any("by document" in c.value and "10 of the top 10 in both lists · Jaccard 1.00" in c.value
               for c in at.caption), [c.value for c in at.caption]


@pytest.mark.integration
def test_page_second_load_reuses_the_saved_index(env):
    at = _page().run()
    at.selectbox[2].set_value("go")
    at.run()
    at.text_input[0].input("hash the token")
    at.run()
    assert not at.exception and not at.error
    # a new session with an empty in-memory cache: the index must come from runs/.index, not re-encoding
    import streamlit as st
    st.cache_resource.clear()
    again = _page().run()
    again.selectbox[2].set_value("go")
    again.run()
    again.text_input[0].input("hash the token")
    again.run()
    assert any("cached index" in c.value for c in again.caption)


@pytest.mark.parametrize("query, message", [("x" * 100_000, "100,000 characters"), ("", "Type a query")])
def test_page_bad_queries(env, query, message):
    at = _page().run()
    at.selectbox[2].set_value("go")
    at.run()
    at.text_input[0].input(query)
    at.run()
    assert not at.exception
    assert any(message in e.value for e in [*at.error, *at.info])


def test_page_folder_without_sources_and_deleted_models(env, tmp_path):
    import shutil
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "data.py").write_bytes(b"\x00binary\x00" * 50)
    at = _page().run()
    at.selectbox[2].set_value("a source folder…")
    at.run()
    at.text_input[0].input(str(tmp_path / "junk"))
    at.run()
    assert not at.exception and "no documented python functions" in at.error[0].value
    shutil.rmtree(env["model"])
    at = _page().run()
    assert not at.exception
    assert any("no model files" in c.value for c in at.caption)


def test_indexes_start_one_worker_and_show_its_progress_while_open_ones_answer(env, runs_dir):
    """The server never encodes a corpus: asking for an index not on disk starts one worker (once, however often
    it is asked), shows the progress the worker writes, and opens the index the worker saved."""
    from backend.progress import Reporter
    from backend.retrieval.indexes import Build, Indexes
    import os
    python, both = search.corpus_from_benchmark(env["bench"], "python"), search.corpus_from_benchmark(env["bench"])
    encoder = load_encoder(env["model"], settings().cache_dir)
    search.load_or_build_index(encoder, env["model"], both, runs_dir / ".index")
    started = []
    indexes = Indexes(runs_dir / ".index", 2**30, settings().cache_dir)
    start = lambda ref, folder: started.append(folder) or os.getpid()  # noqa: E731 - a live "worker"
    building = indexes.get(env["model"], python, start)
    assert isinstance(building, Build) and building.message().endswith("starting a worker")
    assert isinstance(indexes.get(env["model"], python, start), Build) and len(started) == 1  # not a second
    Reporter(started[0] / "progress.json", echo=False)(0.4, "encoding: 40/100 documents")
    progress = indexes.get(env["model"], python, start)
    assert (progress.fraction(), progress.message()) == (0.4, "encoding: 40/100 documents") and len(started) == 1
    open_both = indexes.get(env["model"], both, start)  # another corpus answers while python is being built
    assert search.search(encoder, open_both, both, "parse the date quickly and return it").hits[0].doc["func_name"] == "parse_date"
    assert search.load_or_build_index(encoder, env["model"], python, runs_dir / ".index").size == 100  # the worker
    index = indexes.get(env["model"], python, start)
    assert isinstance(index, search.SearchIndex) and index.size == 100 and len(started) == 1
    assert started[0] == search.index_folder(runs_dir / ".index", env["model"], python.id, settings().cache_dir)


def test_a_failed_worker_is_reported_once_then_retried(env, runs_dir, monkeypatch):
    from backend import processes
    from backend.retrieval.indexes import LOG, Indexes
    corpus = search.corpus_from_benchmark(env["bench"], "go")
    indexes, started = Indexes(runs_dir / ".index", 2**30, settings().cache_dir), []

    def crashing(ref, folder):
        (folder / LOG).write_text("loading\nerror: out of memory\n")
        started.append(folder)
        return 4242
    monkeypatch.setattr(processes, "alive", lambda pid: False)
    indexes.get(env["model"], corpus, crashing)
    failed = indexes.get(env["model"], corpus, crashing)
    assert failed.error == "error: out of memory" and len(started) == 1  # said once ...
    assert indexes.get(env["model"], corpus, crashing).error is None and len(started) == 2  # ... then tried again


def test_open_indexes_stay_within_their_memory_least_recently_used_closed_first(env, runs_dir):
    from backend.retrieval.indexes import Indexes
    encoder = load_encoder(env["model"], settings().cache_dir)
    corpora = [search.corpus_from_benchmark(env["bench"], lang) for lang in ("python", "go")]
    corpora.append(search.corpus_from_benchmark(env["bench"]))
    built = [search.load_or_build_index(encoder, env["model"], c, runs_dir / ".index") for c in corpora]
    assert [b.nbytes for b in built] == [100 * 16 * 4, 100 * 16 * 4, 200 * 16 * 4]  # 16-d float32 vectors
    hnsw = search.load_or_build_index(encoder, env["model"], corpora[2], runs_dir / "hnsw", approx_threshold=50)
    assert hnsw.nbytes == 200 * (16 * 4 + 2 * 48 * 4)  # and 2M int32 level-0 links per vector (M = 48)
    indexes = Indexes(runs_dir / ".index", max_bytes=3 * 100 * 16 * 4, model_cache=settings().cache_dir)
    python, go, both = ((name, c.id) for name, c in zip(("model a", "model b", "model c"), corpora))
    indexes.put(python, built[0])
    indexes.put(go, built[1])
    assert indexes.get("model a", corpora[0], None) is built[0]  # used last: b is now the least recently used
    indexes.put(both, built[2])
    assert indexes.keys() == [python, both] and indexes.nbytes() <= indexes.max_bytes


def test_vectors_are_stored_once_and_the_gold_rank_is_exact_on_an_approximate_index(env, runs_dir):
    from backend.retrieval.metrics import normalize
    corpus = search.corpus_from_benchmark(env["bench"])  # 200 documents, 100 of them go copies of python code
    encoder = load_encoder(env["model"], settings().cache_dir)
    index = search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index", approx_threshold=50)
    folder = next((runs_dir / ".index").iterdir())
    assert index.kind == "hnsw" and sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        ".lock", "index.faiss", "meta.json"]
    docs = normalize(encoder.encode([d["code"] for d in corpus.docs]))
    assert np.allclose(index.vectors(), docs, atol=1e-6)
    ids = [d["id"] for d in corpus.docs]
    for pair in corpus.docs[::7]:
        result = search.search(encoder, index, corpus, pair["query"])
        scores = docs @ result.query_vector[0]
        gold = ids.index(pair["id"])
        # the evaluation's order: score descending, ties by id descending (trec_eval)
        expected = 1 + sum(1 for i in range(len(ids)) if scores[i] > scores[gold] or
                           (scores[i] == scores[gold] and ids[i].encode() > pair["id"].encode()))
        assert search.gold_rank(index, corpus, result, pair["id"]) == expected
    assert search.gold_rank(index, corpus, result, "not/a/document") is None


def test_a_bm25_run_is_neither_offered_nor_reported_missing_its_model(tmp_path):
    """The first start's BM25 floor has no encoder: Live search said it 'has no model files any more'."""
    import pandas as pd
    runs = pd.DataFrame([{"run_id": "bm25--x", "kind": "bm25", "source": "local", "model": "bm25s-lucene",
                          "config": "{}", "name": "BM25"},
                         {"run_id": "eval--gone", "kind": "eval", "source": "local", "model": str(tmp_path / "gone"),
                          "config": "{}", "name": "gone"}])
    options, problems = search.searchable_models(runs, tmp_path)
    assert not any("bm25" in ref for ref in options.values())
    assert len(problems) == 1 and "eval--gone" in problems[0]
