"""Research recipes: list them, run one's missing runs, show published vs measured."""
from __future__ import annotations

import sys
from pathlib import Path

from backend import csvexport, views
from backend.cli import device_arg
from backend.cli.launch import executor_args


def cmd_recipe_list(args, store, s):
    from backend import recipes
    for recipe in recipes.RECIPES.values():
        done, total = recipes.measured_ids(recipe, s.runs_dir, s.bench_dir)
        print(f"{recipe.name:22} {len(done)}/{total} runs done, about {recipe.minutes:.0f} min here · {recipe.title}")


def cmd_recipe_run(args, store, s):
    """Run a recipe's missing runs (its expected time first), then show published vs measured."""
    from backend import recipes
    from backend.runs.executors import run_jobs
    from backend.processes import try_lock
    from backend.runs.supervision import recipe_lock
    recipe = recipes.get(args.name)
    lock = try_lock(recipe_lock(s.runs_dir, recipe.name))  # held until this process ends
    if lock is None:
        raise RuntimeError(f"recipe {recipe.name} is already running (another process holds "
                           f"{recipe_lock(s.runs_dir, recipe.name)})")
    planned, todo = recipes.missing(recipe, s.runs_dir, s.bench_dir)
    absent = recipes.missing_models(recipe, s.cache_dir) if todo else []
    if absent:  # refused before any run starts: a run hours in would fail on it
        raise ValueError(f"recipe {recipe.name} needs {', '.join(f'{m.model} ({m.size})' if m.size else m.model for m in absent)}"
                         f", not installed here; install it with: {' && '.join(m.install for m in absent)}")
    print(f"{recipe.title}: {len(planned)} run(s), {len(planned) - len(todo)} done before; expected about "
          f"{recipe.minutes * len(todo) / len(planned):.0f} min on a 2-core CPU machine ({recipe.timing}), up to "
          f"{recipe.disk_mb:,.0f} MB on disk ({recipe.disk or 'its runs'})")
    for difference in recipe.differences:
        print(f"  differs from the published setup: {difference}")
    failed = [j for j in run_jobs(todo, args.executor, store, s, args.ray_address) if j.outcome != "finished"]
    for job in failed:
        print(f"{job.run_id}: {job.outcome}", file=sys.stderr)
    cmd_recipe_show(args, store, s)
    return 1 if failed else 0


def cmd_recipe_show(args, store, s):
    view = views.recipe(store, s.runs_dir, s.bench_dir, args.name)
    from backend import recipes
    recipe, table = recipes.get(args.name), view.table
    print(f"{recipe.title} — published ({recipe.source}) vs measured here ({len(view.measured)}/{view.total} runs done)")
    print(table.drop(columns=["run_id"]).to_string(index=False, max_colwidth=48))
    if len(view.headline):
        print(view.headline.to_string(index=False))
    if getattr(args, "output", None):
        Path(args.output).write_text(csvexport.to_csv(table), encoding="utf-8")
        print(f"wrote {len(table)} row(s) to {args.output}")


def add_parsers(sub):
    recipe = sub.add_parser("recipe", help="the research experiments as one-command recipes").add_subparsers(
        required=True, metavar="ACTION")
    recipe.add_parser("list", help="recipes, their runs done and expected time").set_defaults(func=cmd_recipe_list)
    c = recipe.add_parser("run", help="run a recipe's missing runs, then show published vs measured")
    c.add_argument("name")
    executor_args(c)
    device_arg(c)
    c.set_defaults(func=cmd_recipe_run)
    c = recipe.add_parser("show", help="published vs measured here for a recipe")
    c.add_argument("name")
    c.add_argument("-o", "--output", help="also write the table as CSV")
    c.set_defaults(func=cmd_recipe_show, reads_only=True)
