"""CLI for TREC files: ``metrics QRELS RUN`` (score a run as trec_eval does) and ``import RUN --bench ID`` (a
run file from any system as a run of a benchmark here)."""
from __future__ import annotations

import sys
from pathlib import Path

from backend import csvexport


def add_parsers(sub):
    # ``import RUN.trec --bench ID``: the import command (backend/__main__.py) learns TREC run files.
    c = sub.choices["import"]
    c.add_argument("--bench", help="a TREC run file's benchmark id: score the run against its judgments")
    c.add_argument("--run-id", help="the TREC run's id (default: trec--<file name>--<hash>)")
    c.add_argument("--name", help="the TREC run's name (default: the file name and run tag)")
    c.add_argument("--disk-mb", type=float, help="the TREC run's system size in MB, if known (else unknown)")
    c.add_argument("--params", type=int, help="the TREC run's model parameters, if known (else unknown)")
    files_import = c.get_default("func")

    def cmd_import(args, store, s):
        if args.bench:
            return cmd_import_trec(args, store, s)
        for path in map(Path, args.paths):
            if _looks_like_trec_run(path):
                raise ValueError(f"{path} looks like a TREC run file: import it against a benchmark with --bench ID "
                                 "(python -m backend bench list shows them)")
        return files_import(args, store, s)
    c.set_defaults(func=cmd_import)
    c = sub.add_parser("metrics", help="score a TREC run against TREC qrels as trec_eval does (CSV per query)")
    c.add_argument("qrels", type=Path, help="qrels: query-id iteration doc-id relevance (graded, several per query)")
    c.add_argument("run", type=Path, help="run: query-id Q0 doc-id rank score tag (fields after the tag ignored)")
    c.add_argument("-o", "--output", default="-", help="CSV file to write (default '-': stdout)")
    c.add_argument("--metric", action="append", metavar="NAME",
                   help="ndcg@K, recall@K, p@K, mrr, mrr@K or map (repeat; default: ndcg@10 mrr recall@10 map p@5)")
    c.add_argument("-c", "--complete", action="store_true",
                   help="as trec_eval -c: queries of the qrels that the run lacks score 0 (default: ignored)")
    c.set_defaults(func=cmd_metrics)


def _looks_like_trec_run(path: Path) -> bool:
    from backend.importers import regular_file
    if not regular_file(path):  # a folder, or a FIFO that would block a read: the importers say what it is
        return False
    try:
        with open(path, encoding="utf-8") as f:
            first = next((line.split() for line in f if line.strip()), [])
    except (OSError, UnicodeDecodeError):
        return False
    return len(first) >= 6 and first[1].upper() == "Q0"


def cmd_import_trec(args, store, s):
    """One TREC run file against a benchmark, stored as a run (all or nothing)."""
    from backend import catalog
    from backend.bench import dataset
    from backend.retrieval.trecrun import import_run
    if len(args.paths) != 1:
        raise ValueError("import --bench takes one TREC run file; import each run on its own")
    if args.format:
        raise ValueError("--bench imports a TREC run file; leave out --format")
    bench = dataset.load(args.bench, s.bench_dir)
    record = import_run(args.paths[0], bench, args.run_id, args.name, args.disk_mb, args.params)
    for note in record.provenance.get("import_notes") or []:
        print(f"note: {note}")
    result = catalog.write_and_ingest([record], store, s.runs_dir, replace=args.replace)
    scores = " ".join(f"{m['language']} ndcg@10 {m['value']:.4f}" for m in record.metrics if m["metric"] == "ndcg@10")
    print(f"{record.run_id}: {'imported' if result.added else 'replaced' if result.replaced else 'unchanged'} "
          f"({scores}) -> {store.path}")


def cmd_metrics(args, store, s):
    """CSV query_id, metric, value; query_id 'all' holds the means over the queries scored."""
    import pandas as pd

    from backend.retrieval import graded, trecfiles
    metrics = list(dict.fromkeys(args.metric or graded.DEFAULT_METRICS))
    for name in metrics:
        graded.parse_metric(name)
    queries, values = graded.score(trecfiles.read_qrels(args.qrels), trecfiles.read_run(args.run), metrics,
                                   complete=args.complete)
    if not queries:
        raise ValueError(f"no query of {args.run} is judged in {args.qrels}; check that the query ids match")
    rows = [(q, m, float(values[m][i])) for i, q in enumerate(queries) for m in metrics]
    means = {m: float(values[m].mean()) for m in metrics}
    rows += [("all", m, v) for m, v in means.items()]
    text = csvexport.to_csv(pd.DataFrame(rows, columns=["query_id", "metric", "value"]))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(" ".join(f"{k} {v:.4f}" for k, v in means.items()) + f" over {len(queries)} queries -> {args.output}")
