"""Hugging Face model-index: a real model card with code-retrieval results imported as a run; our export read
back as the same run; cards in sentence-transformers' spelling; broken cards refused with one line."""
import json

import pytest
import yaml

from backend import catalog, modelindex
from backend.__main__ import main
from backend.importers import ImportFailure, load_path
from tests.conftest import DATA

GRANITE = DATA / "model_cards" / "granite-embedding-125m-english.md"


def test_real_mteb_model_card_becomes_one_run_on_mtebs_benchmark_id():
    [run] = load_path(GRANITE)
    assert run.run_id == "model-card--granite-embedding-125m-english--COIRCodeSearchNetRetrieval"
    assert (run.kind, run.source, run.protocol) == ("external-retrieval", "imported", "mteb")
    assert run.benchmark == "mteb/COIRCodeSearchNetRetrieval@4adc7bc4"  # as the MTEB importer names this task
    values = {(m["language"], m["metric"]): m["value"] for m in run.metrics}
    assert values[("python", "ndcg@10")] == 0.84301 and values[("javascript", "ndcg@10")] == 0.46093
    assert values[("python", "recall@5")] == 0.88765 and values[("javascript", "mrr@10")] == 0.419454
    assert {lang for lang, _ in values} == {"python", "javascript"}
    assert run.provenance["dataset_revision"] == "4adc7bc41202b5c13543c9c886a25f340634dab3"
    assert any("percent" in n for n in run.provenance["notes"])
    left_out = " ".join(run.provenance["import_notes"])
    assert "AppsRetrieval" in left_out and "AmazonCounterfactualClassification" in left_out


def _card(tmp_path, yaml_text: str, name="README.md"):
    path = tmp_path / name
    path.write_text(f"---\n{yaml_text}---\n\n# a card\n")
    return path


def test_export_then_import_gives_the_same_results(store, tmp_path, capsys):
    from tests.test_leaderboard import lb_store
    lb_store(store, tmp_path)
    out = tmp_path / "good.yaml"
    assert main(["export", "model-index", "good", "-o", str(out)]) == 0
    index = yaml.safe_load(out.read_text())
    [model] = index["model-index"]
    first = model["results"][0]
    assert first["task"]["type"] == "Retrieval" and first["dataset"]["config"] == "python"
    assert first["dataset"]["type"] == "code-model-dashboard/b" and first["dataset"]["args"] == {"protocol": "full"}
    assert {m["type"] for m in first["metrics"]} == {"ndcg_at_10", "mrr"}
    [back] = load_path(_card(tmp_path, out.read_text()))
    assert (back.benchmark, back.protocol) == ("b", "full")
    stored = {(r["language"], r["metric"]): r["value"] for r in store.metrics(["good"]).to_dict("records")}
    assert {(m["language"], m["metric"]): m["value"] for m in back.metrics} == pytest.approx(stored, abs=1e-6)
    # The bare YAML imports too, and lands in the same evaluation as the original runs.
    catalog.import_paths([out], store=store)
    assert "model-card--good--b" in set(store.runs().query("benchmark == 'b' and protocol == 'full'")["run_id"])


def test_export_names_the_benchmark_content_hash(tmp_path):
    manifest = {"id": "csn-py-0123456789", "format": 1, "seed": 0, "languages": {"python": {"counts": {"test": 2}}}}
    (tmp_path / "csn-py-0123456789").mkdir()
    (tmp_path / "csn-py-0123456789" / "manifest.json").write_text(json.dumps(manifest))
    digest = modelindex.content_hash("csn-py-0123456789", tmp_path)
    import hashlib
    expected = {k: v for k, v in manifest.items() if k != "id"}
    assert digest == hashlib.sha256(json.dumps(expected, sort_keys=True).encode()).hexdigest()
    assert modelindex.content_hash("csn-py-0123456789", tmp_path / "elsewhere") == "0123456789"  # from the id
    run = {"run_id": "r", "name": "R", "benchmark": "csn-py-0123456789", "protocol": "full"}
    index = modelindex.model_index(run, [{"language": "python", "metric": "ndcg@10", "value": 0.5}], digest)
    assert index["model-index"][0]["results"][0]["dataset"]["revision"] == digest


def test_sentence_transformers_spelling_and_fractions(tmp_path):
    card = _card(tmp_path, """model-index:
- name: my-code-embedder
  results:
  - task: {type: information-retrieval, name: Information Retrieval}
    dataset: {name: CodeSearchNet (go), type: code_search_net, revision: abcdef0123}
    metrics:
    - {type: cosine_ndcg@10, value: 0.71, name: Cosine Ndcg@10}
    - {type: cosine_recall@10, value: 0.9}
    - {type: cosine_accuracy@1, value: 0.6}
""")
    [run] = load_path(card)
    assert run.benchmark == "code_search_net@abcdef01" and run.protocol == "model-card"
    assert {(m["language"], m["metric"]): m["value"] for m in run.metrics} == {("go", "ndcg@10"): 0.71,
                                                                               ("go", "recall@10"): 0.9}


@pytest.mark.parametrize("text, message", [
    ("model-index: [\n", "not valid YAML (line"),
    ("license: mit\nmodel-index: []\n", "no 'model-index' list"),
    ("model-index:\n- name: x\n  results:\n  - dataset: {name: MTEB ArguAna, config: default}\n    metrics: [{type: ndcg_at_10, value: 50}]\n",
     "no code-search or codegen result"),
])
def test_broken_cards_are_refused_with_the_fix(tmp_path, text, message):
    with pytest.raises(ImportFailure, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_path(_card(tmp_path, text))


def test_export_model_index_needs_a_known_run(store, capsys):
    assert main(["export", "model-index", "-o", "x.yaml"]) == 1
    assert "needs the run" in capsys.readouterr().err
    assert main(["export", "model-index", "nope", "-o", "x.yaml"]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
