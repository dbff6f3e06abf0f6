"""Search code with one or two runs' models: the Live search page's twin."""
from __future__ import annotations

from pathlib import Path

from backend.cli import device_arg


def cmd_search(args, store, s):
    """Print both runs' top-k lists for one query: the CLI twin of the Live search page."""
    from backend.retrieval import search
    from backend.device import device_for
    from backend.retrieval.encoders import load_encoder
    device = device_for("auto", s.device)
    corpus = _corpus(args, s)
    query = search.check_query(args.query)
    runs = store.runs().set_index("run_id", drop=False)
    lists = []
    for run_id in args.run:
        if run_id not in runs.index:
            raise ValueError(f"no run {run_id!r}; list them with python -m backend runs")
        ref = search.model_ref(runs.loc[run_id].to_dict())
        encoder = load_encoder(ref, s.cache_dir, device)
        index = search.load_or_build_index(encoder, ref, corpus, s.runs_dir / ".index")
        result = search.search(encoder, index, corpus, query, args.k)
        lists.append([h.doc["id"] for h in result.hits])
        print(f"\n== {run_id}  ({index.kind} index over {index.size:,} docs of {corpus.label}; "
              f"encode {result.encode_ms:.1f} ms, search {result.search_ms:.1f} ms)")
        for h in result.hits:
            print(f"{h.rank:3d}  {h.score:.3f}  {h.doc['language']:10} {h.doc['func_name']:30.30} {h.doc['path']}")
        if result.hits and search.weak_best(result.hits[0].score, index.calibration):
            print(f"weak: the best score {result.hits[0].score:.3f} is below what 95 % of the benchmark's queries "
                  f"reach with this model ({index.calibration['p5']:.3f}): likely nothing here matches")
    if len(lists) == 2:
        print(f"\noverlap of the top {args.k}: Jaccard {search.jaccard(*lists):.2f}, "
              f"rank-biased overlap {search.rank_biased_overlap(*lists):.2f}")


def _corpus(args, s):
    from backend.retrieval import search
    folder = args.corpus if Path(args.corpus).is_dir() else ""
    language = args.lang if folder else None if args.corpus == "all" else args.corpus
    return search.open_corpus(folder, language, args.bench, s.bench_dir)


def cmd_search_index(args, store, s):
    """Build one model's Live search index over one corpus (the page starts this in a worker process; the
    first start for the student), with progress in the index's folder for the page."""
    from backend.device import device_for
    from backend.progress import Meter, Reporter
    from backend.retrieval import search
    from backend.retrieval.encoders import load_encoder
    corpus = _corpus(args, s)
    folder = search.index_folder(s.runs_dir / ".index", args.model, corpus.id, s.cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    report = Reporter(folder / "progress.json", echo=not args.quiet)
    report(0.0, f"{corpus.label}: loading {Path(args.model).name}")
    encoder = load_encoder(args.model, s.cache_dir, device_for("auto", s.device))
    meter = None

    def progress(done: int, total: int):
        nonlocal meter
        meter = meter or Meter(report, f"{corpus.label}: encoding", total, "documents", (0.0, 0.95))
        meter.advance(done - meter.done) if done else None
    index = search.load_or_build_index(encoder, args.model, corpus, s.runs_dir / ".index", progress)
    report(1.0, f"{corpus.label}: {index.kind} index of {index.size:,} documents "
                f"{'reused' if index.reused else 'built'}")


def add_parsers(sub):
    c = sub.add_parser("search", help="search code with one or two runs' models (the Live search page's twin)")
    c.add_argument("query")
    c.add_argument("--run", action="append", required=True, help="run id whose model searches (repeat for two)")
    c.add_argument("--corpus", default="all", help="a benchmark language, 'all', or a source folder")
    c.add_argument("--lang", default="python", help="language of a source folder corpus (default python)")
    device_arg(c)
    c.add_argument("--bench", help="benchmark id (default: the newest built)")
    c.add_argument("-k", type=int, default=10, help="results per run (default 10)")
    c.set_defaults(func=cmd_search)
    c = sub.add_parser("search-index", help="build one model's Live search index over one corpus (the page "
                                            "runs this in a worker process)")
    c.add_argument("--model", required=True, help="a teacher's short name or a model folder (a run's model)")
    c.add_argument("--corpus", default="all", help="a benchmark language, 'all', or a source folder")
    c.add_argument("--lang", default="python", help="language of a source folder corpus (default python)")
    c.add_argument("--bench", help="benchmark id (default: the newest built)")
    c.add_argument("--quiet", action="store_true", help="progress to the index's progress file only")
    device_arg(c)
    c.set_defaults(func=cmd_search_index)
