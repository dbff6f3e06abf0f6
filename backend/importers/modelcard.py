"""Hugging Face model cards: a ``README.md`` whose YAML front matter has ``model-index`` (or the bare YAML that
``export model-index`` writes). One run per (model, dataset): each result in one of our languages becomes that
language's metrics; results of other tasks or languages are left out, each with its reason (printed by
``import``). MTEB's cards ("MTEB CodeSearchNetRetrieval (python)", values in percent) land on the same
benchmark id as MTEB's own results files (``mteb/<task>@<revision>``), so both are ranked together; this
project's own exports come back on their benchmark id and protocol."""
from __future__ import annotations

import re
from pathlib import Path

from backend import modelindex
from backend.importers.base import read_text, register_importer
from backend.records import SCHEMA_VERSION, RecordError, RunRecord, record_from_dict


def sniff(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() not in (".md", ".yaml", ".yml"):
        return False
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    return b"model-index" in head and (path.suffix.lower() != ".md" or head.lstrip(b"\xef\xbb\xbf").startswith(b"---"))


def load(path: Path) -> list[RunRecord]:
    try:
        card = modelindex.front_matter(read_text(path, "model card"))
    except ValueError as e:
        raise RecordError(str(e)) from None
    models = (card or {}).get("model-index")
    if not isinstance(models, list) or not models:
        raise RecordError("no 'model-index' list in the front matter; a model card's results go under "
                          "model-index: - name: ... results: [...]")
    records, skipped = [], []
    for model in models:
        if not isinstance(model, dict) or not str(model.get("name") or "").strip():
            raise RecordError("each model-index entry needs a 'name' (the model's name)")
        groups: dict[tuple, dict] = {}
        for result in model.get("results") or []:
            dataset = result.get("dataset") if isinstance(result, dict) else None
            if not isinstance(dataset, dict):
                continue
            language = modelindex.language_of(dataset)
            label = str(dataset.get("name") or dataset.get("type") or "?")
            if language is None:
                skipped.append(f"{label}: not a code-search result in one of our languages")
                continue
            rows, notes = modelindex.result_metrics(result)
            if not rows:
                skipped.append(f"{label}: no metric we store (ndcg@10, mrr, recall@k, pass@k, ...)")
                continue
            key = _benchmark(dataset) + (str((result.get("task") or {}).get("type") or ""),)
            group = groups.setdefault(key, {"dataset": dataset, "metrics": [], "notes": set()})
            have = {(m["language"], m["metric"]) for m in group["metrics"]}
            if any((language, r["metric"]) in have for r in rows):
                group["notes"].add(f"{label}: a second {language} result of this dataset (kept the first)")
            group["metrics"] += [{"language": language, **r} for r in rows if (language, r["metric"]) not in have]
            group["notes"] |= {f"{label}: {n}" for n in notes}
        for i, ((benchmark, protocol, _), group) in enumerate(groups.items()):
            records.append(_record(path, model, benchmark, protocol, group, _summary(skipped) if i == 0 else []))
        skipped = []
    if not records:
        raise RecordError(f"no code-search or codegen result in python, java, javascript, go, php or ruby "
                          f"(skipped: {' | '.join(skipped[:5]) or 'none'})")
    return records


def _summary(skipped: list[str]) -> list[str]:
    """What was left out, in a few lines: a card with a hundred MTEB tasks names a few of them."""
    if len(skipped) <= 5:
        return skipped
    return [f"{len(skipped)} results that are not code search in our languages (e.g. "
            f"{'; '.join(s.split(':')[0] for s in skipped[:3])})"]


def _benchmark(dataset: dict) -> tuple[str, str]:
    """(benchmark id, protocol) of a model-index dataset: ours back as written; MTEB's as the MTEB importer
    names it; anything else as its type at its revision."""
    kind, revision = str(dataset.get("type") or "unknown"), str(dataset.get("revision") or "")
    args = dataset.get("args") if isinstance(dataset.get("args"), dict) else {}
    if kind.startswith(modelindex.OWN_DATASET):
        return kind[len(modelindex.OWN_DATASET):], str(args.get("protocol") or "model-card")
    mteb = re.match(r"MTEB (\w+)", str(dataset.get("name") or ""))
    if mteb:
        return f"mteb/{mteb.group(1)}" + (f"@{revision[:8]}" if revision else ""), "mteb"
    return kind + (f"@{revision[:8]}" if revision else ""), str(args.get("protocol") or "model-card")


def _record(path: Path, model: dict, benchmark: str, protocol: str, group: dict, skipped: list[str]) -> RunRecord:
    name = str(model["name"]).strip()
    task = benchmark.split("@")[0].split("/")[-1]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{name.split('/')[-1]}--{task}").strip("-.")[:150] or "model"
    family = modelindex.family_of(group["metrics"])
    return record_from_dict({
        "schema_version": SCHEMA_VERSION, "run_id": f"model-card--{slug}", "name": f"{name} ({task}, model card)",
        "kind": "codegen-eval" if family == "codegen" else "external-retrieval", "model": name,
        "benchmark": benchmark, "protocol": protocol, "source": "imported", "metrics": group["metrics"],
        "provenance": {"format": "model-card", "file": path.name, "dataset_type": group["dataset"].get("type"),
                       "dataset_revision": group["dataset"].get("revision"),
                       "notes": sorted(group["notes"]) or None,
                       "import_notes": [f"{name}: left out {s}" for s in skipped] or None},
    })


register_importer("model-card", sniff=sniff, load=load,
                  help="a Hugging Face model card (README.md) with model-index results in its front matter, or the "
                       "YAML export model-index writes")
