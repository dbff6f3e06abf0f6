"""Writes tests/data/golden/runs/: run.json files shaped as the runners write them (per-query gold ranks,
per-sample codegen results, both protocols, configs equal to the recipes' jobs so recipes find them measured)
and one side-by-side speed measurement. Deterministic (seeded); run once, the files are committed:

    .venv/bin/python -m tests.data.golden.generate

The expected exports are then written by ``tests/test_golden_exports.py --golden-write`` (see its docstring)."""
from __future__ import annotations

import dataclasses
import json
import random
import shutil
from pathlib import Path

from backend import recipes
from backend.codegen.passk import pass_metrics
from backend.retrieval.metrics import metrics_from_ranks
from backend.runs.lifecycle import build_config

HERE = Path(__file__).parent
RUNS = HERE / "runs"
BENCH = "mined-6lang-golden"
LANGUAGES = ["python", "java", "javascript", "go", "php", "ruby"]
QUERIES = 60
NO_BENCH = HERE / "no-benchmark"  # recipes' jobs without a built benchmark: ``bench`` is not pinned


def _job_ids(recipe: str) -> dict[tuple, str]:
    """(kind, sorted options) -> the recipe job's config-hash run id."""
    return {(j.kind, tuple(sorted(j.options.items()))): j.run_id for j in recipes.jobs(recipes.get(recipe), NO_BENCH)}


def _config(kind: str, options: dict) -> dict:
    return dataclasses.asdict(build_config(kind, options))


def _ranks(rng: random.Random, quality: float) -> list[int]:
    """Gold ranks: 1 with probability ``quality``, else 2 or more, further down for a weaker model."""
    return [1 if rng.random() < quality else 2 + int(rng.expovariate(1 / (40 * (1 - quality)))) for _ in range(QUERIES)]


def retrieval_run(run_id: str, kind: str, options: dict, name: str, quality: float, seed: int, created: str,
                  **fields) -> list[dict]:
    """The full-protocol run and its csn-1000 twin, as ``retrieval.runs.evaluate`` writes them."""
    out = []
    for protocol, shift in (("full", 0.0), ("csn-1000", 0.12)):
        rng = random.Random(f"{run_id}/{protocol}/{seed}")
        metrics, queries = [], []
        for i, lang in enumerate(LANGUAGES):
            ranks = _ranks(rng, min(0.95, quality + shift + 0.02 * i))
            metrics += [{"language": lang, "metric": m, "value": v, "n": QUERIES}
                        for m, v in metrics_from_ranks(ranks).items()]
            queries += [{"language": lang, "query_id": f"{BENCH}/{lang}/test/{q}", "gold_rank": r}
                        for q, r in enumerate(ranks)]
        out.append({"schema_version": 1, "run_id": run_id if protocol == "full" else f"{run_id}--{protocol}",
                    "kind": kind, "name": name, "status": "finished", "created_at": created,
                    "finished_at": created.replace("T10", "T11"), "benchmark": BENCH, "protocol": protocol,
                    "config": _config(kind, options), "source": "local",
                    "provenance": {"encoder": name, "protocol_note": f"golden {protocol}"},
                    "metrics": metrics, "queries": queries, **fields})
    return out


def codegen_run(run_id: str, kind: str, options: dict, name: str, quality: float, created: str,
                method: str | None = None, **fields) -> dict:
    rng = random.Random(run_id)
    sets = {"python": ("humaneval-python", 20, 164), "java": ("humaneval-java", 15, 161)}
    problems, problem_sets = [], {}
    for lang, (set_id, count, total) in sets.items():
        ids = [f"{'HumanEval' if lang == 'python' else 'HumanEval-java'}/{i}" for i in range(count)]
        problem_sets[lang] = f"{set_id}#{count}of{total}-golden"
        for pid in ids:
            easy = rng.random()
            for sample in range(5):
                ok = rng.random() < quality * (0.4 + easy)
                problems.append({"language": lang, "problem_id": pid, "sample": sample,
                                 "status": "PASS" if ok else rng.choice(["FAIL", "FAIL", "TIMEOUT", "ERROR"])})
    config = {**_config(kind, options), "problem_sets": problem_sets}
    if method:
        config["method"] = method
    return {"schema_version": 1, "run_id": run_id, "kind": kind, "name": name, "status": "finished",
            "created_at": created, "finished_at": created.replace("T10", "T12"), "benchmark": "humaneval",
            "protocol": "n=5 t=0.8", "model": options["model"], "config": config, "source": "local",
            "provenance": {"model_file": "golden.gguf"}, "problems": problems,
            "metrics": pass_metrics(problems, 5, False), **fields}


