"""Every import error line names the file and the key, and its fix, followed to the letter, is accepted.

Each case is a bad file, the key path its error must name, and the advice it must give; the test then does what
the advice says (mechanically, reading the values it needs from the error line) and imports the result."""
import copy
import json
import re

import pytest

from backend import catalog
from backend.importers import ImportFailure, load_path
from tests.test_importers import GOOD_RUN, mteb_folder


def _path_get(doc, path):
    parts = re.findall(r"\[(\d+)\]|\.?([^.\[\]]+)", path)
    keys = [int(i) if i else name for i, name in parts]
    for key in keys[:-1]:
        doc = doc[key]
    return doc, keys[-1]


def set_null(doc, path, _message):
    parent, key = _path_get(doc, path)
    parent[key] = None


def remove_entry(doc, _path, message):
    parent, key = _path_get(doc, re.search(r"remove the entry (\S+)", message).group(1))
    del parent[key]


def unquote(doc, path, _message):
    parent, key = _path_get(doc, path)
    parent[key] = json.loads(parent[key])


def quote(doc, path, _message):
    parent, key = _path_get(doc, path)
    parent[key] = str(parent[key])


def divide_by_100(doc, path, _message):
    parent, key = _path_get(doc, path)
    parent[key] = parent[key] / 100


def first_allowed(doc, path, message):
    parent, key = _path_get(doc, path)
    parent[key] = re.search(r"use one of:? ([^,;)]+)", message).group(1).strip()


def remove_unknown_fields(doc, _path, message):
    for name in re.findall(r"'(\w+)'", message.split("unknown field(s)")[1].split(";")[0]):
        del doc[name]


def keep_one(doc, path, _message):
    parent, key = _path_get(doc, path)
    rows, seen = parent[key], set()
    parent[key] = [r for r in rows if not (tuple(sorted(r.items())) in seen or seen.add(tuple(sorted(r.items()))))]


def example_time(doc, path, message):
    parent, key = _path_get(doc, path)
    parent[key] = re.search(r"such as (\S+)", message).group(1)


def schema_version(doc, _path, message):
    doc.update(json.loads("{" + re.search(r'write ("schema_version": \d+)', message).group(1) + "}"))


def shorten(doc, path, message):
    parent, key = _path_get(doc, path)
    parent[key] = parent[key][:int(re.search(r"at most ([\d,]+)", message).group(1).replace(",", ""))]


def remove_nul(doc, path, _message):
    parent, key = _path_get(doc, path)
    parent[key] = parent[key].replace("\x00", "")


def allowed_run_id(doc, path, _message):
    doc[path] = re.sub(r"[^A-Za-z0-9._+=@-]", "-", doc[path]).lstrip("._+=@-")


def bracket(doc, path, _message):
    doc[path] = [doc[path]]


nan = float("nan")
RUN_JSON_CASES = {  # name: (change to GOOD_RUN, key path the error names, advice it gives, what the user does)
    "nan-metric": (lambda d: d["metrics"][0].update(value=nan), "metrics[0].value", "write null", set_null),
    "nan-n": (lambda d: d["metrics"][1].update(n=nan), "metrics[1].n", "write null", set_null),
    "nan-disk": (lambda d: d.update(disk_mb=nan), "disk_mb", "write null", set_null),
    "nan-config": (lambda d: d.update(config={"lr": {"x": nan}}), "config.lr.x", "write null", set_null),
    "nan-rank": (lambda d: d["queries"][0].update(gold_rank=nan), "queries[0].gold_rank", "remove the entry",
                 remove_entry),
    "infinite-metric": (lambda d: d["metrics"][1].update(value=float("inf")), "metrics[1].value", "write null",
                        set_null),
    "text-metric": (lambda d: d["metrics"][0].update(value="high"), "metrics[0].value", "leave it out (null)",
                    set_null),
    "quoted-metric": (lambda d: d["metrics"][0].update(value="0.5"), "metrics[0].value", "without quotes", unquote),
    "quoted-params": (lambda d: d.update(params="7560000"), "params", "without quotes", unquote),
    "negative-metric": (lambda d: d["metrics"][0].update(value=-0.5), "metrics[0].value", "leave it out (null)",
                        set_null),
    "percent-metric": (lambda d: d["metrics"][0].update(value=62.8), "metrics[0].value", "divide it by 100",
                       divide_by_100),
    "negative-disk": (lambda d: d.update(disk_mb=-1), "disk_mb", "leave it out (null)", set_null),
    "fractional-params": (lambda d: d.update(params=1.5), "params", "leave it out (null)", set_null),
    "numeric-name": (lambda d: d.update(name=12), "name", "double quotes", quote),
    "nul-in-name": (lambda d: d.update(name="a\x00b"), "name", "remove it", remove_nul),
    "long-name": (lambda d: d.update(name="x" * 200_000), "name", "shorten it", shorten),
    "unknown-language": (lambda d: d["metrics"][0].update(language="cobol"), "metrics[0].language", "use one of",
                         first_allowed),
    "unknown-query-language": (lambda d: d["queries"][0].update(language="cobol"), "queries[0].language",
                               "use one of", first_allowed),
    "unknown-metric": (lambda d: d["metrics"][0].update(metric="bleu"), "metrics[0].metric", "use one of",
                       first_allowed),
    "unknown-status": (lambda d: d.update(status="done"), "status", "use one of", first_allowed),
    "unknown-kind": (lambda d: d.update(kind="magic"), "kind", "use one of", first_allowed),
    "unknown-field": (lambda d: d.update(acc=1, bleu=2), "'acc'", "remove them", remove_unknown_fields),
    "duplicate-metric": (lambda d: d["metrics"].append(dict(d["metrics"][0])), "metric python/ndcg@10", "keep one",
                         lambda doc, _p, m: keep_one(doc, "metrics", m)),
    "bad-time": (lambda d: d.update(created_at="yesterday"), "created_at", "such as", example_time),
    "schema-version": (lambda d: d.update(schema_version=2), "schema_version", "write", schema_version),
    "escaping-run-id": (lambda d: d.update(run_id="../etc/x"), "run_id", "letters, digits", allowed_run_id),
    "metrics-not-list": (lambda d: d.update(metrics=d["metrics"][0]), "metrics", "square brackets", bracket),
}


