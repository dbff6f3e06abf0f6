import json

import pytest

from backend import catalog
from backend.__main__ import main
from tests.conftest import REFERENCE, reference_runs, tree

GOOD_RUN = {"schema_version": 1, "run_id": "m2v-distill--good--1", "kind": "m2v-distill", "name": "good",
            "benchmark": "b1", "protocol": "full", "disk_mb": 15.0, "params": 7_560_000,
            "metrics": [{"language": "python", "metric": "ndcg@10", "value": 0.5, "n": 10},
                        {"language": "java", "metric": "mean_rank", "value": 3.5, "n": 10}],
            "queries": [{"language": "python", "query_id": "q1", "gold_rank": 2}]}
CSV_HEADER = "run_id,kind,language,ndcg@10,mrr,mean_rank\n"


def mteb_folder(root, scores, meta=None, task="CodeSearchNetRetrieval"):
    root.mkdir(parents=True, exist_ok=True)
    (root / "model_meta.json").write_text(json.dumps(meta or {"name": "org/model-x", "n_parameters": 1000}))
    (root / f"{task}.json").write_text(json.dumps({"task_name": task, "scores": {"test": scores}}))
    return root


def test_reference_runs_import_and_give_published_deltas(reference_store, tmp_path):
    runs = reference_store.runs()
    assert set(runs["source"]) == {"reference"}
    assert len(runs) == reference_runs()
    out = tmp_path / "d.csv"
    assert main(["export", "deltas", "--base", "reference--m2v-mpnet-distill",
                 "--candidate", "reference--m2v-mpnet-tokenlearn-c4", "-o", str(out)]) == 0
    import pandas as pd
    d = pd.read_csv(out).set_index(["language", "metric"])
    assert d.loc[("java", "ndcg@10"), "rel_delta_pct"] == pytest.approx(-59.9, abs=0.1)
    assert d.loc[("javascript", "ndcg@10"), "rel_delta_pct"] == pytest.approx(3.6, abs=0.1)
    assert d.loc[("java", "mean_rank"), "improvement_pct"] < 0  # rank went up: worse, though the value grew
    assert d.loc[("java", "mean_rank"), "verdict"].startswith("significance unknown")  # published: no per-query data


def test_mteb_folder_imports_six_languages(store):
    catalog.import_paths([REFERENCE / "mteb-potion-base-8M"], store=store)
    metrics = store.metrics()
    assert sorted(metrics["language"].unique()) == ["go", "java", "javascript", "php", "python", "ruby"]
    assert metrics.set_index("language").loc["java", "value"] == pytest.approx(0.383)


def test_mteb_results_tree_with_old_dict_layout(store, tmp_path):
    old = {"python": {"ndcg_at_10": 0.5, "mrr_at_10": 0.4, "recall_at_1": 0.3, "map_at_10": 0.2}}
    mteb_folder(tmp_path / "results" / "org__m" / "abc123", old, {"name": "org/m", "revision": "abc123"})
    report = catalog.import_paths([tmp_path / "results"], store=store)
    assert report.result.added == ["mteb--m-abc123--CodeSearchNetRetrieval"]
    assert set(store.metrics()["metric"]) == {"ndcg@10", "mrr@10", "recall@1"}  # map_at_10 is not ours


def test_run_json_and_csv_import_and_reimport_is_idempotent(store, runs_dir, tmp_path):
    (tmp_path / "run.json").write_text(json.dumps(GOOD_RUN))
    (tmp_path / "hand.csv").write_text(CSV_HEADER + "csv--a,teacher-eval,python,0.7,0.6,2\ncsv--a,teacher-eval,go,0.5,,\n")
    paths = [tmp_path / "run.json", tmp_path / "hand.csv"]
    first = catalog.import_paths(paths, store=store)
    assert sorted(first.result.added) == ["csv--a", "m2v-distill--good--1"]
    before, files = store.fingerprint(), tree(runs_dir)
    again = catalog.import_paths(paths, store=store)
    assert again.result.added == [] and sorted(again.result.unchanged) == ["csv--a", "m2v-distill--good--1"]
    assert store.fingerprint() == before and tree(runs_dir) == files
    assert len(store.query_results("m2v-distill--good--1")) == 1
    assert len(store.metrics(["csv--a"])) == 4  # empty cells are missing values, not zeros


