"""The wide CSV read in columns gives exactly the row reader's runs (digests included), and an imported CSV is
stored once (runs/.imports/) with its deleted runs recorded beside it: rebuild, delete, replace and the trash keep
working per run, and a store made by the folder-per-run code keeps its folders as sources."""
import json
import random
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend import catalog, importfiles
from backend.importers import widecsv
from backend.records import record_from_dict
from backend.runcolumns import RunColumns, float_reprs
from tests.conftest import tree

HEADER = "run_id,kind,language,name,notes,status,created_at,disk_mb,params,n,ndcg@10,mrr,mean_rank\n"
GOOD = {  # per column: cells both readers accept
    "run_id": ["r1", "r2", "r3"],
    "kind": ["teacher-eval", "m2v-distill"],
    "language": ["python", "Java", " go ", ""],
    "name": ["", "Alpha", "ünï cødé", " padded\u2003"],
    "notes": ["", "hello", "a note"],
    "status": ["", "finished", "Failed"],
    "created_at": ["", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00"],
    "disk_mb": ["", "1.5", "2", "1e3"],
    "params": ["", "100", "007"],
    "n": ["", "10"],
    "ndcg@10": ["", "0.5", "1", "0", ".25", "5e-1", "1e-05", "0.123456789012345678"],
    "mrr": ["", "0.25", "0.0001", "9.999e-05", "0.3333333333333333", "1E-2"],
    "mean_rank": ["", "1", "3.5", "1e16", "123456789012345.6", "1e300"],
}
ODD = {  # ... and cells only the row reader reads, or that neither accepts
    "run_id": ["bad id", ""], "kind": ["magic", ""], "language": ["cobol"], "name": ["x\x1c"], "notes": [""],
    "status": ["done"], "created_at": ["yesterday"], "disk_mb": ["-1", "nan", "1_0", "1e999"],
    "params": ["5.0", "1e3", "99999999999999999999", "-0"], "n": ["1.5", "x"],
    "ndcg@10": ["1.5", "-0", "inf", "high", "5.", " 0.5", "0x1", "1d", "\u0661", "Infinity", "."], "mrr": ["+0.5", "-.0"], "mean_rank": ["0.5"],
}
COLUMNS = HEADER.strip().split(",")


def outcome(reader, path):
    try:
        records = list(reader(path))
    except Exception as e:  # noqa: BLE001 - compared, not swallowed
        return type(e).__name__, str(e)
    return [(r, r.digest()) for r in records]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(rows=st.lists(st.tuples(*[st.integers(0, 30).flatmap(
    lambda k, c=c: st.sampled_from(ODD[c] if k == 0 else GOOD[c])) for c in COLUMNS]), min_size=1, max_size=8),
       sort=st.booleans())
def test_the_columnar_reader_gives_the_row_readers_runs_or_its_error(tmp_path, rows, sort):
    path = tmp_path / "runs.csv"
    path.write_text(HEADER + "".join(",".join(row) + "\n" for row in (sorted(rows) if sort else rows)))
    assert outcome(widecsv.load, path) == outcome(widecsv.load_rows, path)


@pytest.mark.parametrize("cell", sorted({*ODD["ndcg@10"], *ODD["mrr"], *ODD["disk_mb"], *GOOD["ndcg@10"]}))
def test_each_odd_number_alone_is_read_as_the_row_reader_reads_it(tmp_path, cell):
    path = tmp_path / "runs.csv"
    path.write_text(f"run_id,kind,language,disk_mb,ndcg@10\nr1,m2v-distill,python,{cell},{cell}\n")
    assert outcome(widecsv.load, path) == outcome(widecsv.load_rows, path)


def test_a_plain_wide_csv_is_read_in_columns_and_each_run_equals_its_record(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text(HEADER + "r1,teacher-eval,python,Alpha,hello,Finished,2026-01-01T01:00:00+01:00,1.5,100,10,0.5,"
                    "0.0001,1e16\nr1,teacher-eval,java,,,,,,,,1,,3\nr2,m2v-distill,go,,,,,,,,,9.999e-05,\n")
    batches = list(widecsv.batches(path))
    assert len(batches) == 1 and isinstance(batches[0], RunColumns)  # no record object made to read it
    records = batches[0].records()
    assert [(r, r.digest()) for r in records] == [(r, r.digest()) for r in widecsv.load_rows(path)]
    assert record_from_dict(json.loads(records[0].to_json())).digest() == records[0].digest()


def test_the_columnar_reader_strips_what_python_strips():
    from backend.importers.csvcolumns import WHITESPACE
    assert WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def test_float_reprs_are_pythons_repr():
    rng = random.Random(0)
    values = [0.0, 1.0, 1e-05, 1.5e-07, 1e-4, 9.999e-05, 1e15, 1e16, 123456789012345.6, 0.1 + 0.2, 2.5, 1e22, 5e-324]
    values += [rng.random() * 10 ** rng.randint(-8, 18) for _ in range(20_000)]
    values += [round(rng.random(), 4) for _ in range(1000)] + [float(rng.randint(0, 10**6)) for _ in range(1000)]
    assert float_reprs(pa.array(values + [None])).to_pylist() == [repr(v) for v in values] + [None]


def write_csv(path, runs, value, languages=("python", "java")):
    path.write_text("run_id,kind,language,ndcg@10\n" + "".join(
        f"r{i:02d},m2v-distill,{lang},{value}\n" for i in runs for lang in languages))
    return path


def stored(runs_dir):
    return {meta["file"]: meta for _, meta in importfiles.stored(runs_dir)}


def test_an_imported_csv_is_stored_once_and_rebuild_reads_it(store, runs_dir, tmp_path):
    path = write_csv(tmp_path / "sweep.csv", range(20), 0.5)
    catalog.import_paths([path], store=store)
    files = tree(runs_dir)
    key = stored(runs_dir)["sweep.csv"]["sha256"]
    assert set(files) == {f".imports/{key}/sweep.csv", f".imports/{key}/import.json"}  # no folder per run
    assert files[f".imports/{key}/sweep.csv"] == path.read_bytes()
    before = store.fingerprint()
    store.path.unlink()
    assert catalog.rebuild(store, runs_dir) == 20
    after = store.fingerprint()
    assert {k: v for k, v in after.items() if k != "runs"} == {k: v for k, v in before.items() if k != "runs"}


def test_a_leaderboard_file_is_stored_once_and_a_folder_format_keeps_its_folders(store, runs_dir):
    """The EvalPlus leaderboard (236 runs in one file, a first start imports it) is stored once like a wide CSV;
    run.json files keep their folders (that is their format)."""
    from tests.conftest import REFERENCE
    board, paper = REFERENCE / "public-evalplus-leaderboard.json", REFERENCE / "paper-codegen-350m-lora-vs-full.json"
    catalog.import_paths([board, paper], store=store)
    key = stored(runs_dir)[board.name]["sha256"]
    folders = {p.name for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert len(folders) == 4 and all(f.startswith("reference--codegen-350m") for f in folders)  # the paper's runs
    assert (runs_dir / ".imports" / key / board.name).read_bytes() == board.read_bytes()
    before = store.fingerprint()
    store.path.unlink()
    assert catalog.rebuild(store, runs_dir) == 240 and store.fingerprint()["metrics"] == before["metrics"]


def test_deleting_a_stored_run_records_it_and_the_trash_holds_its_run_json(store, runs_dir, tmp_path):
    path = write_csv(tmp_path / "sweep.csv", range(5), 0.5)
    catalog.import_paths([path], store=store)
    catalog.delete_runs(["r01", "r03"], store, runs_dir)
    assert stored(runs_dir)["sweep.csv"]["deleted"] == ["r01", "r03"]
    trashed = sorted(p.parent.name.split("--")[0] for p in (runs_dir / ".trash").glob("*/run.json"))
    assert trashed == ["r01", "r03"]
    assert catalog.rebuild(store, runs_dir) == 3 and "r01" not in set(store.runs()["run_id"])
    again = catalog.import_paths([path], store=store).result  # importing the file again brings them back
    assert again.added == ["r01", "r03"] and stored(runs_dir)["sweep.csv"]["deleted"] == []
    assert catalog.rebuild(store, runs_dir) == 5


def test_a_later_import_takes_its_runs_from_an_earlier_file(store, runs_dir, tmp_path):
    catalog.import_paths([write_csv(tmp_path / "monday.csv", range(10), 0.5)], store=store)
    with pytest.raises(catalog.ImportErrors):  # a different value needs --replace, as before
        catalog.import_paths([write_csv(tmp_path / "tuesday.csv", range(5, 15), 0.7)], store=store)
    catalog.import_paths([tmp_path / "tuesday.csv"], store=store, replace=True)
    assert stored(runs_dir)["monday.csv"]["deleted"] == [f"r{i:02d}" for i in range(5, 10)]
    values = store.metrics().groupby("run_id")["value"].first()
    assert catalog.rebuild(store, runs_dir) == 15
    assert store.metrics().groupby("run_id")["value"].first().equals(values)
    assert values["r04"] == 0.5 and values["r05"] == 0.7


def test_a_failed_merge_leaves_no_stored_file(store, runs_dir, tmp_path, monkeypatch):
    catalog.import_paths([write_csv(tmp_path / "monday.csv", range(10), 0.5)], store=store)
    files, fingerprint = tree(runs_dir), store.fingerprint()

    def boom(*a, **k):
        raise RuntimeError("disk vanished")
    monkeypatch.setattr(type(store), "merge", boom)
    with pytest.raises(RuntimeError):
        catalog.import_paths([write_csv(tmp_path / "tuesday.csv", range(5, 15), 0.7)], store=store, replace=True)
    assert tree(runs_dir) == files and store.fingerprint() == fingerprint


def test_a_store_of_run_folders_keeps_them_and_a_new_import_leaves_them_alone(store, runs_dir, tmp_path):
    """A store made by the folder-per-run code (an imported CSV as run.json folders): the folders stay valid
    sources; importing the same file again changes nothing and takes no run from them."""
    path = write_csv(tmp_path / "sweep.csv", range(6), 0.5)
    catalog.write_and_ingest(list(widecsv.load_rows(path)), store, runs_dir)  # as the old code stored it
    folders = tree(runs_dir)
    assert len(folders) == 6
    result = catalog.import_paths([path], store=store).result
    assert result.added == [] and len(result.unchanged) == 6
    assert tree(runs_dir) == folders  # nothing is read from the file: it is not stored
    folders_and_file = catalog.import_paths([write_csv(path, range(8), 0.5)], store=store).result
    assert folders_and_file.added == ["r06", "r07"]
    assert stored(runs_dir)["sweep.csv"]["held_elsewhere"] == [f"r{i:02d}" for i in range(6)]
    assert catalog.rebuild(store, runs_dir) == 8


def test_a_large_file_is_read_by_blocks_and_one_whose_runs_are_apart_goes_to_the_row_reader(tmp_path, monkeypatch):
    from backend.importers import csvcolumns
    monkeypatch.setattr(csvcolumns, "WHOLE_BYTES", 1000)  # every file here counts as large ...
    monkeypatch.setattr(csvcolumns, "BLOCK_BYTES", 4096)  # ... and is read in many blocks, runs across their ends
    path = tmp_path / "runs.csv"
    lines = [f"run-{i:04d},m2v-distill,{lang},{i % 7 / 10},0.{i % 9 + 1}\n" for i in range(600)
             for lang in ("python", "java", "go")]
    path.write_text("run_id,kind,language,ndcg@10,mrr\n" + "".join(lines))
    batches = list(widecsv.batches(path))
    assert len(batches) > 5 and all(isinstance(b, RunColumns) for b in batches)
    assert [(r, r.digest()) for b in batches for r in b.records()] == outcome(widecsv.load_rows, path)
    lines.append(lines[0].replace("python", "ruby"))  # run-0000 again at the end: not together
    path.write_text("run_id,kind,language,ndcg@10,mrr\n" + "".join(lines))
    assert widecsv._columns(path) is None
    assert outcome(widecsv.load, path) == outcome(widecsv.load_rows, path)


def test_the_same_bytes_under_another_name_are_another_stored_file(store, runs_dir, tmp_path):
    first = write_csv(tmp_path / "monday.csv", range(3), 0.5)
    second = tmp_path / "copy.csv"
    second.write_bytes(first.read_bytes())
    catalog.import_paths([first], store=store)
    catalog.import_paths([second], store=store, replace=True)  # provenance names the file: other content
    metas = stored(runs_dir)
    assert metas["monday.csv"]["sha256"] == metas["copy.csv"]["sha256"] and len(metas["monday.csv"]["deleted"]) == 3
    assert len(list(runs_dir.glob(".imports/*/import.json"))) == 2
    assert catalog.rebuild(store, runs_dir) == 3 and set(store.runs()["provenance"].map(json.loads).map(
        lambda p: p["file"])) == {"copy.csv"}


def _old_db(path: Path):
    """A DB made by the folder-per-run code (before run_files and the language count), with two runs."""
    import duckdb

    from backend.store import MIGRATIONS
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    for version, sql in enumerate(MIGRATIONS[:-2], start=1):
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, now())", [version])
    con.execute("INSERT INTO runs (run_id, kind, name, status, source, digest, ingested_at) VALUES "
                "('a', 'eval', 'a', 'finished', 'local', 'd', now()), ('b', 'eval', 'b', 'finished', 'local', 'e', now())")
    con.execute("INSERT INTO metrics VALUES ('a', 'python', 'mrr', 0.5, NULL), ('a', 'go', 'mrr', 0.5, NULL)")
    con.close()


def test_a_db_made_before_these_migrations_gets_them_with_its_rows(tmp_path):
    """The DB of a store made by the folder-per-run code: run_files and the per-run language count arrive on
    first start, the count filled from the metrics already there."""
    from backend.store import Store
    _old_db(tmp_path / "old.duckdb")
    store = Store(tmp_path / "old.duckdb")
    store.migrate()
    assert store.runs().set_index("run_id")["languages"].to_dict() == {"a": 2, "b": 0}
    assert store.owners(["a", "b"]) == {}


def test_a_store_made_by_older_code_can_be_read_first(tmp_path):
    """``runs`` or ``export`` before any write (a user upgrading): the read brings the DB up to date first."""
    from backend.store import Store
    _old_db(tmp_path / "old.duckdb")
    store = Store(tmp_path / "old.duckdb")
    assert store.runs().set_index("run_id")["languages"].to_dict() == {"a": 2, "b": 0}
    assert list(store.metrics()["run_id"]) == ["a", "a"]


def test_an_old_db_put_where_a_current_one_was_is_migrated_again(tmp_path):
    """Migrations are not checked again while a DB file is unchanged; a file put in its place (a backup
    restored) is another file, whatever its path."""
    import os

    from backend.store import MIGRATIONS, Store
    store = Store(tmp_path / "dashboard.duckdb")
    assert store.migrate() == len(MIGRATIONS) and store.runs().empty
    _old_db(tmp_path / "backup.duckdb")
    os.replace(tmp_path / "backup.duckdb", tmp_path / "dashboard.duckdb")
    store.migrate()
    assert store.runs().set_index("run_id")["languages"].to_dict() == {"a": 2, "b": 0}
