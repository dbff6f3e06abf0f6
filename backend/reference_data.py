"""The shipped public figures (runs/reference/): built from local clones of their source repositories, pinned by
commit, and compared with what ships (``python -m backend reference refresh``).

* EvalPlus leaderboard (``evalplus/evalplus.github.io``): ``results.json`` kept whole, wrapped with its source;
  the ``evalplus-leaderboard`` importer turns it into runs.
* MTEB results (``embeddings-benchmark/results``): for every model folder with a ``model_meta.json`` and one of
  ``MTEB_TASKS`` scored in one of our languages, one revision folder (the one with the most such tasks), its
  ``model_meta.json`` and task files trimmed to the keys we store, in the repository's own layout
  (``public-mteb/results/<model>/<revision>/``) so the ``mteb`` importer reads it as any MTEB folder.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

EVALPLUS_REPO = "evalplus/evalplus.github.io"
EVALPLUS_FILE = "public-evalplus-leaderboard.json"
EVALPLUS_NOTES = ("EvalPlus leaderboard notes: evaluated with HumanEval+ 0.1.10; models ranked by pass@1 using greedy "
                  "decoding; size is the amount of activated model weight during inference; prompted models use a "
                  "chat setting, the others direct code completion. Published figures, not re-run here.")
MTEB_REPO = "embeddings-benchmark/results"
MTEB_DIR = "public-mteb"
# Code-search tasks the mteb importer reads (their subsets are code languages); only subsets in our languages stay.
MTEB_TASKS = ("CodeSearchNetRetrieval", "COIRCodeSearchNetRetrieval", "CodeSearchNetCCRetrieval", "CosQA",
              "StackOverflowQA", "AppsRetrieval")
SCORE_KEYS = ("hf_subset", "languages", "main_score", "ndcg_at_10", "mrr_at_10", "recall_at_1", "recall_at_5",
              "recall_at_10")
META_KEYS = ("name", "revision", "release_date", "n_parameters", "memory_usage_mb", "memory_usage", "embed_dim",
             "license", "open_weights", "framework", "reference")
COMMITS_FILE = "commits.json"  # in a copy that is not a git checkout: {path in the repository: commit}


@dataclass(frozen=True)
class Pin:
    """Where a copy of a repository came from: one commit for all files, or one per file (``commits.json``)."""
    commit: str | None
    per_file: dict

    def of(self, path: str) -> str | None:
        return self.per_file.get(path, self.commit)


def pin(clone: Path, commit: str | None = None) -> Pin:
    """A clone's commit (``git rev-parse HEAD``), the one given, or its ``commits.json``; ValueError otherwise."""
    clone = Path(clone)
    if not clone.is_dir():
        raise ValueError(f"{clone} is not a folder; give a local clone of the repository")
    per_file = {}
    if (clone / COMMITS_FILE).is_file():
        per_file = json.loads((clone / COMMITS_FILE).read_text())
    if commit is None and (clone / ".git").exists():
        done = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True)
        commit = done.stdout.strip() or None
    if commit is None and not per_file:
        raise ValueError(f"{clone} is not a git checkout: say which commit it is (--evalplus-commit / --mteb-commit)")
    return Pin(commit, per_file)


# -- EvalPlus ----------------------------------------------------------------------------------------------
def build_evalplus(clone: Path, commit: str | None = None) -> dict:
    """The shipped EvalPlus file: the leaderboard's ``results.json`` as published, with its source."""
    from backend.importers.evalplus_board import KEY
    path = Path(clone) / "results.json"
    if not path.is_file():
        raise ValueError(f"{clone} has no results.json; give a clone of {EVALPLUS_REPO}")
    results = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(results, dict):
        raise ValueError(f"{path}: expected an object of models, as the leaderboard publishes it")
    return {KEY: {"repository": EVALPLUS_REPO, "commit": pin(clone, commit).of("results.json"),
                  "path": "results.json", "url": "https://evalplus.github.io/leaderboard.html", "notes": EVALPLUS_NOTES},
            "results": results}


# -- MTEB --------------------------------------------------------------------------------------------------
def trim_task(result: dict) -> dict | None:
    """A task file with only the scores we store, of subsets in our languages; None when none is left."""
    from backend.importers import mteb
    entries, split, _ = mteb._entries(result)
    by_language, _ = mteb._by_language(entries)
    if not by_language:
        return None
    kept = [{k: entry[k] for k in SCORE_KEYS if k in entry} for entry in by_language.values()]
    return {"dataset_revision": result.get("dataset_revision"), "task_name": result.get("task_name"),
            "mteb_version": result.get("mteb_version"), "scores": {split: kept}}


def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=float)


def _model_tasks(folder: Path) -> dict[str, dict]:
    out = {}
    for task in MTEB_TASKS:
        path = folder / f"{task}.json"
        if path.is_file():
            trimmed = trim_task(_read(path))
            if trimmed is not None:
                out[task] = trimmed
    return out