def test_replace_overwrites_a_changed_run(store, tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(GOOD_RUN))
    catalog.import_paths([path], store=store)
    path.write_text(json.dumps({**GOOD_RUN, "name": "renamed"}))
    with pytest.raises(catalog.ImportErrors, match="use --replace to overwrite it"):  # the advice, followed below
        catalog.import_paths([path], store=store)
    assert catalog.import_paths([path], store=store, replace=True).result.replaced == ["m2v-distill--good--1"]
    assert store.runs()["name"].tolist() == ["renamed"]


@pytest.mark.integration  # rebuilds every shipped reference run: tens of seconds on 2 cores
def test_rebuild_from_runs_dir_equals_imported_db(reference_store, runs_dir, tmp_path):
    before = reference_store.fingerprint()
    reference_store.path.unlink()
    assert catalog.rebuild(reference_store, runs_dir) == reference_runs()
    after = reference_store.fingerprint()
    # ingested_at differs by design; everything else must match.
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items() if k != "meta"} | {"meta": 0}
    assert after["metrics"] == before["metrics"]


@pytest.mark.integration  # rebuilds every shipped reference run
def test_delete_moves_folder_to_trash_and_rebuild_agrees(reference_store, runs_dir):
    catalog.delete_runs(["reference--m2v-mpnet-distill"], reference_store, runs_dir)
    assert "reference--m2v-mpnet-distill" not in set(reference_store.runs()["run_id"])
    assert list((runs_dir / ".trash").iterdir())
    catalog.rebuild(reference_store, runs_dir)
    assert len(reference_store.runs()) == reference_runs() - 1


def _json(obj):
    return json.dumps(obj)


MALFORMED = {
    "bad-syntax.json": '{"run_id": "x", ',
    "truncated.json": json.dumps(GOOD_RUN)[:57],
    "top-level-list-of-numbers.json": "[1, 2, 3]",
    "missing-run-id.json": _json({k: v for k, v in GOOD_RUN.items() if k != "run_id"}),
    "missing-metrics.json": _json({k: v for k, v in GOOD_RUN.items() if k != "metrics"}),
    "wrong-type-params.json": _json({**GOOD_RUN, "params": "seven million"}),
    "nan-metric.json": json.dumps(GOOD_RUN).replace('"value": 0.5', '"value": NaN'),
    "negative-metric.json": json.dumps(GOOD_RUN).replace('"value": 0.5', '"value": -0.5'),
    "recall-above-one.json": _json({**GOOD_RUN, "metrics": [{"language": "go", "metric": "recall@5", "value": 5}]}),
    "unknown-language.json": json.dumps(GOOD_RUN).replace('"python"', '"cobol"'),
    "unknown-metric.json": json.dumps(GOOD_RUN).replace('"ndcg@10"', '"bleu"'),
    "unknown-kind.json": _json({**GOOD_RUN, "kind": "magic"}),
    "escaping-run-id.json": _json({**GOOD_RUN, "run_id": "../../etc"}),
    "duplicate-ids.json": _json([GOOD_RUN, GOOD_RUN]),
    "bad-time.json": _json({**GOOD_RUN, "created_at": "yesterday"}),
    "unknown-field.json": _json({**GOOD_RUN, "acc": 1}),
    "not-utf8.json": b'{"run_id": "\xff\xfe"}',
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "unknown-column.csv": "run_id,kind,language,bleu\nr,teacher-eval,python,1\n",
    "no-language.csv": "run_id,kind,ndcg@10\nr,teacher-eval,0.5\n",
    "text-metric.csv": CSV_HEADER + "r,teacher-eval,python,high,,\n",
    "nan-metric.csv": CSV_HEADER + "r,teacher-eval,python,nan,,\n",
    "inconsistent-run.csv": "run_id,kind,language,disk_mb,ndcg@10\nr,teacher-eval,python,1,0.5\nr,teacher-eval,go,2,0.5\n",
    "ragged.csv": CSV_HEADER + "r,teacher-eval,python,0.5\n",
    "binary.csv": b"\x00\x01\x02run_id,kind\x00",
    "duplicate-language.csv": CSV_HEADER + "r,teacher-eval,python,0.5,,\nr,teacher-eval,python,0.6,,\n",
    "notes.txt": "these are my results",
}


