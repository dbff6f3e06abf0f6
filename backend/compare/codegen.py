"""The codegen table (pass@k per run and language) and the problems that flipped between two runs."""
from __future__ import annotations

import json

import pandas as pd

from backend.compare.comparability import problem_sets
from backend.vocab import (
    PASS_METRICS,
)


def codegen_table(runs: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (codegen run, language) with its pass@k values, size, memory and method (colour)."""
    passk = metrics[metrics["metric"].str.startswith("pass@")]
    wide = passk.pivot_table(index=["run_id", "language"], columns="metric", values="value").reset_index()
    problems = passk[passk["metric"] == "pass@1"][["run_id", "language", "n"]].rename(columns={"n": "problems"})
    wide = wide.merge(problems, on=["run_id", "language"], how="left")
    cols = ["run_id", "name", "kind", "source", "model", "protocol", "params", "trainable_params", "peak_memory_mb",
            "disk_mb", "tokens_per_s", "train_seconds", "config", "status", "benchmark"]
    table = runs[cols].merge(wide, on="run_id")
    table["method"] = [_method(kind, config) for kind, config in zip(table["kind"], table["config"])]
    table["params_m"] = table["params"] / 1e6
    table["problem_set"] = [problem_sets(row).get(lang) or row["benchmark"]
                            for row, lang in zip(table.to_dict("records"), table["language"])]
    # Runs over different problems of one language are drawn apart, never in one facet.
    per_language = table.groupby("language")["problem_set"].transform("nunique")
    table["facet"] = [lang if k == 1 else f"{lang} · {ps}" for lang, ps, k in
                      zip(table["language"], table["problem_set"], per_language)]
    order = ["name", "language", "problem_set", "method", *[c for c in PASS_METRICS if c in table],
             "problems", "params_m", "peak_memory_mb", "tokens_per_s", "train_seconds", "trainable_params",
             "protocol", "source", "model", "run_id", "facet"]
    return table[order].sort_values(["language", "name"]).reset_index(drop=True)


def _method(kind: str, config) -> str:
    """Colour group of a codegen run: base model, or the fine-tuning method."""
    try:
        method = json.loads(config or "{}").get("method")
    except ValueError:
        method = None
    return f"{method} fine-tuned" if kind == "codegen-finetune" and method else "base"


def flipped_problems(problems: pd.DataFrame, run_a: str, run_b: str) -> pd.DataFrame:
    """Problems whose pass rate differs between two runs (same language and problem id): gains first."""
    rate = (problems.assign(passed=problems["status"] == "PASS")
            .groupby(["run_id", "language", "problem_id"])["passed"].mean().reset_index())
    a = rate[rate["run_id"] == run_a].drop(columns="run_id").rename(columns={"passed": "pass_rate_a"})
    b = rate[rate["run_id"] == run_b].drop(columns="run_id").rename(columns={"passed": "pass_rate_b"})
    both = a.merge(b, on=["language", "problem_id"])
    both["change"] = both["pass_rate_b"] - both["pass_rate_a"]
    flipped = both[both["change"] != 0].copy()
    flipped["flip"] = flipped["change"].map(lambda c: "now passes" if c > 0 else "now fails")
    return flipped.sort_values(["change", "language", "problem_id"], ascending=[False, True, True]).reset_index(drop=True)