def build_mteb(clone: Path, commit: str | None = None) -> dict[str, dict]:
    """{path under public-mteb/: JSON object} for every model with a code-search task in our languages."""
    clone, files = Path(clone), {}
    results = clone / "results"
    if not results.is_dir():
        raise ValueError(f"{clone} has no results/ folder; give a clone of {MTEB_REPO}")
    where = pin(clone, commit)
    for model_dir in sorted(p for p in results.iterdir() if p.is_dir()):
        options = []
        for folder in sorted(p for p in model_dir.iterdir() if (p / "model_meta.json").is_file()):
            tasks = _model_tasks(folder)
            if tasks:
                options.append((-len(tasks), folder.name, folder, tasks))
        if not options:
            continue
        _, _, folder, tasks = min(options, key=lambda o: o[:2])
        meta = _read(folder / "model_meta.json")
        if not isinstance(meta, dict) or not meta.get("name"):
            continue
        rel = f"results/{model_dir.name}/{folder.name}"
        names = ["model_meta.json", *(f"{t}.json" for t in tasks)]
        trimmed_meta = {k: meta[k] for k in META_KEYS if k in meta}
        trimmed_meta["dashboard"] = {
            "source": "reference",
            "citation": f"MTEB results repository ({MTEB_REPO}), {rel}: published scores, not re-run here",
            "origin": {"repository": MTEB_REPO, "path": rel, "files": {n: where.of(f"{rel}/{n}") for n in names}}}
        files[f"{rel}/model_meta.json"] = trimmed_meta
        for task, trimmed in tasks.items():
            files[f"{rel}/{task}.json"] = trimmed
    return files


def unpin_mteb(shipped: Path, into: Path) -> None:
    """A repository-shaped copy of a shipped MTEB tree (its commits in ``commits.json``): what ``build_mteb`` reads
    to rebuild the same tree (a check that the shipped files are what their source gives)."""
    commits = {}
    for meta_path in Path(shipped).rglob("model_meta.json"):
        meta = _read(meta_path)
        origin = meta.pop("dashboard", {}).get("origin", {})
        rel = origin.get("path") or str(meta_path.parent.relative_to(shipped))
        target = Path(into) / rel
        target.mkdir(parents=True, exist_ok=True)
        (target / "model_meta.json").write_text(json.dumps(meta, indent=1))
        for task in meta_path.parent.glob("*.json"):
            if task.name != "model_meta.json":
                shutil.copyfile(task, target / task.name)
        commits.update({f"{rel}/{name}": c for name, c in origin.get("files", {}).items()})
    (Path(into) / COMMITS_FILE).write_text(json.dumps(commits, indent=1, sort_keys=True))


# -- writing and comparing ---------------------------------------------------------------------------------
def write(reference_dir: Path, evalplus: dict | None, mteb_files: dict[str, dict] | None) -> None:
    """Replace the shipped files (each built whole first, then moved in place)."""
    reference_dir = Path(reference_dir)
    reference_dir.mkdir(parents=True, exist_ok=True)
    if evalplus is not None:
        tmp = reference_dir / (EVALPLUS_FILE + ".tmp")
        tmp.write_text(json.dumps(evalplus, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(reference_dir / EVALPLUS_FILE)
    if mteb_files is not None:
        staging, final = reference_dir / (MTEB_DIR + ".tmp"), reference_dir / MTEB_DIR
        shutil.rmtree(staging, ignore_errors=True)
        for rel, obj in mteb_files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)


def load_records(path: Path) -> dict[str, dict]:
    """{run_id: record dict} of a shipped file or folder; empty when it does not exist yet."""
    from backend.importers import load_path
    if not Path(path).exists():
        return {}
    return {r.run_id: r.to_dict() for r in load_path(Path(path))}


def changes(old: dict[str, dict], new: dict[str, dict]) -> list[str]:
    """One line per run added, removed or changed (values, size, benchmark); commits alone are counted."""
    lines = [f"added {r}" for r in sorted(set(new) - set(old))]
    lines += [f"removed {r}" for r in sorted(set(old) - set(new))]
    repinned = 0
    for run_id in sorted(set(old) & set(new)):
        a, b = old[run_id], new[run_id]
        diff = [k for k in ("metrics", "params", "disk_mb", "benchmark", "protocol", "name") if a.get(k) != b.get(k)]
        if diff:
            lines.append(f"changed {run_id}: {', '.join(diff)}")
        elif (a.get("provenance") or {}).get("commit") != (b.get("provenance") or {}).get("commit"):
            repinned += 1
    if repinned:
        lines.append(f"re-pinned {repinned} run(s) to a new commit, figures unchanged")
    return lines
