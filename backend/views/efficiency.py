"""Efficiency with speed-ups and its figures (the Efficiency page, ``export efficiency``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backend import compare, figures, public_view
from backend.kinds import kinds_of
from backend.views.base import Figure, View, columns_first, known_runs, one_evaluation, score_intervals
from backend.vocab import METRICS


# What the Efficiency page is for, first in its grid (at 1,280 px these fit beside the name): the score, the
# speed-up and the score per MB / per million params, then what they are made of.
SHOWN_FIRST = ("name", "score", "speedup", "score_per_mb", "score_per_mparams", "retention", "disk_mb", "params_m",
               "inference_mb", "trainable_pct", "encode_throughput", "speedup_basis", "score_ci_low", "score_ci_high",
               "speed_device")


def efficiency_scores(stored) -> tuple[list[str], str]:
    """(the scores the Efficiency page offers among the stored metric names: higher is better, the default)."""
    available = [m for m in METRICS if m in set(stored) and METRICS[m].direction.value == "higher"]
    return available, "ndcg@10" if "ndcg@10" in available else available[0]


def efficiency_columns(table: pd.DataFrame) -> list[str]:
    """The Efficiency grid's column order (``export efficiency`` keeps its own)."""
    return columns_first(table, SHOWN_FIRST)


def efficiency(store, runs_dir: Path, metric: str = "ndcg@10", bench: str | None = None,
               protocol: str | None = None, run_ids=None, speed_base: str | None = None,
               mixed: bool = False, language: str | None = None, public: bool = True) -> View:
    """Score per MB and per million params with speed-ups and retention against a base (the Efficiency page,
    ``export efficiency``) for one benchmark and protocol (default: the one with most runs; a Pareto front across
    evaluations would mean nothing) — or, ``mixed``, every retrieval run. ``base``: the run speed-ups are
    relative to (default: the teacher). ``language``: that language's score (and its Pareto front) instead of
    the mean; ``public``: with the public leaderboards' models."""
    from backend.retrieval import speed
    runs = store.runs() if run_ids is None else known_runs(store, run_ids).loc[list(run_ids)].reset_index(drop=True)
    runs = public_view.shown(runs[~runs["kind"].isin(kinds_of("codegen"))], public)  # code LMs: codegen
    notes = []
    if speed_base and bench is None and protocol is None and speed_base in set(runs["run_id"].tolist()):
        based = runs.set_index("run_id").loc[speed_base]  # the base's own evaluation
        bench, protocol = based["benchmark"] or "", based["protocol"] or ""
    if not mixed:
        runs, notes = one_evaluation(runs, bench, protocol, "efficiency", "the Pareto front")
    intervals = score_intervals(store, runs["run_id"])
    eff = compare.efficiency(runs, store.metric_by_language(metric), metric, intervals, language)
    base = speed_base or compare.speed_base(eff)
    if speed_base and speed_base not in set(eff["run_id"].tolist()):
        raise ValueError(f"run {speed_base!r} is not in this evaluation's efficiency table (no {metric} score, "
                         "or another benchmark/protocol)")
    measurement = speed.latest(runs_dir, base) if base else None
    if base and not measurement:
        notes.append("speed-ups divide per-run throughputs recorded at different times; measure them side by "
                     f"side with: python -m backend speed --base {base} RUN...")
    table = compare.against_base(eff, base, measurement)
    return View(table, notes=notes, base=base, measurement=measurement, figures=_efficiency_figures(table, metric, base))


def _efficiency_figures(eff: pd.DataFrame, metric: str, base: str | None) -> list[Figure]:
    """The Efficiency page's panels: score against disk, params, inference memory and trainable share where
    runs have them, and retention against speed-up when two or more runs have both."""
    label = METRICS[metric].label if metric in METRICS else metric
    base_name = eff.loc[eff["run_id"] == base, "name"].iloc[0] if base and (eff["run_id"] == base).any() else None
    panels = [(f"{label} vs disk MB", "disk_mb", "disk MB"), (f"{label} vs params", "params_m", "params (millions)")]
    if "inference_mb" in eff and eff["inference_mb"].notna().sum() > 1:  # measured side by side, a process each
        panels.append((f"{label} vs inference memory", "inference_mb", "peak RSS while encoding, MB"))
    if eff["trainable_pct"].notna().any():  # PEFT methods: score against the share of the model they train
        panels.append((f"{label} vs trainable share", "trainable_pct", "trainable params (% of the model, log)"))
    out = []
    for title, size, size_label in panels:
        # The base (the untrained teacher by default) as a line: what training has to beat.
        reference = (base_name, eff.loc[eff["run_id"] == base, "score"].iloc[0]) \
            if size == "trainable_pct" and base_name else None
        out.append(Figure(title, figures.efficiency_scatter, (eff, size, size_label, label), {"reference": reference},
                          missing=size))
    if base and eff[["speedup", "retention"]].notna().all(axis=1).sum() > 1:
        out.append(Figure("Retention vs encode speed-up (marker size: disk MB)", figures.retention_scatter,
                          (eff, base_name, label)))
    return out
