"""The Pareto front of score against cost, in O(n log n) (a leaf: tables and figures both mark it)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def pareto_front(score: pd.Series, cost: pd.Series) -> pd.Series:
    """True where no other point has a higher-or-equal score at a lower-or-equal cost (one strictly).

    Identical points are all on the front; points with a missing score or cost are never on it. O(n log n).
    """
    return pd.Series(front_mask(score.to_numpy(dtype=float, na_value=np.nan),
                                cost.to_numpy(dtype=float, na_value=np.nan)), index=score.index)


def front_mask(score: np.ndarray, cost: np.ndarray, by_cost: np.ndarray | None = None) -> np.ndarray:
    """``pareto_front`` on arrays (the leaderboard asks it per language of 100k runs: a groupby each was most
    of its front's time); ``by_cost``: the points' positions sorted by cost, when known (no sort here)."""
    out = np.zeros(len(score), dtype=bool)
    valid = ~np.isnan(score) & ~np.isnan(cost) & (cost >= 0)
    if by_cost is None:
        by_cost = np.argsort(cost, kind="stable")
    order = by_cost[valid[by_cost]]  # cheapest first
    if not len(order):
        return out
    sorted_cost, sorted_score = cost[order], score[order]
    starts = np.flatnonzero(np.r_[True, sorted_cost[1:] != sorted_cost[:-1]])  # each distinct cost's first point
    best_at = np.maximum.reduceat(sorted_score, starts)  # the best score at each cost
    cheaper = np.r_[-np.inf, np.maximum.accumulate(best_at)[:-1]]  # the best at any lower cost
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
    out[order] = (best_at > cheaper)[group] & (sorted_score == best_at[group])  # that best, ties included
    return out
