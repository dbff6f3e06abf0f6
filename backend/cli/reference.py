"""``python -m backend reference refresh``: rebuild the shipped public figures from local clones of their sources."""
from __future__ import annotations

import shutil
from pathlib import Path

from backend import catalog, reference_data


def add_parsers(sub) -> None:
    group = sub.add_parser("reference", help="the shipped public figures (EvalPlus leaderboard, MTEB results)")
    commands = group.add_subparsers(required=True, metavar="ACTION")
    c = commands.add_parser("refresh", help="rebuild runs/reference/public-* from local clones, print what changed, "
                                            "and import the new files")
    c.add_argument("--evalplus", metavar="DIR", help=f"clone of {reference_data.EVALPLUS_REPO}")
    c.add_argument("--mteb", metavar="DIR", help=f"clone of {reference_data.MTEB_REPO}")
    c.add_argument("--evalplus-commit", metavar="SHA", help="the clone's commit when DIR is not a git checkout")
    c.add_argument("--mteb-commit", metavar="SHA", help="the clone's commit when DIR is not a git checkout")
    c.add_argument("--out", metavar="DIR", help="reference folder to rewrite (default: the settings' reference_dir)")
    c.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    c.add_argument("--no-import", action="store_true", help="write the files but leave the DB as it is")
    c.set_defaults(func=cmd_reference_refresh)


def cmd_reference_refresh(args, store, s):
    if not (args.evalplus or args.mteb):
        raise ValueError("give --evalplus DIR and/or --mteb DIR (local clones of the source repositories)")
    out = Path(args.out or s.reference_dir)
    targets = []
    evalplus = mteb = None
    if args.evalplus:
        evalplus = reference_data.build_evalplus(Path(args.evalplus), args.evalplus_commit)
        targets.append(out / reference_data.EVALPLUS_FILE)
    if args.mteb:
        mteb = reference_data.build_mteb(Path(args.mteb), args.mteb_commit)
        targets.append(out / reference_data.MTEB_DIR)
    old = {k: v for t in targets for k, v in reference_data.load_records(t).items()}
    staged = out / ".refresh-preview"  # the new files, read back through the importers before anything is replaced
    reference_data.write(staged, evalplus, mteb)
    new = {k: v for t in targets for k, v in reference_data.load_records(staged / t.name).items()}
    lines = reference_data.changes(old, new)
    for line in lines:
        print(line)
    print(f"{len(new):,} public run(s) from {len(targets)} source(s); {len(lines)} change line(s)")
    if args.dry_run:
        shutil.rmtree(staged, ignore_errors=True)
        return 0
    reference_data.write(out, evalplus, mteb)
    shutil.rmtree(staged, ignore_errors=True)
    if not args.no_import:
        report = catalog.import_paths(targets, store=store, runs_dir=s.runs_dir, replace=True)
        print(f"imported: {len(report.result.added):,} new, {len(report.result.replaced):,} replaced, "
              f"{len(report.result.unchanged):,} unchanged run(s) -> {store.path}")
    return 0
