"""Score per disk MB and per million parameters, Pareto flags, speed-ups and retention against a base."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from backend import device
from backend.compare.runs import json_object
from backend.frames import row_means
from backend.pareto import pareto_front
from backend.vocab import (
    Language,
)


def run_scores(values: pd.DataFrame) -> pd.DataFrame:
    """One score per run of one metric by language (``frames.by_language``): its published ``overall`` value if
    stored, else the mean over its languages."""
    if values.empty:
        return pd.DataFrame(columns=["run_id", "score", "basis"])
    mean, count = row_means(values.drop(columns=Language.OVERALL.value, errors="ignore"))
    out = pd.DataFrame({"score": mean, "count": count}, index=values.index)
    out["basis"] = out["count"].map({n: f"mean of {n} languages" for n in out["count"].unique()})  # once each
    out = out.drop(columns="count")
    if Language.OVERALL.value in values:
        overall = values[Language.OVERALL.value].notna()
        out.loc[overall, "score"] = values.loc[overall, Language.OVERALL.value]
        out.loc[overall, "basis"] = "published overall"
    return out.rename_axis("run_id").reset_index()


def _size_basis(provenance) -> str:
    """What a run's ``disk_mb`` measures: the run's own word for it (an MTEB import: memory_usage_mb), else disk."""
    try:
        value = json.loads(provenance).get("size_basis") if isinstance(provenance, str) else None
    except (ValueError, AttributeError):
        value = None
    return value or "disk"


def _provenance_reader():
    """(size basis, adapter MB, speed device) of a run's provenance, each distinct text read once: the runs of
    an imported file share one provenance (100,000 runs, one parse)."""
    seen: dict[str, tuple] = {}

    def read(provenance) -> tuple:
        if isinstance(provenance, str) and provenance in seen:
            return seen[provenance]
        obj = json_object(provenance)
        facts = (_size_basis(provenance), obj.get("adapter_mb"), device.of_record(obj))
        if isinstance(provenance, str):
            seen[provenance] = facts
        return facts
    return read


def efficiency(runs: pd.DataFrame, values: pd.DataFrame, metric: str = "ndcg@10",
               intervals: pd.DataFrame | None = None, language: str | None = None) -> pd.DataFrame:
    """Score per disk MB and per million params, with Pareto-front flags (max score, min size), of ``metric``
    by language (``frames.by_language``); with ``language``, the score is that language's alone (runs without
    it are left out)."""
    if language:
        values = values[[language]].dropna() if language in values else values.iloc[0:0, 0:0]
        intervals = None  # the intervals are of the mean over languages
    scores = run_scores(values)
    cols = ["run_id", "name", "kind", "source", "benchmark", "protocol", "params", "trainable_params", "disk_mb",
            "encode_throughput", "provenance"]
    # The runs with a score, in the runs' order, with it (a join by position: merging 100k text keys was most of
    # the table's time).
    at = pd.Index(scores["run_id"]).get_indexer(runs["run_id"])
    out = runs[[c for c in cols if c in runs]][at >= 0].reset_index(drop=True)
    out[["score", "basis"]] = scores[["score", "basis"]].iloc[at[at >= 0]].reset_index(drop=True)
    provenance = out.get("provenance", pd.Series([None] * len(out)))
    read = _provenance_reader()
    codes, distinct = pd.factorize(provenance)  # 100k runs of one import: one provenance text, read once
    known = [read(p) for p in distinct]
    facts = [known[c] if c >= 0 else read(None) for c in codes.tolist()]
    out["size_basis"] = [f[0] for f in facts]
    out["adapter_mb"] = [f[1] for f in facts]
    out["speed_device"] = [f[2] for f in facts]  # where encode_throughput was timed
    out["params_m"] = pd.to_numeric(out["params"], errors="coerce").astype(float) / 1e6
    # Share of the model a run trained (PEFT adapters: a fraction of a percent; full training: 100).
    out["trainable_pct"] = 100 * pd.to_numeric(out["trainable_params"], errors="coerce").astype(float) / (
        out["params_m"] * 1e6)
    out["disk_mb"] = pd.to_numeric(out["disk_mb"], errors="coerce").astype(float)
    # The score's own 95 % interval where the run has per-item results (significance.score_interval).
    ci = (intervals[(intervals["language"] == "mean") & (intervals["metric"] == metric)][["run_id", "ci_low", "ci_high"]]
          if intervals is not None and len(intervals) else pd.DataFrame(columns=["run_id", "ci_low", "ci_high"]))
    if len(ci):
        out = out.merge(ci.rename(columns={"ci_low": "score_ci_low", "ci_high": "score_ci_high"}), on="run_id",
                        how="left")
    else:  # no run here has per-item results (a whole imported file): nothing to join
        out["score_ci_low"], out["score_ci_high"] = np.nan, np.nan
    out.loc[out["basis"] == "published overall", ["score_ci_low", "score_ci_high"]] = np.nan
    out["score"] = out["score"].astype(float)
    out["score_per_mb"] = _per(out["score"], out["disk_mb"])
    out["score_per_mparams"] = _per(out["score"], out["params_m"])
    out["pareto_disk"] = pareto_front(out["score"], out["disk_mb"])
    out["pareto_params"] = pareto_front(out["score"], out["params_m"])
    out["pareto_trainable"] = pareto_front(out["score"], out["trainable_pct"])
    order = ["run_id", "name", "kind", "source", "score", "score_ci_low", "score_ci_high", "basis", "disk_mb",
             "size_basis", "adapter_mb", "params_m", "trainable_pct",
             "score_per_mb", "score_per_mparams", "encode_throughput", "speed_device", "pareto_disk", "pareto_params",
             "pareto_trainable", "benchmark", "protocol"]
    return out[order].sort_values("score_per_mb", ascending=False, na_position="last").reset_index(drop=True)


def relative(eff: pd.DataFrame, base_id: str, column: str) -> pd.Series:
    """``column`` of each run relative to ``base_id``'s: speed-up (encode_throughput) or retention (score)."""
    values = pd.to_numeric(eff[column], errors="coerce").astype(float)
    base = values[eff["run_id"] == base_id]
    if base.empty or not base.iloc[0] > 0:
        return pd.Series(np.nan, index=eff.index)
    return values / base.iloc[0]


