"""CLI for TREC files: ``metrics QRELS RUN`` (score a run as trec_eval does) and ``import RUN --bench ID`` (a
run file from any system as a run of a benchmark here)."""
from __future__ import annotations

import sys
from pathlib import Path

from backend import csvexport


def add_parsers(sub):
    c = sub.add_parser("metrics", help="score a TREC run against TREC qrels as trec_eval does (CSV per query)")
    c.add_argument("qrels", type=Path, help="qrels: query-id iteration doc-id relevance (graded, several per query)")
    c.add_argument("run", type=Path, help="run: query-id Q0 doc-id rank score tag (fields after the tag ignored)")
    c.add_argument("-o", "--output", default="-", help="CSV file to write (default '-': stdout)")
    c.add_argument("--metric", action="append", metavar="NAME",
                   help="ndcg@K, recall@K, p@K, mrr, mrr@K or map (repeat; default: ndcg@10 mrr recall@10 map p@5)")
    c.add_argument("-c", "--complete", action="store_true",
                   help="as trec_eval -c: queries of the qrels that the run lacks score 0 (default: ignored)")
    c.set_defaults(func=cmd_metrics)


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