@pytest.mark.parametrize("case", list(RUN_JSON_CASES))
def test_run_json_advice_is_accepted_when_followed(case, tmp_path):
    change, key, advice, follow = RUN_JSON_CASES[case]
    doc = copy.deepcopy(GOOD_RUN)
    change(doc)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))  # NaN / Infinity written as JSON's non-standard constants, as tools do
    with pytest.raises(ImportFailure) as failure:
        load_path(path)
    message = str(failure.value)
    assert message.startswith(f"{path}: ") and key in message and advice in message, message
    follow(doc, key.strip("'"), message)
    path.write_text(json.dumps(doc, allow_nan=False))
    assert load_path(path), message


def test_a_null_metric_is_not_stored_and_import_says_so(store, tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({**GOOD_RUN, "metrics": [*GOOD_RUN["metrics"], {"language": "go", "metric": "mrr",
                                                                                "value": None}]}))
    report = catalog.import_paths([path], store=store)
    assert any("go mrr" in note and "not stored" in note for note in report.notes)
    assert len(store.metrics([GOOD_RUN["run_id"]])) == len(GOOD_RUN["metrics"])
    assert catalog.import_paths([path], store=store).result.unchanged  # the same file again: a no-op


HEADER = "run_id,kind,language,ndcg@10,mrr\n"
CSV_CASES = {  # name: (file text, what the error names, advice, the fixed file text)
    "text-cell": (HEADER + "r,teacher-eval,python,high,0.4\n", "column ndcg@10", "leave the cell empty",
                  HEADER + "r,teacher-eval,python,,0.4\n"),
    "nan-cell": (HEADER + "r,teacher-eval,python,nan,0.4\n", "column ndcg@10", "leave the cell empty",
                 HEADER + "r,teacher-eval,python,,0.4\n"),
    "unknown-column": ("run_id,kind,language,bleu,mrr\nr,teacher-eval,python,1,0.4\n", "'bleu'", "remove",
                       "run_id,kind,language,mrr\nr,teacher-eval,python,0.4\n"),
    "run-columns-disagree": ("run_id,kind,language,disk_mb,mrr\nr,teacher-eval,python,1,0.4\nr,teacher-eval,go,2,0.4\n",
                             "disk_mb", "must agree",
                             "run_id,kind,language,disk_mb,mrr\nr,teacher-eval,python,1,0.4\nr,teacher-eval,go,1,0.4\n"),
    "duplicate-language": (HEADER + "r,teacher-eval,python,0.5,0.4\nr,teacher-eval,python,0.5,0.4\n",
                           "python/ndcg@10", "keep one", HEADER + "r,teacher-eval,python,0.5,0.4\n"),
    "percent-cell": (HEADER + "r,teacher-eval,python,62.5,0.4\n", "python ndcg@10", "divide it by 100",
                     HEADER + "r,teacher-eval,python,0.625,0.4\n"),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_wide_csv_advice_is_accepted_when_followed(case, tmp_path):
    bad, key, advice, fixed = CSV_CASES[case]
    path = tmp_path / "runs.csv"
    path.write_text(bad)
    with pytest.raises(ImportFailure) as failure:
        load_path(path)
    message = str(failure.value)
    assert message.startswith(f"{path}: ") and key in message and advice in message, message
    path.write_text(fixed)
    assert load_path(path)


def test_mteb_advice_is_accepted_when_followed(tmp_path):
    folder = mteb_folder(tmp_path / "m", [{"hf_subset": "python", "ndcg_at_10": 0.5, "mrr_at_10": nan}])
    with pytest.raises(ImportFailure, match=r"CodeSearchNetRetrieval.json: scores.test\[python\].mrr_at_10 is NaN"
                                            r".*remove the key") as failure:
        load_path(folder)
    task = json.loads((folder / "CodeSearchNetRetrieval.json").read_text())
    del task["scores"]["test"][0]["mrr_at_10"]  # remove the key
    (folder / "CodeSearchNetRetrieval.json").write_text(json.dumps(task))
    assert load_path(folder), str(failure.value)

    (folder / "model_meta.json").write_text(json.dumps({"n_parameters": 3}))
    with pytest.raises(ImportFailure, match='needs a "name" string'):
        load_path(folder)
    (folder / "model_meta.json").write_text(json.dumps({"name": "org/m", "n_parameters": 3}))
    assert load_path(folder)


def test_two_files_with_one_run_id_advice_is_accepted_when_followed(store, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        path.write_text(json.dumps({**GOOD_RUN, "name": path.name}))
    with pytest.raises(catalog.ImportErrors, match="import one of them or rename the run"):
        catalog.import_paths([a, b], store=store)
    b.write_text(json.dumps({**GOOD_RUN, "name": b.name, "run_id": GOOD_RUN["run_id"] + "-b"}))  # rename it
    assert catalog.import_paths([a, b], store=store).result.added
