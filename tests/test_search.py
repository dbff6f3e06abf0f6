"""Live search with a tiny local Model2Vec model on a small synthetic benchmark: backend, CLI and page."""
import json

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

    def encode(self, texts, batch_size=64):
        self.calls += len(texts)
        return self.inner.encode(texts, batch_size)


def test_search_finds_the_matching_function_and_caches_the_index(env, runs_dir):
    corpus = search.corpus_from_benchmark(env["bench"], "python")
    assert len(corpus.docs) == 100
    encoder = CountingEncoder(load_encoder(env["model"], settings().cache_dir))
    index = search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index")
    assert index.kind == "flat" and not index.reused and encoder.calls == 100
    result = search.search(encoder, index, corpus, "parse the date quickly and return it", k=5)
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
    assert result.hits[0].doc["func_name"] == "parse_date"  # exact word overlap wins with a bag of words
    assert result.encode_ms >= 0 and result.search_ms >= 0
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    again = search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index")
    assert again.reused and encoder.calls == 100 + 1  # only the query was encoded, not the corpus


def test_two_sessions_building_the_same_index_encode_the_corpus_once(env, runs_dir):
    import threading
    import time
    corpus = search.corpus_from_benchmark(env["bench"], "python")

    class SlowEncoder(CountingEncoder):
        def encode(self, texts, batch_size=64):
            time.sleep(0.5)  # long enough that the second session asks while the first is still encoding
            return super().encode(texts, batch_size)

    encoder, results = SlowEncoder(load_encoder(env["model"], settings().cache_dir)), []
    threads = [threading.Thread(target=lambda: results.append(
        search.load_or_build_index(encoder, env["model"], corpus, runs_dir / ".index"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert encoder.calls == 100 and sorted(r.reused for r in results) == [False, True]
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


def _page():
    return AppTest.from_file(str(REPO_ROOT / "pages" / "search.py"), default_timeout=60)


def test_page_benchmark_query_marks_gold_in_both_columns(env):
    at = _page().run()
    assert not at.exception
    at.selectbox[0].set_value("tiny · eval--tiny")
    at.selectbox[1].set_value("tiny · eval--tiny")
    at.selectbox[2].set_value("python").run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    gold_lines = [m.value for m in at.markdown if m.value.startswith("**Gold document rank")]
    assert len(gold_lines) == 2
    assert any("Jaccard 1.00" in c.value for c in at.caption)


def test_page_second_load_reuses_the_saved_index(env):
    at = _page().run()
    at.selectbox[2].set_value("go").run()
    at.text_input[0].input("hash the token").run()
    assert not at.exception and not at.error
    # a new session with an empty in-memory cache: the index must come from runs/.index, not re-encoding
    import streamlit as st
    st.cache_resource.clear()
    again = _page().run()
    again.selectbox[2].set_value("go").run()
    again.text_input[0].input("hash the token").run()
    assert any("cached index" in c.value for c in again.caption)


@pytest.mark.parametrize("query, message", [("x" * 100_000, "100,000 characters"), ("", "Type a query")])
def test_page_bad_queries(env, query, message):
    at = _page().run()
    at.selectbox[2].set_value("go").run()
    at.text_input[0].input(query).run()
    assert not at.exception
    assert any(message in e.value for e in [*at.error, *at.info])


def test_page_folder_without_sources_and_deleted_models(env, tmp_path):
    import shutil
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "data.py").write_bytes(b"\x00binary\x00" * 50)
    at = _page().run()
    at.selectbox[2].set_value("a source folder…").run()
    at.text_input[0].input(str(tmp_path / "junk")).run()
    assert not at.exception and "no documented python functions" in at.error[0].value
    shutil.rmtree(env["model"])
    at = _page().run()
    assert not at.exception
    assert any("no model files" in c.value for c in at.caption)
