"""Command line: ``python -m backend COMMAND``. Library errors become one clean line and exit code 1."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from backend import catalog, compare, csvexport, report, significance, tables
from backend.config import REPO_ROOT, settings
from backend.device import DeviceError, check_name
from backend.runs.first_start import DEFAULTS_KEY
from backend.significance import UNKNOWN as UNKNOWN_NOTE
from backend.store import Store, StoreError

def main(argv=None) -> int:
    # Library load reports (transformers' per-weight "UNEXPECTED ... not ok" tables, its "Loading weights" bars)
    # are not for this terminal: our own progress lines say what is happening.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # libraries' bars (model2vec's "Encoding tokens"): ours report progress
    args = _parser().parse_args(argv)
    try:
        s = settings()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    # The one settings object of this process: the environment's, with this command's --runs-dir / --db.
    s = s.override(runs_dir=args.runs_dir, db_path=args.db)
    store = Store(s.db_for(), s.lock_timeout_s)
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
    return 1


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


def cmd_export(args, store, s):
    table, caution = tables.export(args.what, store, s.runs_dir, args.base, args.candidate, args.metric,
                                   evaluation=(args.bench, args.protocol))
    if caution:
        print(f"caution: {caution}", file=sys.stderr)
    text = csvexport.to_csv(table)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    print(f"wrote {len(table)} row(s) to {args.output}", file=sys.stderr if args.output == "-" else sys.stdout)


def cmd_report(args, store, s):
    """A comparison as one file to hand on: HTML (interactive figures, opens offline), Markdown or LaTeX."""
    if args.candidate and not args.base:
        raise ValueError("report --candidate needs --base RUN_ID")
    made = tables.comparison_report(store, s.runs_dir, args.base, args.candidate or [], args.metric,
                                    (args.bench, args.protocol))
    path = report.write(made, args.output)
    print(f"wrote {', '.join(sec.title for sec in made.sections)} -> {path}")


def cmd_metrics(args, store, s):
    """Score a TREC run file against TREC qrels with our metric code and tie rule (check us against pytrec_eval
    or ranx on your own data): CSV query_id, metric, value; query_id 'all' holds the means."""
    from backend.retrieval.metrics import score_trec
    qrels, run = _read_trec(args.qrels, 4, "qrels (qid iter docid relevance)"), _read_trec(args.run, 6, "run (qid Q0 docid rank score tag)")
    per_query, mean = score_trec(
        {q: {d: int(float(v)) for d, v in docs.items()} for q, docs in qrels.items()},
        {q: {d: float(v) for d, v in docs.items()} for q, docs in run.items()})
    import pandas as pd
    rows = [(q, k, v) for q, m in per_query.items() for k, v in m.items()] + [("all", k, v) for k, v in mean.items()]
    text = csvexport.to_csv(pd.DataFrame(rows, columns=["query_id", "metric", "value"]))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(" ".join(f"{k} {v:.4f}" for k, v in mean.items()) + f" over {len(per_query)} queries -> {args.output}")


def _read_trec(path, fields: int, what: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != fields:
            raise ValueError(f"{path}: line {n} has {len(parts)} fields; a TREC {what} line has {fields}")
        qid, docid, value = parts[0], parts[2], parts[3] if fields == 4 else parts[4]
        out.setdefault(qid, {})[docid] = value
    return out


def cmd_speed(args, store, s):
    """Encode speed of several runs' models side by side (interleaved rounds, one process), as ratios."""
    from backend.bench import dataset
    from backend.device import device_for
    from backend.retrieval import speed
    runs = store.runs().set_index("run_id", drop=False)
    ids = [args.base, *[r for r in args.runs if r != args.base]]
    missing = [r for r in ids if r not in runs.index]
    if missing:
        raise ValueError(f"no run {missing[0]!r} in {store.path}; list them with python -m backend runs")
    bench = dataset.load(runs.loc[args.base, "benchmark"] or None, s.bench_dir)
    measurement = speed.measure_runs(runs.loc[ids], args.base, bench, s.cache_dir, args.texts, args.rounds,
                                     memory=not args.no_memory, device=device_for("auto", s.device))
    path = speed.save(measurement, s.runs_dir)
    print(speed.as_table(measurement).to_string(index=False))
    print(f"{speed.describe(measurement)} -> {path}")


