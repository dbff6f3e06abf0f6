"""CLI for benchmarks: ``bench build`` (mine), ``bench import`` (a BEIR / MTEB-style folder), ``bench export``
(any benchmark as BEIR folders, one per language) and ``bench list``."""
from __future__ import annotations

from pathlib import Path

from backend import compare


def add_parsers(sub):
    bench = sub.add_parser("bench", help="build, import, export or list benchmarks").add_subparsers(
        required=True, metavar="ACTION")
    c = bench.add_parser("build", help="mine a benchmark (default: 6 languages from offline package sources)")
    c.add_argument("--lang", action="append", help="language to mine (repeat; default: all six)")
    c.add_argument("--from", dest="source_dir", help="mine your own repository folder (with one --lang)")
    c.add_argument("--csn", nargs="+", help="official CodeSearchNet files (.jsonl, .jsonl.gz, .parquet) instead")
    c.add_argument("--test-size", type=int, default=1000, help="test pairs per language (default 1000)")
    c.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    c.set_defaults(func=cmd_bench_build)
    c = bench.add_parser("import", help="a BEIR / MTEB-style folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    c.add_argument("folder", type=Path, help="the dataset folder, or a folder of them (one per language)")
    c.add_argument("--language", help="language of the records that have none (python, java, javascript, go, php, ruby)")
    c.add_argument("--name", help="a name for the benchmark (default: the folder's); its id adds a content hash")
    c.set_defaults(func=cmd_bench_import)
    c = bench.add_parser("export", help="write a benchmark as BEIR folders, one per language (what 'full' ranks)")
    c.add_argument("bench_id", metavar="ID")
    c.add_argument("folder", type=Path, metavar="DIR")
    c.set_defaults(func=cmd_bench_export)
    bench.add_parser("list", help="list built and imported benchmarks").set_defaults(func=cmd_bench_list)


def cmd_bench_build(args, store, s):
    from backend.bench import build
    from backend.bench.sources import DEFAULT_SOURCES, SourceSpec
    from backend.progress import Reporter
    if args.csn:
        path = build.build_from_codesearchnet(args.csn, s.bench_dir, args.test_size, args.seed)
    else:
        languages = args.lang or list(DEFAULT_SOURCES)
        sources = None
        if args.source_dir:
            if len(languages) != 1:
                raise ValueError("--from DIR mines one language: add --lang LANGUAGE")
            sources = {languages[0]: SourceSpec(languages[0], "dir", path=args.source_dir)}
        path = build.build(languages, s.bench_dir, s.cache_dir, args.test_size, args.seed, sources,
                           progress=Reporter(None))
    print(f"benchmark {path.name} -> {path}")


def cmd_bench_import(args, store, s):
    """Prints the notes (what is not evaluated, and why), then the new benchmark's id alone on the last line."""
    from backend.bench import beir
    path, notes = beir.import_folder(args.folder, s.bench_dir, args.language, args.name)
    for note in notes:
        print(f"note: {note}")
    print(path.name)


def cmd_bench_export(args, store, s):
    from backend.bench import beir, dataset
    bench = dataset.load(args.bench_id, s.bench_dir)
    for folder in beir.export(bench, args.folder):
        print(f"{folder.name}: {folder}")


def cmd_bench_list(args, store, s):
    """Each benchmark: evaluation/train queries per language, and what each language was mined from."""
    import json

    from backend.bench.dataset import manifests
    for manifest in manifests(s.bench_dir):
        data = json.loads(manifest.read_text())
        counts = data["languages"]
        kind = f" (imported: {data.get('name')}, {data.get('eval_split')} split)" if data.get("format") == "beir" else ""
        print(manifest.parent.name + kind, " ".join(f"{k}:{v['counts']['test']}/{v['counts']['train']}"
                                                     for k, v in counts.items()))
        for language, versions in compare.source_versions(data).items():
            print(f"  {language:10} {versions}")
