"""Miner on small fixture files per language, benchmark build and reading, bad input."""
import gzip
import json
import shutil
from pathlib import Path

import pytest

from backend.bench import build, dataset, doctext
from backend.bench.miner import mine_source, skip_path
from backend.bench.sources import SourceError, SourceSpec, fetch

MINE = Path(__file__).parent / "data" / "mine"
EXPECTED = {  # file -> {function: query}; undocumented functions and constructors are absent
    "sample.py": {"add_numbers": "Add two numbers and return the sum.",
                  "scale": "Scale every coordinate of the thing by k."},
    "Sample.java": {"max": "Returns the largest element of the values array."},
    "sample.js": {"chunk": "Creates an array of elements split into groups the length of `size`.",
                  "isPlain": "Checks whether a value is a plain object created by Object."},
    "sample.go": {"Reverse": "Reverse returns a copy of the slice with its elements in reverse order."},
    "sample.php": {"formatMoney": "Formats the given amount of money with two decimals."},
    "sample.rb": {"sorted_words": "Returns the words of the string in alphabetical order."},
}
LANG_OF = {".py": "python", ".java": "java", ".js": "javascript", ".go": "go", ".php": "php", ".rb": "ruby"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_miner_finds_documented_functions_only(name):
    pairs = mine_source((MINE / name).read_bytes(), LANG_OF[Path(name).suffix], name)
    assert {p["func_name"]: p["query"] for p in pairs} == EXPECTED[name]
    for pair in pairs:
        assert pair["query"] not in pair["code"]  # the doc comment is not part of the document
        assert len(pair["code"].splitlines()) >= 3


def test_python_docstring_is_cut_from_the_code():
    code = mine_source((MINE / "sample.py").read_bytes(), "python")[0]["code"]
    assert code == "def add_numbers(a, b):\n    total = a + b\n    return total"


@pytest.mark.parametrize("path, skipped", [
    ("sample_test.go", True), ("pkg/tests/util.py", True), ("lib/vendor/x.php", True), ("a/FooTest.java", True),
    ("src/app.spec.js", True), ("dist/lodash.min.js", True), ("test_x.py", True), ("Lib/json/decoder.py", False),
    ("src/main/Foo.java", False), ("contest/solve.py", False),
])
def test_test_example_and_vendored_files_are_skipped(path, skipped):
    assert skip_path(path) is skipped


def test_doc_text_cleanup():
    assert doctext.first_paragraph(doctext.strip_block("/**\n * Sets {@link Foo#bar} now.\n * <p>More.\n */")) == \
        "Sets Foo#bar now."
    assert doctext.first_paragraph(["call-seq:", "  str.foo -> x", "", "Returns the foo of str."]) == \
        "Returns the foo of str."


def test_dedupe_and_split_are_deterministic_and_disjoint():
    pairs = [{"query": f"query number {i % 50}", "code": f"code {i}\n" * 3} for i in range(80)]
    unique = build.dedupe(pairs)
    assert len(unique) == 50
    test, train = build.split(unique, 30, seed=7)
    assert (test, train) == build.split(unique, 30, seed=7)
    assert len(test) == 30 and not {id(p) for p in test} & {id(p) for p in train}
    small_test, small_train = build.split(unique[:10], 1000, seed=0)
    assert len(small_test) == 8 and len(small_train) == 2  # a small language keeps 20 % for training


def test_build_from_a_folder_is_reproducible(tmp_path):
    src = tmp_path / "repo"
    shutil.copytree(MINE, src)
    sources = {"python": SourceSpec("python", "dir", path=str(src))}
    first = build.build(["python"], tmp_path / "b", tmp_path / "cache", test_size=1, sources=sources, progress=None)
    second = build.build(["python"], tmp_path / "b2", tmp_path / "cache", test_size=1, sources=sources, progress=None)
    assert first.name == second.name  # same inputs, same id
    bench = dataset.load(first.name, tmp_path / "b")
    manifest = bench.manifest["languages"]["python"]
    assert manifest["counts"] == {"mined": 2, "unique": 2, "test": 1, "train": 1} and manifest["files_sha256"]
    assert len(bench.pairs("python", "test")) == 1 and bench.pairs("python", "test")[0]["id"] == "python/test/0"
    (src / "sample.py").write_text((src / "sample.py").read_text() + "\n\ndef more(x):\n    '''Return x plus one more.'''\n    y = x\n    return y + 1\n")
    third = build.build(["python"], tmp_path / "b", tmp_path / "cache", test_size=1, sources=sources, progress=None)
    assert third.name != first.name  # changed sources, new id


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown language 'cobol'"):
        build.build(["cobol"], tmp_path / "b", tmp_path / "c", progress=None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no documented functions found for go"):
        build.build(["go"], tmp_path / "b", tmp_path / "c", progress=None,
                    sources={"go": SourceSpec("go", "dir", path=str(tmp_path / "empty"))})
    with pytest.raises(SourceError, match="is not a folder"):
        fetch(SourceSpec("go", "dir", path=str(tmp_path / "missing")), tmp_path)
    with pytest.raises(dataset.BenchmarkError, match="build one"):
        dataset.load(None, tmp_path / "nothing")


def test_corrupt_jsonl_line_is_named(tmp_path):
    path = tmp_path / "python.test.jsonl"
    path.write_text('{"query": "a b c", "code": "x"}\n{"query": broken\n')
    with pytest.raises(dataset.BenchmarkError, match="line 2 is not valid JSON"):
        dataset.read_jsonl(path)


def test_official_codesearchnet_files_are_read_as_is(tmp_path):
    rows = [{"language": "go", "docstring": f"Returns the sum number {i} of things.", "partition": part,
             "code": f"func F{i}() int {{\n\treturn {i}\n}}\n", "func_name": f"F{i}"}
            for i, part in enumerate(["train", "train", "test", "valid"])]
    with gzip.open(tmp_path / "go_test_0.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    pd = pytest.importorskip("pandas")
    pd.DataFrame([{"language": "go", "func_documentation_string": "Parses the config file quickly.",
                   "func_code_string": "func P() {\n\tx := 1\n\t_ = x\n}", "split": "test"}]).to_parquet(
        tmp_path / "go.parquet")
    out = build.build_from_codesearchnet([tmp_path / "go_test_0.jsonl.gz", tmp_path / "go.parquet"], tmp_path / "b")
    bench = dataset.load(str(out), tmp_path / "b")
    assert [p["query"] for p in bench.pairs("go", "test")] == ["Returns the sum number 2 of things.",
                                                                "Parses the config file quickly."]
    assert len(bench.pairs("go", "train")) == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "no docstring"}) + "\n")
    with pytest.raises(dataset.BenchmarkError, match="is this a CodeSearchNet file"):
        dataset.read_codesearchnet(bad)
