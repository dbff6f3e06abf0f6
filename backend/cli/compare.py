"""Comparisons: side-by-side speed, the CI gate, table exports and reports."""
from __future__ import annotations

import sys
from pathlib import Path

from backend import csvexport, report, significance, views
from backend.cli import device_arg
from backend.significance import UNKNOWN as UNKNOWN_NOTE


def _write(text: str, output: str):
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


def cmd_speed(args, store, s):
    """Encode speed of several runs' models side by side (interleaved rounds, one process), as ratios."""
    from backend.bench import dataset
    from backend.device import device_for
    from backend.retrieval import speed
    ids = [args.base, *[r for r in args.runs if r != args.base]]
    runs = views.known_runs(store, ids)
    bench = dataset.load(runs.loc[args.base, "benchmark"] or None, s.bench_dir)
    measurement = speed.measure_runs(runs.loc[ids], args.base, bench, s.cache_dir, args.texts, args.rounds,
                                     memory=not args.no_memory, device=device_for("auto", s.device),
                                     say=lambda message: print(message, flush=True))
    path = speed.save(measurement, s.runs_dir)
    print(speed.as_table(measurement).to_string(index=False))
    print(f"{speed.describe(measurement)} -> {path}")


def cmd_check(args, store, s):
    """A regression gate for CI: exit 1 when a candidate is significantly worse than the base by more than
    --max-drop in any checked language and metric, one line per failing cell; 0 when it holds (a usage or data
    error exits 2, see ``main``)."""
    resampling = significance.Resampling(resamples=args.resamples, seed=args.seed)
    table, failing, unknown = views.check(store, args.base, args.candidate, args.metric, args.languages,
                                          args.max_drop, resampling)
    for row in failing.itertuples():
        print(f"FAIL {row.candidate_id} {row.language} {row.metric}: {row.base:.4f} -> {row.candidate:.4f} "
              f"(delta {row.delta:+.4f}, 95% CI [{row.ci_low:+.4f}, {row.ci_high:+.4f}], p_adj {row.p_adjusted:.3g})")
    for row in unknown.itertuples():
        print(f"note: {row.candidate_id} {row.language} {row.metric}: {UNKNOWN_NOTE}", file=sys.stderr)
    print(f"checked {len(table)} cell(s) ({resampling.note()}): {len(failing)} significantly worse by more "
          f"than {args.max_drop}", file=sys.stderr)
    return 1 if len(failing) else 0


def cmd_export(args, store, s):
    if args.what == "model-index":
        from backend.cli import modelindex
        return modelindex.cmd_export_model_index(args, store, s)
    table, caution = views.export(args.what, store, s.runs_dir, args.base, args.candidate, args.metric,
                                  evaluation=(args.bench, args.protocol))
    if caution:
        print(f"caution: {caution}", file=sys.stderr)
    _write(csvexport.to_csv(table), args.output)
    print(f"wrote {len(table)} row(s) to {args.output}", file=sys.stderr if args.output == "-" else sys.stdout)


def cmd_report(args, store, s):
    """A comparison as one file to hand on: HTML (interactive figures, opens offline), Markdown or LaTeX."""
    if args.candidate and not args.base:
        raise ValueError("report --candidate needs --base RUN_ID")
    made = views.comparison_report(store, s.runs_dir, args.base, args.candidate or [], args.metric,
                                   (args.bench, args.protocol))
    path = report.write(made, args.output)
    print(f"wrote {', '.join(sec.title for sec in made.sections)} -> {path}")


def add_parsers(sub):
    c = sub.add_parser("speed", help="encode speed of runs' models side by side, as ratios against a base run")
    c.add_argument("runs", nargs="+", metavar="RUN_ID")
    c.add_argument("--base", required=True, help="the run the speed-ups are relative to (e.g. the teacher)")
    c.add_argument("--texts", type=int, default=200, help="benchmark code documents encoded per round (default 200)")
    c.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    c.add_argument("--no-memory", action="store_true", help="skip each model's inference memory (a process each)")
    device_arg(c)
    c.set_defaults(func=cmd_speed)
    c = sub.add_parser("check", help="regression gate: exit 0 if it holds, 1 if a candidate is significantly worse "
                                     "than the base, 2 on a usage or data error",
                       description="Regression gate for CI. Exit codes: 0 the gate holds (no checked cell "
                                   "significantly worse by more than --max-drop); 1 regressed (one FAIL line per "
                                   "cell); 2 usage or data error (bad options, an unknown run id, the same run "
                                   "twice, runs evaluated differently, an unreadable database).")
    c.add_argument("--base", required=True, help="base run id")
    c.add_argument("--candidate", action="append", required=True, help="candidate run id (repeat for several)")
    c.add_argument("--metric", action="append", help="metric to check (repeat; default ndcg@10)")
    c.add_argument("--languages", nargs="+", help="languages to check (default: all the runs share)")
    c.add_argument("--max-drop", type=float, default=0.0, help="allowed drop in the metric's units (default 0)")
    c.add_argument("--resamples", type=int, default=10_000, help="bootstrap / permutation resamples (default 10000)")
    c.add_argument("--seed", type=int, default=0, help="resampling seed (default 0)")
    c.set_defaults(func=cmd_check, error_exit=2, reads_only=True)
    c = sub.add_parser("export", help="write a table as CSV: runs, metrics, efficiency, deltas or codegen; or a "
                                      "run's results as Hugging Face model-index YAML (export model-index RUN)")
    c.add_argument("what", choices=[*views.EXPORTS, "model-index"])
    c.add_argument("run", nargs="?", metavar="RUN", help="model-index: the run whose results to write")
    c.add_argument("-o", "--output", required=True, help="CSV file to write ('-' for stdout; model-index: .yaml)")
    c.add_argument("--base", help="base run id (deltas; efficiency: the run speed-ups and retention are relative "
                                  "to, default the teacher)")
    c.add_argument("--candidate", action="append", help="candidate run id (deltas; repeat for several)")
    c.add_argument("--metric", default="ndcg@10", help="score metric (efficiency; default ndcg@10)")
    c.add_argument("--bench", help="efficiency: the benchmark id (default: the one with most runs)")
    c.add_argument("--protocol", help="efficiency: the protocol, e.g. full or csn-1000 (default: the most runs')")
    c.set_defaults(func=cmd_export, reads_only=True)
    c = sub.add_parser("report", help="a comparison as one file: report.html (figures, opens offline), .md or .tex")
    c.add_argument("-o", "--output", required=True, type=Path, help="file to write: .html, .md or .tex")
    c.add_argument("--base", help="base run id (without it: efficiency of the main evaluation, all codegen runs)")
    c.add_argument("--candidate", action="append", help="candidate run id (repeat for several)")
    c.add_argument("--metric", default="ndcg@10", help="efficiency score metric (default ndcg@10)")
    c.add_argument("--bench", help="efficiency: the benchmark id")
    c.add_argument("--protocol", help="efficiency: the protocol")
    c.set_defaults(func=cmd_report, reads_only=True)