def against_base(eff: pd.DataFrame, base_id: str | None, measurement: dict | None = None) -> pd.DataFrame:
    """The efficiency table relative to one run (the teacher by default, see ``speed_base``): ``speedup`` from
    the side-by-side ``measurement`` where it timed a run, else from per-run throughputs (``speedup_basis``
    says which), and ``retention`` of the score. The Efficiency page and ``export efficiency`` both use this."""
    if base_id is None or base_id not in set(eff["run_id"].tolist()):
        return eff.assign(speedup=np.nan, retention=np.nan, speedup_basis=None)
    speedup = relative(eff, base_id, "encode_throughput")
    out = eff.assign(speedup=speedup)
    # A throughput timed on another device than the base's is no speed-up over it (unknown devices, imported
    # runs', stay compared as per-run throughputs, which the basis says).
    base_device = eff.loc[eff["run_id"] == base_id, "speed_device"].iloc[0] if "speed_device" in eff else None
    elsewhere = (eff["speed_device"].notna() & (eff["speed_device"] != base_device) if base_device
                 else pd.Series(False, index=eff.index))
    out.loc[elsewhere, "speedup"] = np.nan
    out = measured_speed(out, measurement)
    out.loc[elsewhere & (out["speedup_basis"] != "side by side"), "speedup_basis"] = (
        f"not compared: timed on another device than the base ({base_device})")
    out["retention"] = relative(out, base_id, "score")  # e.g. a KD or Model2Vec student vs its teacher
    return out


def measured_speed(eff: pd.DataFrame, measurement: dict | None) -> pd.DataFrame:
    """The efficiency table with its speed-ups (already relative to the measurement's base) replaced by the
    side-by-side ones for the runs measured, ``speedup_basis`` saying which each row has, and the measured
    inference memory with its Pareto flags."""
    out = eff.assign(speedup_basis="per-run throughputs recorded at different times")
    if not measurement:
        return out
    table = pd.DataFrame(measurement["results"]).set_index("run_id")  # a speed measurement (retrieval.speed)
    inside = out["run_id"].isin(table.index)
    out.loc[inside, "speedup"] = out.loc[inside, "run_id"].map(table["speedup"])
    out.loc[inside, "speedup_basis"] = "side by side"
    out.loc[inside, "speed_device"] = measurement.get("device", "cpu")
    if "inference_mb" in table:
        out["inference_mb"] = out["run_id"].map(table["inference_mb"])
        out["pareto_inference"] = pareto_front(out["score"], out["inference_mb"])
    return out


def speed_base(eff: pd.DataFrame) -> str | None:
    """The run speed-ups and retention are relative to by default: a teacher with a throughput, else the first
    timed run, else None."""
    timed = eff[eff["encode_throughput"].notna()]
    teachers = timed[timed["kind"] == "teacher-eval"]["run_id"].tolist()
    return (teachers or timed["run_id"].tolist() or [None])[0]


def _per(score: pd.Series, size: pd.Series) -> pd.Series:
    # A size of 0 or less is missing data, not an infinitely efficient model.
    return score / size.where(size > 0)