def cmd_check(args, store, s):
    """A regression gate for CI: exit 1 when a candidate is significantly worse than the base by more than
    --max-drop in any checked language and metric, one line per failing cell."""
    runs = store.runs().set_index("run_id", drop=False)
    for run_id in [args.base, *args.candidate]:
        if run_id not in runs.index:
            raise ValueError(f"no run {run_id!r} in {store.path}; list them with python -m backend runs")
    for candidate in args.candidate:
        compare.check_comparable(runs.loc[args.base].to_dict(), runs.loc[candidate].to_dict())
    resampling = significance.Resampling(resamples=args.resamples, seed=args.seed)
    table = significance.stored_deltas(store, args.base, args.candidate, resampling)
    keep = table["metric"].isin(args.metric or ["ndcg@10"])
    if args.languages:
        keep &= table["language"].isin(args.languages)
    table = table[keep].copy()
    # The family is the cells checked, not every cell the deltas table holds.
    table["p_adjusted"] = significance.adjust(table["p_value"].to_numpy(), resampling.correction)
    table["verdict"] = [significance.verdict(d, p, m) for d, p, m in zip(table["delta"], table["p_adjusted"],
                                                                          table["metric"])]
    unknown = table[table["verdict"].str.startswith("significance unknown")]
    failing = significance.gate(table, args.max_drop)
    for row in failing.itertuples():
        print(f"FAIL {row.candidate_id} {row.language} {row.metric}: {row.base:.4f} -> {row.candidate:.4f} "
              f"(delta {row.delta:+.4f}, 95% CI [{row.ci_low:+.4f}, {row.ci_high:+.4f}], p_adj {row.p_adjusted:.3g})")
    for row in unknown.itertuples():
        print(f"note: {row.candidate_id} {row.language} {row.metric}: {UNKNOWN_NOTE}", file=sys.stderr)
    print(f"checked {len(table)} cell(s) ({resampling.note()}): {len(failing)} significantly worse by more "
          f"than {args.max_drop}", file=sys.stderr)
    return 1 if len(failing) else 0


def cmd_serve(args, store, s):
    """Migrate, import the reference runs on first start, then run Streamlit bound to 127.0.0.1."""
    from backend.device import device_for
    print(f"device: {device_for('auto', s.device).label()} (Live search; runs choose theirs)", flush=True)
    try:
        report = catalog.seed_reference(store, s.runs_dir, s.reference_dir)
        if report:
            print(f"first start: imported {len(report.result.added)} reference run(s) into {store.path}")
    except catalog.ImportErrors as e:  # the dashboard is still useful without them
        print(f"warning: reference runs not imported:\n{e}", file=sys.stderr)
    if not args.no_default_runs and not store.get_meta(DEFAULTS_KEY):
        # The dashboard opens at once with the reference runs; the default runs appear as they finish
        # (progress here and on the Launch page).
        print("first start: building the default benchmark and making the default runs in the background",
              flush=True)
        subprocess.Popen([sys.executable, "-m", "backend", "--db", str(store.path), "--runs-dir", str(s.runs_dir),
                          "defaults"], cwd=REPO_ROOT)
    env = {**os.environ, "DASHBOARD_DB": str(store.path), "DASHBOARD_RUNS_DIR": str(s.runs_dir),
           "DASHBOARD_DEVICE": s.device}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(args.port),
           "--server.address", args.address]
    print(f"dashboard: http://{args.address}:{args.port}  (Ctrl+C to stop)", flush=True)
    os.execvpe(cmd[0], cmd, env)


def cmd_bench_build(args, store, s):
    from backend.bench import build
    from backend.bench.sources import DEFAULT_SOURCES, SourceSpec
    from backend.progress import Reporter
    if args.csn:
        path = build.build_from_codesearchnet(args.csn, s.bench_dir, args.test_size, args.seed)
    else:
        languages = args.lang or list(DEFAULT_SOURCES)
        sources = None
        if args.source_dir:
            if len(languages) != 1:
                raise ValueError("--from DIR mines one language: add --lang LANGUAGE")
            sources = {languages[0]: SourceSpec(languages[0], "dir", path=args.source_dir)}
        path = build.build(languages, s.bench_dir, s.cache_dir, args.test_size, args.seed, sources,
                           progress=Reporter(None))
    print(f"benchmark {path.name} -> {path}")


def cmd_bench_list(args, store, s):
    """Each built benchmark: test/train pairs per language, and what each language was mined from."""
    import json

    from backend.bench.dataset import manifests
    for manifest in manifests(s.bench_dir):
        data = json.loads(manifest.read_text())
        counts = data["languages"]
        print(manifest.parent.name, " ".join(f"{k}:{v['counts']['test']}/{v['counts']['train']}"
                                              for k, v in counts.items()))
        for language, versions in compare.source_versions(data).items():
            print(f"  {language:10} {versions}")


