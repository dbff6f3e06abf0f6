"""``python -m backend leaderboard``: every run of one evaluation ranked per language and on the mean, with rank
intervals and tiers, as CSV (the Leaderboard page's table)."""
from __future__ import annotations

import sys
from pathlib import Path


def add_parsers(sub):
    c = sub.add_parser("leaderboard", help="rank every run of one evaluation per language and on the mean, with "
                                           "95 %% rank intervals and tiers (CSV)")
    c.add_argument("-o", "--output", required=True, help="CSV file to write ('-' for stdout)")
    c.add_argument("--bench", help="benchmark id (default: the evaluation with most runs)")
    c.add_argument("--protocol", help="protocol, e.g. full or csn-1000 (default: the most runs')")
    c.add_argument("--metric", help="metric to rank by (default ndcg@10; codegen: pass@1)")
    c.add_argument("--languages", nargs="+", help="languages (default: every language a run has)")
    c.add_argument("--max-disk-mb", type=float, help="budget: list only runs of at most this disk size")
    c.add_argument("--max-params", type=float, help="budget: at most this many parameters")
    c.add_argument("--max-memory-mb", type=float,
                   help="budget: at most this inference memory (measured side by side; codegen: peak memory)")
    c.add_argument("--min-speedup", type=float, help="budget: at least this side-by-side encode speed-up")
    c.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    c.add_argument("--seed", type=int, default=0, help="resampling seed (default 0)")
    c.add_argument("--no-public", action="store_true", help="leave out published and imported runs")
    c.add_argument("--codegen", action="store_true", help="rank codegen runs by pass@k instead")
    c.add_argument("--codegen-set", help="codegen: the problem set to rank on (default: the most runs')")
    c.set_defaults(func=cmd_leaderboard, reads_only=True)


def cmd_leaderboard(args, store, s):
    from backend import csvexport, significance, views
    from backend.leaderboard import Budget
    budget = Budget(args.max_disk_mb, args.max_params, args.max_memory_mb, args.min_speedup)
    board = views.leaderboard(
        store, s.runs_dir, args.metric, args.bench, args.protocol, budget,
        significance.Resampling(resamples=args.resamples, seed=args.seed), args.languages,
        public=not args.no_public, codegen=args.codegen, codegen_set=args.codegen_set)
    table, notes = board.table, board.notes
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    text = csvexport.to_csv(table)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    print(f"wrote {len(table)} row(s) to {args.output}", file=sys.stderr if args.output == "-" else sys.stdout)