def main():
    kd, cg = _job_ids("kd-students"), _job_ids("codegen-lora-vs-full")
    peft = _job_ids("peft-contrastive")

    def kd_id(kind, **options):
        return kd[(kind, tuple(sorted(options.items())))]
    teacher = kd_id("teacher-eval", model="minilm")
    records = [
        *retrieval_run(teacher, "teacher-eval", {"model": "minilm"}, "all-MiniLM-L6-v2", 0.55, 0,
                       "2026-12-01T10:00:00Z", model="minilm", params=22_713_216, disk_mb=86.7,
                       encode_throughput=41.5),
        *retrieval_run(kd_id("m2v-distill", model="minilm", pca_dims=128), "m2v-distill",
                       {"model": "minilm", "pca_dims": 128}, "Model2Vec distill of all-MiniLM-L6-v2 PCA 128", 0.35, 0,
                       "2026-12-01T10:05:00Z", params=3_906_816, disk_mb=15.1, encode_throughput=5120.0,
                       train_seconds=61.0),
        # Its seed twin: the seed groups of the deltas and efficiency pages.
        *retrieval_run("m2v-distill--minilm-pca-128--seed1", "m2v-distill",
                       {"model": "minilm", "pca_dims": 128, "seed": 1},
                       "Model2Vec distill of all-MiniLM-L6-v2 PCA 128", 0.33, 1, "2026-12-01T10:06:00Z",
                       params=3_906_816, disk_mb=15.1, encode_throughput=4980.0, train_seconds=59.0),
        *retrieval_run(kd_id("m2v-contrastive", model="minilm", pca_dims=128), "m2v-contrastive",
                       {"model": "minilm", "pca_dims": 128},
                       "Model2Vec student of all-MiniLM-L6-v2 trained on the pairs", 0.40, 0, "2026-12-01T10:10:00Z",
                       params=3_906_816, disk_mb=15.1, encode_throughput=5003.0, train_seconds=104.0),
        *[r for layers, quality in ((3, 0.5), (1, 0.42)) for signal in ("features", "none") for r in retrieval_run(
            kd_id("kd-student", layers=layers, teacher_signal=signal, steps=400), "kd-student",
            {"layers": layers, "teacher_signal": signal, "steps": 400},
            f"KD student of all-MiniLM-L6-v2: {layers} layers" if signal == "features" else
            f"all-MiniLM-L6-v2's first {layers} layers fine-tuned without a teacher",
            quality - (0.05 if signal == "none" else 0.0), 0, f"2026-12-01T10:{20 + layers * 2 + (signal == 'none')}:00Z",
            params=11_000_000 + layers * 1_800_000, trainable_params=11_000_000 + layers * 1_800_000,
            disk_mb=44.0 + layers * 7, encode_throughput=90.0 / layers, train_seconds=600.0 + 100 * layers
            + (0 if signal == "none" else 200))],
        *retrieval_run(peft[("peft-contrastive", (("method", "lora"),))], "peft-contrastive", {"method": "lora"},
                       "all-MiniLM-L6-v2 + lora", 0.58, 0, "2026-12-01T10:40:00Z", params=22_713_216,
                       trainable_params=73_728, disk_mb=87.0, encode_throughput=39.0, train_seconds=480.0,
                       provenance={"adapter_mb": 0.29}),
    ]
    common = {"model": "qwen2.5-coder-0.5b", "n": 5, "temperature": 0.8}
    finetune = {**common, "limit": 0}
    records += [
        codegen_run(cg[("codegen-eval", tuple(sorted(common.items())))], "codegen-eval", common,
                    "qwen2.5-coder-0.5b (n=5, t=0.8)", 0.45, "2026-12-01T10:00:00Z", params=494_032_768,
                    disk_mb=398.0, peak_memory_mb=900.0, tokens_per_s=55.0),
        codegen_run(cg[("codegen-finetune", tuple(sorted({**finetune, "method": "lora", "steps": 120}.items())))],
                    "codegen-finetune", {**finetune, "method": "lora", "steps": 120},
                    "qwen2.5-coder-0.5b lora on java (120 steps)", 0.5, "2026-12-01T11:00:00Z", method="lora",
                    params=494_032_768, trainable_params=1_081_344, disk_mb=4.2, peak_memory_mb=2400.0,
                    tokens_per_s=48.0, train_seconds=1200.0),
        codegen_run(cg[("codegen-finetune", tuple(sorted({**finetune, "method": "full", "steps": 40}.items())))],
                    "codegen-finetune", {**finetune, "method": "full", "steps": 40},
                    "qwen2.5-coder-0.5b full on java (40 steps)", 0.48, "2026-12-01T12:00:00Z", method="full",
                    params=494_032_768, trainable_params=494_032_768, peak_memory_mb=4100.0, tokens_per_s=51.0,
                    train_seconds=1300.0),
    ]
    shutil.rmtree(RUNS, ignore_errors=True)
    for record in records:
        folder = RUNS / record["run_id"]
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    speed = {"base": teacher, "texts": 200, "rounds": 5, "batch_size": 32, "time": 1764583200.0, "cpu_count": 2,
             "load_before": [1.5, 1.4, 1.3], "load_after": [1.6, 1.5, 1.3],
             "results": [{"run_id": r, "docs_per_s": dps, "speedup": dps / 40.0, "spread": 0.05,
                          "inference_mb": mb, "process_peak_mb": 600.0 + mb}
                         for r, dps, mb in ((teacher, 40.0, 180.0),
                                            (kd_id("m2v-distill", model="minilm", pca_dims=128), 4800.0, 22.0),
                                            (kd_id("kd-student", layers=3, teacher_signal="features", steps=400),
                                             120.0, 95.0))]}
    (RUNS / ".speed").mkdir()
    (RUNS / ".speed" / "1764583200000.json").write_text(json.dumps(speed, indent=1) + "\n")
    short = {"teacher": teacher, "distill": kd_id("m2v-distill", model="minilm", pca_dims=128),
             "kd3": kd_id("kd-student", layers=3, teacher_signal="features", steps=400),
             "kd3_plain": kd_id("kd-student", layers=3, teacher_signal="none", steps=400),
             "peft": peft[("peft-contrastive", (("method", "lora"),))], "seed1": "m2v-distill--minilm-pca-128--seed1",
             "cg_base": records[-3]["run_id"], "cg_lora": records[-2]["run_id"], "cg_full": records[-1]["run_id"]}
    (HERE / "ids.json").write_text(json.dumps(short, indent=1) + "\n")
    print(f"wrote {len(records)} run.json files and one speed measurement under {RUNS}")


if __name__ == "__main__":
    main()
