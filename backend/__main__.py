"""Command line: ``python -m backend COMMAND``. Library errors become one clean line and exit code 1."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from backend import catalog, compare
from backend.config import REPO_ROOT, settings
from backend.store import Store, StoreError

EXPORTS = ("runs", "metrics", "efficiency", "deltas")
RUNS_VIEW = ["run_id", "kind", "name", "status", "source", "benchmark", "protocol", "params", "disk_mb", "languages"]


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        s = settings()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    runs_dir = Path(args.runs_dir) if args.runs_dir else s.runs_dir
    store = Store(Path(args.db) if args.db else s.db_for(runs_dir), s.lock_timeout_s)
    try:
        return args.func(args, store, runs_dir) or 0
    except catalog.ImportErrors as e:
        for failure in e.failures:
            print(f"error: {failure}", file=sys.stderr)
        print(f"nothing imported: {len(e.failures)} file(s) failed; fix them and run the command again",
              file=sys.stderr)
    except (StoreError, compare.ComparisonError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
    return 1


def cmd_import(args, store, runs_dir):
    report = catalog.import_paths(args.paths, store=store, runs_dir=runs_dir, fmt=args.format, replace=args.replace)
    r = report.result
    print(f"imported {report.files} path(s): {len(r.added)} new, {len(r.replaced)} replaced, "
          f"{len(r.unchanged)} unchanged run(s) -> {store.path}")


def cmd_rebuild(args, store, runs_dir):
    print(f"rebuilt {store.path} from {catalog.rebuild(store, runs_dir)} run(s) in {runs_dir}")


def cmd_runs(args, store, runs_dir):
    runs = store.runs()
    if runs.empty:
        print("no runs yet; import some: python -m backend import runs/reference/*")
        return
    print(runs[RUNS_VIEW].to_string(index=False, max_colwidth=48))


def cmd_delete(args, store, runs_dir):
    print(f"deleted {catalog.delete_runs(args.run_ids, store, runs_dir)} run(s); folders moved to {runs_dir}/.trash/")


def cmd_export(args, store, runs_dir):
    table, caution = export_table(args.what, store, args.base, args.candidate, args.metric)
    if caution:
        print(f"caution: {caution}", file=sys.stderr)
    table.to_csv(sys.stdout if args.output == "-" else args.output, index=False)
    print(f"wrote {len(table)} row(s) to {args.output}", file=sys.stderr if args.output == "-" else sys.stdout)


def export_table(what, store, base=None, candidates=None, metric="ndcg@10"):
    """(table, caution text or None): the same tables the pages show, for the CLI's export."""
    if what == "runs":
        return store.runs(), None
    if what == "metrics":
        return store.metrics(), None
    if what == "efficiency":
        return compare.efficiency(store.runs(), store.metrics(), metric), None
    if not base or not candidates:
        raise ValueError("export deltas needs --base RUN_ID and --candidate RUN_ID (see python -m backend runs)")
    runs = store.runs().set_index("run_id", drop=False)
    for run_id in [base, *candidates]:
        if run_id not in runs.index:
            raise ValueError(f"no run {run_id!r} in {store.path}; list them with python -m backend runs")
    cautions = [compare.check_comparable(runs.loc[base].to_dict(), runs.loc[c].to_dict()) for c in candidates]
    table = compare.multi_deltas(store.metrics([base, *candidates]), base, candidates)
    table = table if len(candidates) > 1 else table.drop(columns="candidate_id")
    return table, " ".join(c for c in cautions if c) or None


def cmd_serve(args, store, runs_dir):
    """Migrate, import the reference runs on first start, then run Streamlit bound to 127.0.0.1."""
    try:
        report = catalog.seed_reference(store, Path(settings().reference_dir))
        if report:
            print(f"first start: imported {len(report.result.added)} reference run(s) into {store.path}")
    except catalog.ImportErrors as e:  # the dashboard is still useful without them
        print(f"warning: reference runs not imported:\n{e}", file=sys.stderr)
    env = {**os.environ, "DASHBOARD_DB": str(store.path), "DASHBOARD_RUNS_DIR": str(runs_dir)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(args.port),
           "--server.address", args.address]
    print(f"dashboard: http://{args.address}:{args.port}  (Ctrl+C to stop)", flush=True)
    os.execvpe(cmd[0], cmd, env)


def cmd_formats(args, store, runs_dir):
    from backend.importers import IMPORTERS
    from backend.kinds import KINDS
    for importer in IMPORTERS.values():
        print(f"format {importer.name:12} {importer.help}")
    for kind in KINDS.values():
        print(f"kind   {kind.name:20} {kind.family:9} {kind.help}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m backend", description=__doc__)
    p.add_argument("--db", help="DuckDB file (default: $DASHBOARD_DB or runs/dashboard.duckdb)")
    p.add_argument("--runs-dir", help="runs folder (default: $DASHBOARD_RUNS_DIR or runs/)")
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    c = sub.add_parser("import", help="import run.json / wide CSV / MTEB results (all or nothing)")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--format", help="force a format instead of detecting it (see: formats)")
    c.add_argument("--replace", action="store_true", help="overwrite runs whose id exists with other content")
    c.set_defaults(func=cmd_import)
    sub.add_parser("rebuild", help="rebuild the DB from runs/*/run.json").set_defaults(func=cmd_rebuild)
    sub.add_parser("runs", help="list the runs").set_defaults(func=cmd_runs)
    sub.add_parser("formats", help="list import formats and run kinds").set_defaults(func=cmd_formats)
    c = sub.add_parser("delete", help="delete runs (folders go to runs/.trash/)")
    c.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    c.set_defaults(func=cmd_delete)
    c = sub.add_parser("export", help="write a table as CSV: runs, metrics, efficiency or deltas")
    c.add_argument("what", choices=EXPORTS)
    c.add_argument("-o", "--output", required=True, help="CSV file to write ('-' for stdout)")
    c.add_argument("--base", help="base run id (deltas)")
    c.add_argument("--candidate", action="append", help="candidate run id (deltas; repeat for several)")
    c.add_argument("--metric", default="ndcg@10", help="score metric (efficiency; default ndcg@10)")
    c.set_defaults(func=cmd_export)
    c = sub.add_parser("serve", help="open the dashboard (imports reference runs on first start)")
    c.add_argument("--port", type=int, default=8501)
    c.add_argument("--address", default="127.0.0.1", help="bind address; 0.0.0.0 exposes it to your network")
    c.set_defaults(func=cmd_serve)
    return p


if __name__ == "__main__":
    sys.exit(main())
