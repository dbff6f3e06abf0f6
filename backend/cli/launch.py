"""Making runs: launch one of a registered kind (or eval a model folder), run a sweep's grid."""
from __future__ import annotations

from backend.cli import device_arg


def cmd_launch(args, store, s):
    from backend.runs.lifecycle import launch
    options = {k: v for k, v in vars(args).items() if k.startswith("opt_")}
    options = {k[4:]: v for k, v in options.items() if v is not None}
    if getattr(args, "executor", "local") == "local":
        for record in launch(args.kind, options, store, s, run_id=getattr(args, "run_id", None)):
            print(f"{record.run_id}: {record.status}")
        return 0
    from backend.runs.executors import PlannedRun, run_jobs
    from backend.runs.lifecycle import config_run_id, pin_benchmark
    options = pin_benchmark(args.kind, options, s.bench_dir)
    job = PlannedRun(args.kind, options, args.run_id or config_run_id(args.kind, options))
    [job] = run_jobs([job], args.executor, store, s, args.ray_address)
    print(f"{job.run_id}: {job.outcome}")
    return 0 if job.outcome == "finished" else 1


def cmd_sweep(args, store, s):
    from backend.runs.executors import already_done, expand_sweep, run_jobs
    jobs = expand_sweep(args.file, s.bench_dir)
    done = {j.run_id for j in already_done(jobs, s.runs_dir)}
    todo = [j for j in jobs if j.run_id not in done]
    print(f"{len(jobs)} run(s) in the grid: {len(done)} done before (same config), {len(todo)} to run "
          f"on {args.executor}")
    for job in run_jobs(todo, args.executor, store, s, args.ray_address):
        print(f"{job.run_id}: {job.outcome}")
    return 0 if all(j.outcome == "finished" for j in todo) else 1


def executor_args(c):
    """--executor and --ray-address, shared by every command that makes runs."""
    c.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: here (default); ray: a task on the Ray cluster at --ray-address / RAY_ADDRESS")
    c.add_argument("--ray-address", help="HOST:PORT of the Ray cluster's head (default: $RAY_ADDRESS)")


def add_parsers(sub):
    """``launch KIND --option ...`` with options generated from each launchable kind's config dataclass, ``eval``
    and ``sweep``."""
    import dataclasses
    from pathlib import Path

    from backend.kinds import KINDS
    launch = sub.add_parser("launch", help="run a registered run kind").add_subparsers(required=True, metavar="KIND")
    for kind in KINDS.values():
        if not kind.runner:
            continue
        c = launch.add_parser(kind.name, help=kind.help)
        config_cls = kind.load()[1]
        for f in dataclasses.fields(config_cls):
            # Strings stay strings here: options.convert (the one conversion) types and checks them in launch.
            c.add_argument(f"--{f.name.replace('_', '-')}", dest=f"opt_{f.name}", choices=f.metadata.get("choices"),
                           metavar=None if f.metadata.get("choices") else f.name.upper(),
                           help=f"{f.metadata.get('help', '')} (default: {f.default!r})")
        executor_args(c)
        c.add_argument("--run-id", help="a fixed run id (default: kind, label and start time)")
        c.set_defaults(func=cmd_launch, kind=kind.name)
    c = sub.add_parser("eval", help="evaluate a saved model folder as a run (launch eval --model PATH)")
    c.add_argument("opt_model", metavar="MODEL", help="model folder or teacher short name")
    c.add_argument("--bench", dest="opt_bench", help="benchmark id (default: the newest built)")
    c.add_argument("--max-queries", dest="opt_max_queries", type=int, help="first N test pairs per language")
    c.add_argument("--device", dest="opt_device", help="auto, cpu, cuda, cuda:N or mps (default: $DASHBOARD_DEVICE)")
    c.set_defaults(func=cmd_launch, kind="eval")
    c = sub.add_parser("sweep", help="run a grid of runs from a TOML file, skipping those done (same config)")
    c.add_argument("file", type=Path, help="sweep file with [[grid]] tables (see README)")
    executor_args(c)
    device_arg(c)
    c.set_defaults(func=cmd_sweep)