def cmd_launch(args, store, s):
    from backend.runs.lifecycle import launch
    options = {k: v for k, v in vars(args).items() if k.startswith("opt_")}
    options = {k[4:]: v for k, v in options.items() if v is not None}
    if getattr(args, "executor", "local") == "local":
        for record in launch(args.kind, options, store, s, run_id=getattr(args, "run_id", None)):
            print(f"{record.run_id}: {record.status}")
        return 0
    from backend.runs.executors import Job, run_jobs
    from backend.runs.lifecycle import config_run_id, pin_benchmark
    options = pin_benchmark(args.kind, options, s.bench_dir)
    job = Job(args.kind, options, args.run_id or config_run_id(args.kind, options))
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


def cmd_recipe_list(args, store, s):
    from backend import recipes
    for recipe in recipes.RECIPES.values():
        done, total = recipes.measured_ids(recipe, s.runs_dir, s.bench_dir)
        print(f"{recipe.name:22} {len(done)}/{total} runs done, about {recipe.minutes:.0f} min here · {recipe.title}")


def cmd_recipe_run(args, store, s):
    """Run a recipe's missing runs (its expected time first), then show published vs measured."""
    from backend import recipes
    from backend.runs.executors import already_done, run_jobs
    from backend.runs.supervision import recipe_lock, try_lock
    recipe = recipes.get(args.name)
    lock = try_lock(recipe_lock(s.runs_dir, recipe.name))  # held until this process ends
    if lock is None:
        raise RuntimeError(f"recipe {recipe.name} is already running (another process holds "
                           f"{recipe_lock(s.runs_dir, recipe.name)})")
    planned = recipes.jobs(recipe, s.bench_dir)
    done = {j.run_id for j in already_done(planned, s.runs_dir)}
    todo = [j for j in planned if j.run_id not in done]
    print(f"{recipe.title}: {len(planned)} run(s), {len(done)} done before; expected about "
          f"{recipe.minutes * len(todo) / len(planned):.0f} min on a 2-core CPU machine ({recipe.timing})")
    for difference in recipe.differences:
        print(f"  differs from the published setup: {difference}")
    failed = [j for j in run_jobs(todo, args.executor, store, s, args.ray_address) if j.outcome != "finished"]
    for job in failed:
        print(f"{job.run_id}: {job.outcome}", file=sys.stderr)
    cmd_recipe_show(args, store, s)
    return 1 if failed else 0


def cmd_recipe_show(args, store, s):
    from backend import recipes
    recipe = recipes.get(args.name)
    measured, total = recipes.measured_ids(recipe, s.runs_dir, s.bench_dir)
    table = recipes.comparison(recipe, store.runs(), store.metrics(), measured, s.runs_dir)
    print(f"{recipe.title} — published ({recipe.source}) vs measured here ({len(measured)}/{total} runs done)")
    print(table.drop(columns=["run_id"]).to_string(index=False, max_colwidth=48))
    headline = recipes.headline_table(recipe, table)
    if len(headline):
        print(headline.to_string(index=False))
    if getattr(args, "output", None):
        Path(args.output).write_text(csvexport.to_csv(table), encoding="utf-8")
        print(f"wrote {len(table)} row(s) to {args.output}")


def cmd_defaults(args, store, s):
    from backend.runs.first_start import ensure_default_runs
    made = ensure_default_runs(store, s)
    print("default runs made" if made else "default runs exist already")


def cmd_search(args, store, s):
    """Print both runs' top-k lists for one query: the CLI twin of the Live search page."""
    from backend.device import device_for
    from backend.retrieval import search
    from backend.retrieval.encoders import load_encoder
    device = device_for("auto", s.device)
    runs = store.runs().set_index("run_id", drop=False)
    folder = args.corpus if Path(args.corpus).is_dir() else ""
    language = args.lang if folder else None if args.corpus == "all" else args.corpus
    corpus = search.open_corpus(folder, language, args.bench, s.bench_dir)
    query = search.check_query(args.query)
    lists = []
    for run_id in args.run:
        if run_id not in runs.index:
            raise ValueError(f"no run {run_id!r}; list them with python -m backend runs")
        ref = search.model_ref(runs.loc[run_id].to_dict())
        encoder = load_encoder(ref, s.cache_dir, device)
        index = search.load_or_build_index(encoder, ref, corpus, s.runs_dir / ".index")
        result = search.search(encoder, index, corpus, query, args.k)
        lists.append([h.doc["id"] for h in result.hits])
        print(f"\n== {run_id}  ({index.kind} index over {index.size:,} docs of {corpus.label}; "
              f"encode {result.encode_ms:.1f} ms, search {result.search_ms:.1f} ms)")
        for h in result.hits:
            print(f"{h.rank:3d}  {h.score:.3f}  {h.doc['language']:10} {h.doc['func_name']:30.30} {h.doc['path']}")
    if len(lists) == 2:
        print(f"\noverlap of the top {args.k}: Jaccard {search.jaccard(*lists):.2f}, "
              f"rank-biased overlap {search.rank_biased_overlap(*lists):.2f}")


