"""Command line: ``python -m backend COMMAND``. Library errors become one clean line and exit code 1 (2 for a
command whose 1 means something else, e.g. ``check``'s "regressed": its parser sets ``error_exit=2``)."""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from backend import catalog, compare, views
from backend.cli import bench as bench_cli
from backend.cli import compare as compare_cli
from backend.cli import docs as docs_cli
from backend.cli import launch as launch_cli
from backend.cli import leaderboard as leaderboard_cli
from backend.cli import recipes as recipes_cli
from backend.cli import reference as reference_cli
from backend.cli import runs as runs_cli
from backend.cli import search as search_cli
from backend.cli import serve as serve_cli
from backend.cli import trec as trec_cli
from backend.config import settings
from backend.device import DeviceError, check_name
from backend.store import Store, StoreError


def main(argv=None) -> int:
    # Library load reports (transformers' per-weight "UNEXPECTED ... not ok" tables, its "Loading weights" bars)
    # are not for this terminal: our own progress lines say what is happening.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # libraries' bars (model2vec's "Encoding tokens"): ours report progress
    args = _parser().parse_args(argv)
    failed = getattr(args, "error_exit", 1)  # exit code of a usage or data error
    try:
        s = settings()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return failed
    # The one settings object of this process: the environment's, with this command's --runs-dir / --db.
    s = s.override(runs_dir=args.runs_dir, db_path=args.db)
    store = Store(s.db_for(), s.lock_timeout_s)
    if getattr(args, "reads_only", False):  # export, report, check, leaderboard, recipe show
        store = views.Snapshot(store)
    try:
        if getattr(args, "device", None):  # speed, search, serve, sweep, recipe run: over DASHBOARD_DEVICE
            s = s.with_device(check_name(args.device))
        return args.func(args, store, s) or 0
    except catalog.ImportErrors as e:
        for failure in e.failures:
            print(f"error: {failure}", file=sys.stderr)
        print(f"nothing imported: {len(e.failures)} file(s) failed; fix them and run the command again",
              file=sys.stderr)
    except DeviceError as e:  # asked for a device this machine does not have: a usage error, like argparse's
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (StoreError, compare.ComparisonError, ValueError, OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
    except Exception:  # a crash is no verdict: where 1 means "regressed", it must not exit 1
        if failed == 1:
            raise
        traceback.print_exc()
    return failed


def _parser() -> argparse.ArgumentParser:
    """Every command group adds its commands here, one line each (backend/cli/<group>.py)."""
    p = argparse.ArgumentParser(prog="python -m backend", description=__doc__)
    p.add_argument("--db", help="DuckDB file (default: $DASHBOARD_DB or runs/dashboard.duckdb)")
    p.add_argument("--runs-dir", help="runs folder (default: $DASHBOARD_RUNS_DIR or runs/)")
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    runs_cli.add_parsers(sub)
    trec_cli.add_parsers(sub)  # after runs: it teaches ``import`` TREC run files
    compare_cli.add_parsers(sub)
    bench_cli.add_parsers(sub)
    launch_cli.add_parsers(sub)
    recipes_cli.add_parsers(sub)
    search_cli.add_parsers(sub)
    serve_cli.add_parsers(sub)
    leaderboard_cli.add_parsers(sub)
    reference_cli.add_parsers(sub)
    docs_cli.add_parsers(sub)
    p.set_defaults(parser=p)  # for docs-cli, which renders the very parser it was called from
    return p


if __name__ == "__main__":
    sys.exit(main())
