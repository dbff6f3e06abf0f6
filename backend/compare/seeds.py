"""Runs that differ only by seed, grouped: mean, spread and a t-interval over seeds."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from backend.compare.runs import json_object
from backend.vocab import (
    Language,
)


def seed_group_key(run: dict) -> str | None:
    """Runs whose configs differ only by ``seed`` (same kind, benchmark and protocol) share this key; None for
    runs without a config."""
    config = json_object(run.get("config"))
    if not config or "seed" not in config:
        return None
    rest = {k: v for k, v in config.items() if k != "seed"}
    return json.dumps([run.get("kind"), run.get("benchmark"), run.get("protocol"), rest], sort_keys=True)


def _seed_keyed(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that share their seed-group key with another run, with the key as ``_key``."""
    # Only a config that names "seed" can have a key: the others are not parsed (100k runs, most without one).
    keys = [seed_group_key({"kind": k, "benchmark": b, "protocol": p, "config": c})
            if c and (not isinstance(c, str) or '"seed"' in c) else None
            for k, b, p, c in zip(*(runs[col].tolist() for col in ("kind", "benchmark", "protocol", "config")))]
    some = [i for i, key in enumerate(keys) if key is not None]  # few runs have one: not a copy of 100k
    keyed = runs.iloc[some].assign(_key=[keys[i] for i in some])
    return keyed[keyed.groupby("_key")["_key"].transform("size") > 1]


def seeded_run_ids(runs: pd.DataFrame) -> list[str]:
    """Runs in a seed group (another run differs from them only by seed): whose metrics seed_groups needs."""
    return _seed_keyed(runs)["run_id"].tolist()


def seed_groups(runs: pd.DataFrame, metrics: pd.DataFrame, metric: str = "ndcg@10") -> pd.DataFrame:
    """One row per (group of runs that differ only by seed, language incl. ``mean``) with two or more seeds:
    the mean and sd of the metric over seeds and a 95 % t-interval over seeds — how much a seed alone moves it."""
    from scipy import stats
    rows = []
    for key, group in _seed_keyed(runs).groupby("_key"):
        values = metrics[(metrics["run_id"].isin(group["run_id"])) & (metrics["metric"] == metric)
                         & (metrics["language"] != Language.OVERALL.value)]
        per_run = values.pivot_table(index="run_id", columns="language", values="value")
        per_run["mean"] = per_run.mean(axis=1)
        label = f"{group['name'].iloc[0]} ×{len(group)} seeds ({', '.join(map(str, sorted(json_object(c).get('seed') for c in group['config'])))})"
        for language in per_run.columns:
            v = per_run[language].dropna().to_numpy()
            if len(v) < 2:
                continue
            half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
            rows.append((label, len(v), language, v.mean(), v.std(ddof=1), v.mean() - half, v.mean() + half,
                         ", ".join(group["run_id"])))
    return pd.DataFrame(rows, columns=["group", "seeds", "language", "mean", "sd", "ci_low", "ci_high", "run_ids"])