def cmd_formats(args, store, s):
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
    c = sub.add_parser("runs", help="list the runs (run ids whole)")
    c.add_argument("--ids", action="store_true", help="only the run ids, one per line")
    c.add_argument("--wide", action="store_true", help="do not shorten long names")
    c.set_defaults(func=cmd_runs)
    sub.add_parser("formats", help="list import formats and run kinds").set_defaults(func=cmd_formats)
    sub.add_parser("defaults", help="build the default benchmark and make the default runs (once)").set_defaults(
        func=cmd_defaults)
    c = sub.add_parser("delete", help="delete runs (folders go to runs/.trash/)")
    c.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    c.set_defaults(func=cmd_delete)
    c = sub.add_parser("metrics", help="score a TREC run against TREC qrels with our metrics (CSV per query)")
    c.add_argument("qrels", type=Path)
    c.add_argument("run", type=Path)
    c.add_argument("-o", "--output", default="-", help="CSV file to write (default '-': stdout)")
    c.set_defaults(func=cmd_metrics)
    c = sub.add_parser("speed", help="encode speed of runs' models side by side, as ratios against a base run")
    c.add_argument("runs", nargs="+", metavar="RUN_ID")
    c.add_argument("--base", required=True, help="the run the speed-ups are relative to (e.g. the teacher)")
    c.add_argument("--texts", type=int, default=200, help="benchmark code documents encoded per round (default 200)")
    c.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    c.add_argument("--no-memory", action="store_true", help="skip each model's inference memory (a process each)")
    _device_arg(c)
    c.set_defaults(func=cmd_speed)
    c = sub.add_parser("check", help="regression gate: exit 1 if a candidate is significantly worse than the base")
    c.add_argument("--base", required=True, help="base run id")
    c.add_argument("--candidate", action="append", required=True, help="candidate run id (repeat for several)")
    c.add_argument("--metric", action="append", help="metric to check (repeat; default ndcg@10)")
    c.add_argument("--languages", nargs="+", help="languages to check (default: all the runs share)")
    c.add_argument("--max-drop", type=float, default=0.0, help="allowed drop in the metric's units (default 0)")
    c.add_argument("--resamples", type=int, default=10_000, help="bootstrap / permutation resamples (default 10000)")
    c.add_argument("--seed", type=int, default=0, help="resampling seed (default 0)")
    c.set_defaults(func=cmd_check)
    c = sub.add_parser("export", help="write a table as CSV: runs, metrics, efficiency, deltas or codegen")
    c.add_argument("what", choices=tables.EXPORTS)
    c.add_argument("-o", "--output", required=True, help="CSV file to write ('-' for stdout)")
    c.add_argument("--base", help="base run id (deltas; efficiency: the run speed-ups and retention are relative "
                                  "to, default the teacher)")
    c.add_argument("--candidate", action="append", help="candidate run id (deltas; repeat for several)")
    c.add_argument("--metric", default="ndcg@10", help="score metric (efficiency; default ndcg@10)")
    c.add_argument("--bench", help="efficiency: the benchmark id (default: the one with most runs)")
    c.add_argument("--protocol", help="efficiency: the protocol, e.g. full or csn-1000 (default: the most runs')")
    c.set_defaults(func=cmd_export)
    c = sub.add_parser("report", help="a comparison as one file: report.html (figures, opens offline), .md or .tex")
    c.add_argument("-o", "--output", required=True, type=Path, help="file to write: .html, .md or .tex")
    c.add_argument("--base", help="base run id (without it: efficiency of the main evaluation, all codegen runs)")
    c.add_argument("--candidate", action="append", help="candidate run id (repeat for several)")
    c.add_argument("--metric", default="ndcg@10", help="efficiency score metric (default ndcg@10)")
    c.add_argument("--bench", help="efficiency: the benchmark id")
    c.add_argument("--protocol", help="efficiency: the protocol")
    c.set_defaults(func=cmd_report)
    bench = sub.add_parser("bench", help="build or list code-search benchmarks").add_subparsers(required=True,
                                                                                                metavar="ACTION")
    c = bench.add_parser("build", help="mine a benchmark (default: 6 languages from offline package sources)")
    c.add_argument("--lang", action="append", help="language to mine (repeat; default: all six)")
    c.add_argument("--from", dest="source_dir", help="mine your own repository folder (with one --lang)")
    c.add_argument("--csn", nargs="+", help="official CodeSearchNet files (.jsonl, .jsonl.gz, .parquet) instead")
    c.add_argument("--test-size", type=int, default=1000, help="test pairs per language (default 1000)")
    c.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    c.set_defaults(func=cmd_bench_build)
    bench.add_parser("list", help="list built benchmarks").set_defaults(func=cmd_bench_list)
    _launch_parsers(sub)
    c = sub.add_parser("sweep", help="run a grid of runs from a TOML file, skipping those done (same config)")
    c.add_argument("file", type=Path, help="sweep file with [[grid]] tables (see README)")
    _executor_args(c)
    _device_arg(c)
    c.set_defaults(func=cmd_sweep)
    recipe = sub.add_parser("recipe", help="the research experiments as one-command recipes").add_subparsers(
        required=True, metavar="ACTION")
    recipe.add_parser("list", help="recipes, their runs done and expected time").set_defaults(func=cmd_recipe_list)
    c = recipe.add_parser("run", help="run a recipe's missing runs, then show published vs measured")
    c.add_argument("name")
    _executor_args(c)
    _device_arg(c)
    c.set_defaults(func=cmd_recipe_run)
    c = recipe.add_parser("show", help="published vs measured here for a recipe")
    c.add_argument("name")
    c.add_argument("-o", "--output", help="also write the table as CSV")
    c.set_defaults(func=cmd_recipe_show)
    c = sub.add_parser("search", help="search code with one or two runs' models (the Live search page's twin)")
    c.add_argument("query")
    c.add_argument("--run", action="append", required=True, help="run id whose model searches (repeat for two)")
    c.add_argument("--corpus", default="all", help="a benchmark language, 'all', or a source folder")
    c.add_argument("--lang", default="python", help="language of a source folder corpus (default python)")
    c.add_argument("--bench", help="benchmark id (default: the newest built)")
    c.add_argument("-k", type=int, default=10, help="results per run (default 10)")
    _device_arg(c)
    c.set_defaults(func=cmd_search)
    c = sub.add_parser("serve", help="open the dashboard (imports reference runs on first start)")
    c.add_argument("--port", type=int, default=8501)
    c.add_argument("--address", default="127.0.0.1", help="bind address; 0.0.0.0 exposes it to your network")
    c.add_argument("--no-default-runs", action="store_true",
                   help="skip building the default benchmark and making the default runs on first start")
    _device_arg(c)
    c.set_defaults(func=cmd_serve)
    return p


