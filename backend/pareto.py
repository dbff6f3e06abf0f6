"""The Pareto front of score against cost, in O(n log n) (a leaf: tables and figures both mark it)."""
from __future__ import annotations

import math

import pandas as pd


def pareto_front(score: pd.Series, cost: pd.Series) -> pd.Series:
    """True where no other point has a higher-or-equal score at a lower-or-equal cost (one strictly).

    Identical points are all on the front; points with a missing score or cost are never on it. O(n log n).
    """
    score, cost = score.astype(float), cost.astype(float)
    valid = score.notna() & cost.notna() & (cost >= 0)
    frame = pd.DataFrame({"score": score[valid], "cost": cost[valid]})
    best_at = frame.groupby("cost", sort=True)["score"].max()  # the best score at each cost, cheapest first
    cheaper = best_at.cummax().shift(1, fill_value=-math.inf)  # the best at any lower cost
    front_best = best_at[best_at > cheaper]  # costs whose best beats everything cheaper
    on_front = frame["score"] == frame["cost"].map(front_best)  # that best, ties included
    return on_front.reindex(score.index, fill_value=False).astype(bool)