def _mteb_cases(root):
    cases = {
        "mteb-no-name": ({"n_parameters": 3}, [{"hf_subset": "python", "ndcg_at_10": 0.5}], "CodeSearchNetRetrieval"),
        "mteb-unknown-subset": (None, [{"hf_subset": "c++", "ndcg_at_10": 0.5}], "CodeSearchNetRetrieval"),
        "mteb-percent-values": (None, [{"hf_subset": "python", "ndcg_at_10": 62.8}], "CodeSearchNetRetrieval"),
        "mteb-no-code-task": (None, [{"hf_subset": "en", "main_score": 0.5}], "STS12"),
        "mteb-scores-not-list": (None, "oops", "CodeSearchNetRetrieval"),
    }
    return {name: mteb_folder(root / name, scores, meta, task) for name, (meta, scores, task) in cases.items()}


def malformed_paths(root):
    root.mkdir(exist_ok=True)
    paths = {}
    for name, content in MALFORMED.items():
        path = root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths[name] = path
    paths.update(_mteb_cases(root))
    paths["missing-file"] = root / "does-not-exist.json"
    return paths


def test_there_are_more_than_twenty_malformed_cases(tmp_path):
    assert len(malformed_paths(tmp_path / "bad")) >= 30


@pytest.mark.parametrize("case", list(MALFORMED) + ["mteb-no-name", "mteb-unknown-subset", "mteb-percent-values",
                                                   "mteb-no-code-task", "mteb-scores-not-list", "missing-file"])
def test_malformed_file_gives_one_clear_line_and_changes_nothing(case, reference_store, runs_dir, tmp_path, capsys):
    path = malformed_paths(tmp_path / "bad")[case]
    before, files = reference_store.fingerprint(), tree(runs_dir)
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith(f"error: {path}: ") and "nothing imported" in err[1]
    assert "Traceback" not in err[0] and len(err[0]) < 700
    assert reference_store.fingerprint() == before
    assert tree(runs_dir) == files


def test_a_bad_file_among_good_ones_imports_nothing(store, runs_dir, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD_RUN))
    bad = malformed_paths(tmp_path / "bad")["negative-metric.json"]
    with pytest.raises(catalog.ImportErrors) as e:
        catalog.import_paths([good, bad], store=store)
    assert [f.path for f in e.value.failures] == [bad]
    assert store.runs().empty and tree(runs_dir) == {}


def test_same_run_id_in_two_files_is_refused(store, tmp_path):
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps({**GOOD_RUN, "name": name}))
    with pytest.raises(catalog.ImportErrors, match="also in"):
        catalog.import_paths([tmp_path / "a.json", tmp_path / "b.json"], store=store)


def test_failed_db_write_restores_run_files(store, runs_dir, tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(GOOD_RUN))

    def boom(*a, **k):
        raise RuntimeError("disk vanished")
    monkeypatch.setattr(type(store), "merge", boom)
    with pytest.raises(RuntimeError):
        catalog.import_paths([path], store=store)
    assert tree(runs_dir) == {}