def _device_arg(c):
    """--device of a command (not launch: there it is the config's option): overrides DASHBOARD_DEVICE for it, and
    for the runs it starts whose config says auto (their run ids stay those of the default)."""
    c.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: $DASHBOARD_DEVICE, itself auto)")


def _executor_args(c):
    c.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: here (default); ray: a task on the Ray cluster at --ray-address / RAY_ADDRESS")
    c.add_argument("--ray-address", help="HOST:PORT of the Ray cluster's head (default: $RAY_ADDRESS)")


def _launch_parsers(sub):
    """``launch KIND --option ...`` with options generated from each launchable kind's config dataclass."""
    import dataclasses

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
        _executor_args(c)
        c.add_argument("--run-id", help="a fixed run id (default: kind, label and start time)")
        c.set_defaults(func=cmd_launch, kind=kind.name)
    c = sub.add_parser("eval", help="evaluate a saved model folder as a run (launch eval --model PATH)")
    c.add_argument("opt_model", metavar="MODEL", help="model folder or teacher short name")
    c.add_argument("--bench", dest="opt_bench", help="benchmark id (default: the newest built)")
    c.add_argument("--max-queries", dest="opt_max_queries", type=int, help="first N test pairs per language")
    c.add_argument("--device", dest="opt_device", help="auto, cpu, cuda, cuda:N or mps (default: $DASHBOARD_DEVICE)")
    c.set_defaults(func=cmd_launch, kind="eval")


if __name__ == "__main__":
    sys.exit(main())
