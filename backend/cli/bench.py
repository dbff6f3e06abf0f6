"""Code-search benchmarks: build one, list those built."""
from __future__ import annotations


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


def cmd_bench_list(args, store, s):
    """Each built benchmark: test/train pairs per language, and what each language was mined from."""
    import json

    from backend import compare
    from backend.bench.dataset import manifests
    for manifest in manifests(s.bench_dir):
        data = json.loads(manifest.read_text())
        counts = data["languages"]
        print(manifest.parent.name, " ".join(f"{k}:{v['counts']['test']}/{v['counts']['train']}"
                                              for k, v in counts.items()))
        for language, versions in compare.source_versions(data).items():
            print(f"  {language:10} {versions}")


def add_parsers(sub):
    bench = sub.add_parser("bench", help="build or list code-search benchmarks").add_subparsers(required=True,
                                                                                                metavar="ACTION")
    c = bench.add_parser("build", help="mine a benchmark (default: 6 languages from offline package sources)")
    c.add_argument("--lang", action="append", help="language to mine (repeat; default: all six)")
    c.add_argument("--from", dest="source_dir", help="mine your own repository folder (with one --lang)")
    c.add_argument("--csn", nargs="+", help="official CodeSearchNet files (.jsonl, .jsonl.gz, .parquet) instead")
    c.add_argument("--test-size", type=int, default=1000, help="test pairs per language (default 1000)")
    c.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    c.set_defaults(func=cmd_bench_build)
    bench.add_parser("list", help="list built benchmarks").set_defaults(func=cmd_bench_list)
