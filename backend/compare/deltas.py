"""Per-language deltas of candidates against a base, with the metric's direction taken into account."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from backend.compare.runs import LANGUAGE_ORDER
from backend.vocab import (
    METRICS,
    Direction,
)

DELTA_COLUMNS = ["language", "metric", "base", "candidate", "delta", "rel_delta_pct", "improvement_pct", "verdict"]


def deltas(metrics: pd.DataFrame, base_id: str, candidate_id: str) -> pd.DataFrame:
    """Per language x metric: base, candidate, absolute and relative delta, direction-aware verdict."""
    wide = _side_by_side(metrics, base_id, candidate_id)
    delta = wide["candidate"] - wide["base"]
    rel = np.where(wide["base"].abs() > 0, delta / wide["base"].abs() * 100.0, np.nan)
    sign = wide["metric"].map(lambda m: -1.0 if METRICS[m].direction is Direction.LOWER else 1.0)
    out = wide.assign(delta=delta, rel_delta_pct=rel, improvement_pct=rel * sign)
    out["verdict"] = [_verdict(b, c, d * s) for b, c, d, s in zip(out["base"], out["candidate"], delta, sign)]
    return out[DELTA_COLUMNS].reset_index(drop=True)


def multi_deltas(metrics: pd.DataFrame, base_id: str, candidate_ids: list[str]) -> pd.DataFrame:
    """deltas() of several candidates against one base, stacked with a ``candidate_id`` column."""
    parts = [deltas(metrics, base_id, c).assign(candidate_id=c) for c in candidate_ids]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=DELTA_COLUMNS + ["candidate_id"])


def _side_by_side(metrics, base_id, candidate_id) -> pd.DataFrame:
    def side(run_id, name):
        rows = metrics[metrics["run_id"] == run_id]
        return rows.set_index(["language", "metric"])["value"].rename(name)

    wide = pd.concat([side(base_id, "base"), side(candidate_id, "candidate")], axis=1).reset_index()
    wide.columns = ["language", "metric", "base", "candidate"]
    wide["_lang"] = wide["language"].map({k: i for i, k in enumerate(LANGUAGE_ORDER)})
    wide["_metric"] = wide["metric"].map({k: i for i, k in enumerate(METRICS)})
    return wide.sort_values(["_lang", "_metric"]).drop(columns=["_lang", "_metric"]).astype(
        {"base": float, "candidate": float})


def _verdict(base, candidate, signed_delta) -> str:
    if math.isnan(base):
        return "only in candidate"
    if math.isnan(candidate):
        return "only in base"
    if abs(signed_delta) < 1e-12:
        return "same"
    return "better" if signed_delta > 0 else "worse"
