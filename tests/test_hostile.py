"""Property-based: whatever bytes or JSON an importer is given, it returns valid runs or one ImportFailure line,
and a failed import leaves the DB and runs/ exactly as they were."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend import catalog, rundirs
from backend.importers import ImportFailure, load_path
from backend.records import record_from_dict
from tests.conftest import tree
from tests.test_importers import GOOD_RUN

# How many examples: the profile of the tier (tests/conftest.py: a few in the fast tier, the full count in CI's
# integration tier).
SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


def _outcome(path):
    """One error line naming the file, or records that are valid: each survives its own run.json unchanged."""
    try:
        records = load_path(path)
    except ImportFailure as e:
        assert "\n" not in str(e) and str(e).startswith(str(path))
        return None
    for record in records:
        assert record_from_dict(json.loads(record.to_json())) == record
    return records


@SETTINGS
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".json", ".csv", ".tsv"]))
def test_random_bytes_never_raise_anything_but_import_failure(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    _outcome(path)


@SETTINGS
@given(key=st.sampled_from(sorted(GOOD_RUN) + ["extra", "ünïcødé"]), value=json_values)
def test_any_field_value_is_accepted_or_refused_cleanly(store, runs_dir, tmp_path, key, value):
    catalog.import_paths([_write(tmp_path / "seed.json", {**GOOD_RUN, "run_id": "seed"})], store=store)
    before, files = store.fingerprint(), tree(runs_dir)
    path = _write(tmp_path / "case.json", {**GOOD_RUN, key: value})
    try:
        catalog.import_paths([path], store=store, replace=True)
    except catalog.ImportErrors as e:
        assert len(e.failures) == 1
        assert store.fingerprint() == before and tree(runs_dir) == files
    else:  # accepted: its run.json holds what the file said, and the DB holds that run with its metrics
        record = load_path(path)[0]
        assert rundirs.read_record(rundirs.record_path(runs_dir, record.run_id)) == record
        assert record.run_id in set(store.runs()["run_id"])
        assert len(store.metrics([record.run_id])) == len(record.metrics)


@SETTINGS
@given(name=st.text(min_size=1, max_size=50), metric=st.text(max_size=12), value=json_values,
       language=st.text(max_size=12))
def test_csv_cells_are_accepted_or_refused_cleanly(tmp_path, name, metric, value, language):
    path = tmp_path / "hand.csv"
    path.write_text(f"run_id,kind,language,name,ndcg@10\nr1,teacher-eval,{language},\"{name}\",{json.dumps(value)}\n",
                    encoding="utf-8", errors="surrogatepass")
    _outcome(path)


def test_ten_megabyte_strings_are_refused(tmp_path):
    path = _write(tmp_path / "big.json", {**GOOD_RUN, "name": "x" * 10_000_000})
    out = _outcome(path)
    assert out is None


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path


@SETTINGS
@given(meta=json_values, scores=json_values)
def test_mteb_folders_with_any_content_are_accepted_or_refused_cleanly(tmp_path, meta, scores):
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "model_meta.json").write_text(json.dumps(meta))
    (folder / "CodeSearchNetRetrieval.json").write_text(json.dumps({"scores": {"test": scores}}))
    _outcome(folder)


@SETTINGS
@given(name=st.sampled_from(["model_meta.json", "CodeSearchNetRetrieval.json"]), data=st.binary(max_size=500))
def test_mteb_folders_with_random_bytes_are_refused_cleanly(tmp_path, name, data):
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "model_meta.json").write_text(json.dumps({"name": "m"}))
    (folder / "CodeSearchNetRetrieval.json").write_text(json.dumps({"scores": {"test": []}}))
    (folder / name).write_bytes(data)
    _outcome(folder)
