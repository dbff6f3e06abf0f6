"""Runs in the store: import, rebuild, list, delete, the formats and kinds, the default runs."""
from __future__ import annotations

from backend import catalog, compare


def cmd_import(args, store, s):
    report = catalog.import_paths(args.paths, store=store, runs_dir=s.runs_dir, fmt=args.format, replace=args.replace)
    r = report.result
    for note in report.notes:
        print(f"note: {note}")
    print(f"imported {report.files} path(s): {len(r.added):,} new, {len(r.replaced):,} replaced, "
          f"{len(r.unchanged):,} unchanged run(s) -> {store.path} (write lock held {r.lock_seconds:.2f} s)")


def cmd_rebuild(args, store, s):
    print(f"rebuilt {store.path} from {catalog.rebuild(store, s.runs_dir, s.reference_dir)} run(s) in {s.runs_dir}")


def cmd_runs(args, store, s):
    runs = store.runs()
    if runs.empty:
        print("no runs yet; import some: python -m backend import runs/reference/*")
        return
    if args.ids:  # for scripts: one whole run id per line
        print("\n".join(runs["run_id"]))
        return
    view = compare.runs_view(runs).drop(columns=["created_at", "error"])
    if not args.wide:  # long names shortened; run ids never (delete, export and search need them whole)
        view["name"] = [n if not isinstance(n, str) or len(n) <= 48 else n[:47] + "…" for n in view["name"]]
    print(view.to_string(index=False, max_colwidth=None))


def cmd_delete(args, store, s):
    print(f"deleted {catalog.delete_runs(args.run_ids, store, s.runs_dir)} run(s); folders moved to {s.runs_dir}/.trash/")


def cmd_formats(args, store, s):
    from backend.importers import IMPORTERS
    from backend.kinds import KINDS
    for importer in IMPORTERS.values():
        print(f"format {importer.name:12} {importer.help}")
    for kind in KINDS.values():
        print(f"kind   {kind.name:20} {kind.family:9} {kind.help}")


def cmd_defaults(args, store, s):
    from backend.runs.first_start import ensure_default_runs
    made = ensure_default_runs(store, s)
    print("default runs made" if made else "default runs exist already")


def add_parsers(sub):
    c = sub.add_parser("import", help="import run.json / wide CSV / MTEB results (all or nothing)")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--format", help="force a format instead of detecting it (see: formats)")
    c.add_argument("--replace", action="store_true", help="overwrite runs whose id exists with other content")
    c.set_defaults(func=cmd_import)
    sub.add_parser("rebuild", help="rebuild the DB from runs/ (run folders and stored imported files)").set_defaults(func=cmd_rebuild)
    c = sub.add_parser("runs", help="list the runs (run ids whole)")
    c.add_argument("--ids", action="store_true", help="only the run ids, one per line")
    c.add_argument("--wide", action="store_true", help="do not shorten long names")
    c.set_defaults(func=cmd_runs, reads_only=True)
    sub.add_parser("formats", help="list import formats and run kinds").set_defaults(func=cmd_formats)
    sub.add_parser("defaults", help="build the default benchmark and make the default runs (once)").set_defaults(
        func=cmd_defaults)
    c = sub.add_parser("delete", help="delete runs (folders go to runs/.trash/)")
    c.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    c.set_defaults(func=cmd_delete)