def test_unwritable_runs_dir_gives_a_clear_error(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs folder should be")  # fails for root too, unlike chmod
    (tmp_path / "run.json").write_text(json.dumps(GOOD_RUN))
    assert main(["--runs-dir", str(blocker), "--db", str(tmp_path / "x.duckdb"), "import",
                 str(tmp_path / "run.json")]) == 1
    err = capsys.readouterr().err
    assert "cannot write under" in err and "writable" in err and "Traceback" not in err


@pytest.mark.parametrize("when", ["staging", "moving"])
def test_full_disk_gives_a_clear_error_and_leaves_nothing(store, runs_dir, tmp_path, monkeypatch, capsys, when):
    """The disk fills while the import writes its staged files, or after some files moved into runs/."""
    import errno
    import os

    from backend import importfiles, staging
    csv = tmp_path / "runs.csv"
    csv.write_text("run_id,kind,language,ndcg@10\n" + "".join(f"r{i},m2v-distill,python,0.5\n" for i in range(5)))
    catalog.import_paths([csv], store=store)
    csv.write_text("run_id,kind,language,ndcg@10\n" + "".join(f"r{i},m2v-distill,python,0.6\n" for i in range(8)))
    before, fingerprint = tree(runs_dir), store.fingerprint()
    real, calls = os.replace, []

    def full(*a, **k):
        calls.append(a)
        if when == "staging" or len(calls) == 2:  # moving: the stored file moved in, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **k)
    # The CSV is stored once (runs/.imports/): its copy is the staging write, its move the first replace.
    monkeypatch.setattr(importfiles, "copy_in", full) if when == "staging" else monkeypatch.setattr(staging.os, "replace", full)
    assert main(["import", "--replace", str(csv)]) == 1
    assert "No space left on device; free disk space" in capsys.readouterr().err
    assert tree(runs_dir) == before and store.fingerprint() == fingerprint
    assert not list((runs_dir / ".staging").iterdir()) and not list((runs_dir / ".journal").iterdir())


@pytest.mark.integration
def test_rebuild_restores_what_the_first_start_seeded_in_the_chosen_runs_folder(tmp_path, monkeypatch):
    """`--runs-dir B serve` seeds B (not the default runs/); `--runs-dir B rebuild` brings them all back."""
    import shutil

    from backend import catalog
    from backend.config import settings
    other = tmp_path / "B"
    s = settings().override(runs_dir=other, db_path=other / "dashboard.duckdb")
    store = catalog.default_store(s)
    catalog.seed_reference(store, s.runs_dir, REFERENCE)
    notes = list(other.glob(".imports/*/research-notes-m2v-vs-tokenlearn.csv"))  # a CSV is stored once,
    board = list(other.glob(".imports/*/public-evalplus-leaderboard.json"))  # and so is the leaderboard
    assert len(list(other.glob("*/run.json"))) + 2 + 236 == reference_runs() and len(notes) == len(board) == 1
    shutil.rmtree(notes[0].parent)
    assert main(["--runs-dir", str(other), "--db", str(other / "dashboard.duckdb"), "rebuild"]) == 0
    assert len(store.runs()) == reference_runs() and notes[0].is_file()


@pytest.mark.integration
def test_a_large_merge_goes_in_chunks_and_stores_what_one_transaction_does(tmp_path, monkeypatch):
    """Rows of new runs go in early, in transactions of MERGE_ROWS rows; replaced runs and the runs rows in the
    last one: the content equals the one-transaction merge's, for new, replaced and unchanged runs alike."""
    from backend.store import Store
    from backend.store import merging as store_module

    def csv(name, runs, value):
        path = tmp_path / name
        path.write_text("run_id,kind,language,ndcg@10,mrr\n" + "".join(
            f"r{i:03d},m2v-distill,{lang},{value},{value / 2}\n" for i in runs for lang in ("python", "java")))
        return path
    first, second = csv("first.csv", range(30), 0.5), csv("second.csv", range(20, 60), 0.7)
    chunks = []
    real = store_module.insert_new_rows
    contents, results = [], []
    for merge_rows in (10**9, 20):
        monkeypatch.setattr(store_module, "MERGE_ROWS", merge_rows)
        monkeypatch.setattr(store_module, "insert_new_rows", lambda *a: chunks.append(a[2:]) or real(*a))
        store = Store(tmp_path / f"db-{merge_rows}" / "dashboard.duckdb", runs_dir=tmp_path / f"runs-{merge_rows}")
        catalog.import_paths([first], store=store)
        results.append(catalog.import_paths([second], store=store, replace=True).result)
        contents.append((store.runs().drop(columns="ingested_at"), store.metrics()))
    assert len(chunks) == 6 + 8  # 4 rows per run, 20 per chunk: 30 then 40 staged runs in chunks of 5
    assert results[0].added == results[1].added == [f"r{i:03d}" for i in range(30, 60)]
    assert results[0].replaced == results[1].replaced == [f"r{i:03d}" for i in range(20, 30)]
    assert contents[0][0].equals(contents[1][0]) and contents[0][1].equals(contents[1][1])
    assert len(contents[1][1]) == 60 * 4 and set(contents[1][1].query("run_id >= 'r020'")["value"]) == {0.7, 0.35}


def test_rows_written_while_a_large_file_is_read_store_what_staging_does_and_a_failure_leaves_none(tmp_path,
                                                                                                  monkeypatch):
    """A large batch of a stored file writes its new runs' metric rows to the DB as it is read (one copy of each
    row, not two): new, replaced and unchanged runs end as when every row is staged first, and an import that
    fails after those writes (a bad second file) leaves the DB as it was, unseen rows included."""
    from backend import staging
    from backend.store import Store, database

    def csv(name, runs, value):
        path = tmp_path / name
        path.write_text("run_id,kind,language,ndcg@10,mrr\n" + "".join(
            f"r{i:03d},m2v-distill,{lang},{value},{value / 2}\n" for i in runs for lang in ("python", "java")))
        return path
    first, second, third = csv("first.csv", range(30), 0.5), csv("second.csv", range(20, 60), 0.7), \
        csv("third.csv", range(60, 90), 0.6)
    bad = tmp_path / "bad.csv"
    bad.write_text("run_id,kind,language,ndcg@10\nx1,m2v-distill,python,2.5\n")
    contents, results = [], []
    monkeypatch.setattr(database, "EARLY_ROWS", 50)  # early writes in slices too
    for direct_rows in (10**9, 1):
        monkeypatch.setattr(staging, "DIRECT_ROWS", direct_rows)
        store = Store(tmp_path / f"db-{direct_rows}" / "dashboard.duckdb", runs_dir=tmp_path / f"runs-{direct_rows}")
        catalog.import_paths([first], store=store)
        results.append(catalog.import_paths([second], store=store, replace=True).result)
        contents.append((store.runs().drop(columns="ingested_at"), store.metrics(),
                         {t: v for t, v in store.fingerprint().items() if t != "runs"}))  # run_files too
        before = store.fingerprint()
        with pytest.raises(catalog.ImportErrors, match="bad.csv"):
            catalog.import_paths([third, bad], store=store)
        assert store.fingerprint() == before
    assert results[0].added == results[1].added == [f"r{i:03d}" for i in range(30, 60)]
    assert results[0].replaced == results[1].replaced == [f"r{i:03d}" for i in range(20, 30)]
    assert contents[0][0].equals(contents[1][0]) and contents[0][1].equals(contents[1][1])
    assert contents[0][2] == contents[1][2] and contents[1][2]["run_files"][0] == 60
    assert len(contents[1][1]) == 60 * 4 and set(contents[1][1].query("run_id >= 'r020'")["value"]) == {0.7, 0.35}


def test_a_large_wide_csv_streams_one_run_at_a_time_and_a_shuffled_one_still_imports(tmp_path, monkeypatch):
    from backend import importers
    from backend.importers import widecsv
    monkeypatch.setattr(widecsv, "GATHER_BYTES", 0)  # every file counts as large
    path = tmp_path / "runs.csv"
    path.write_text("run_id,kind,language,ndcg@10\nr1,m2v-distill,python,0.5\nr1,m2v-distill,java,0.4\n"
                    "r2,m2v-distill,python,0.6\nr3,m2v-distill,python,not-a-number\n")
    stream = importers.stream_path(path)
    first = next(stream)  # yielded before the broken last line was read: the file is not held whole
    assert first.run_id == "r1" and len(first.metrics) == 2
    with pytest.raises(importers.ImportFailure, match="line 5: column ndcg@10"):
        list(stream)
    path.write_text("run_id,kind,language,ndcg@10\nr1,m2v-distill,python,0.5\nr2,m2v-distill,python,0.6\n"
                    "r1,m2v-distill,java,0.4\n")  # a run's rows apart: gathered, as for a small file
    assert {r.run_id: len(r.metrics) for r in importers.load_path(path)} == {"r1": 2, "r2": 1}
    monkeypatch.setattr(widecsv, "MAX_BYTES", 10)
    with pytest.raises(importers.ImportFailure, match="not together and the file is larger than 0 MB; sort it"):
        importers.load_path(path)


def test_an_imported_mteb_file_is_named_apart_from_the_reference_run_of_its_model(reference_store, tmp_path):
    import shutil

    from tests.conftest import DATA
    mine = tmp_path / "potion"
    mine.mkdir()
    for name in ("model_meta.json", "CodeSearchNetRetrieval.json"):  # the task the reference run has too
        shutil.copy(next((DATA / "mteb" / "minishlab__potion-base-8M").rglob(name)), mine)
    catalog.import_paths([mine], store=reference_store)
    runs = reference_store.runs()
    potion = runs[runs["run_id"].str.endswith("--CodeSearchNetRetrieval") & (runs["model"] == "minishlab/potion-base-8M")]
    potion = potion.set_index("source")["name"]
    assert potion["reference"] == "minishlab/potion-base-8M (MTEB CodeSearchNetRetrieval)"
    assert potion["imported"] == "minishlab/potion-base-8M (MTEB CodeSearchNetRetrieval, imported at dcbec7aa)"
