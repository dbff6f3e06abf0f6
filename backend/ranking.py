"""Ranks with intervals and tiers, on score matrices: the numeric core of the leaderboard (backend.leaderboard
turns the store's rows into these matrices and back into a table).

- ``resampled_means``: each run's mean on each bootstrap resample of the items, the same resamples for every
  run (significance._matrices' weights), one matrix product per language;
- ``rank_intervals``: each resample's ranks from one argsort over the runs (ties share the better rank), and
  each run's 2.5th-97.5th percentile of them;
- ``tiers``: tier 1 = the best run and every run not significantly different from it (paired sign-flip test
  against the best, p-values Holm-adjusted across the runs tested), tier 2 the same among the rest, and so on.
  The test's null distribution is significance.paired_tests' (each item's difference negated at random); its
  exact variance gives the p-value in closed form, fine enough to survive Holm over a thousand runs.
The mean over languages resamples each language's items independently (as significance.score_interval does).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.significance import ALPHA, Resampling, _matrices, adjust

MEAN = "mean"


def resampled_means(scores: np.ndarray, resampling: Resampling) -> np.ndarray:
    """For a (runs x items) score matrix: each run's mean on each bootstrap resample of the items, the same
    resamples for every run (significance._matrices' weights), as one (resamples x runs) matrix product.

    Identical runs share one column of the product (so their resamples are identical, bit for bit); values
    are scaled to unit range first, so the float32 product keeps its precision whatever the metric."""
    n = scores.shape[1]
    weights, _ = _matrices(n, resampling.resamples, resampling.seed)
    # Distinct runs by their bytes (exact, and far cheaper than np.unique's row sort).
    inverse, firsts = pd.factorize(pd.Series([row.tobytes() for row in np.ascontiguousarray(scores)]))
    unique = scores[[int(np.argmax(inverse == k)) for k in range(len(firsts))]]
    scale = max(float(np.abs(unique).max()), 1e-300)
    unit = (unique / scale).astype(np.float32).T  # items x distinct runs
    boot = (weights @ unit).astype(np.float64) * (scale / n)
    return boot if len(unique) == len(scores) else boot[:, inverse]


def min_ranks(better_low: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis, smallest value first; equal values share the better rank (1, 1, 3).
    One argsort per row; the tie fix-up is vectorised too."""
    x = np.atleast_2d(better_low)
    order = np.argsort(x, axis=1)  # any order among equal values: they get the same rank below
    sorted_x = np.take_along_axis(x, order, axis=1)
    new = np.ones(sorted_x.shape, dtype=bool)
    new[:, 1:] = sorted_x[:, 1:] != sorted_x[:, :-1]
    first = np.maximum.accumulate(np.where(new, np.arange(x.shape[1]), 0), axis=1) + 1
    ranks = np.empty(x.shape, dtype=np.int32)
    np.put_along_axis(ranks, order, first.astype(np.int32), axis=1)
    return ranks


def rank_intervals(point: np.ndarray, boot: np.ndarray | None, columns: np.ndarray, higher: bool,
                   confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rank of every run by ``point``, rank_low and rank_high of the runs ``columns`` whose resampled scores
    are ``boot`` (resamples x len(columns))). Runs without resamples keep their point value in every resample,
    so an interval is a rank among all runs."""
    sign = -1.0 if higher else 1.0
    rank = min_ranks(sign * point[None, :])[0]
    if not len(columns):
        return rank, np.array([], dtype=int), np.array([], dtype=int)
    every = np.broadcast_to(sign * point, (boot.shape[0], len(point))).copy()
    every[:, columns] = sign * boot
    ranks = min_ranks(every)[:, columns]
    tail = (1 - confidence) / 2
    low = np.quantile(ranks, tail, axis=0, method="lower")
    high = np.quantile(ranks, 1 - tail, axis=0, method="higher")
    return rank, low.astype(int), high.astype(int)


GRAM_RUNS = 4000  # up to this many runs a test reads a precomputed runs x runs matrix (128 MB at the limit)


@dataclass
class Paired:
    """Runs scored on shared items, for paired tests: ``parts`` are (runs x items scores, weight) per language
    (one part per language; the mean over languages weighs each 1/L), rows in the same run order. ``grams``:
    each part's runs x runs products (scores @ scores.T), when already computed."""
    parts: list[tuple[np.ndarray, float]]
    grams: list[np.ndarray] | None = None

    def __post_init__(self):
        self.observed = sum(w * m.mean(axis=1) for m, w in self.parts)
        runs = len(self.observed)
        if runs <= GRAM_RUNS:
            # One product per language instead of one per tier: sum_i (s_ri - s_bi)^2 = G_rr - 2 G_rb + G_bb.
            self.grams = self.grams or [_gram(m) for m, _ in self.parts]
            self.variance = sum((w / m.shape[1]) ** 2 * g for (m, w), g in zip(self.parts, self.grams))
        else:
            self.grams, self.variance = None, None
            self.squares = [(m * m).sum(axis=1) for m, _ in self.parts]

    def p_values(self, leader: int, others: np.ndarray) -> np.ndarray:
        """Two-sided p-values of the paired sign-flip test of each of ``others`` against ``leader``.

        Under "no difference" each item's difference d_i is as likely negated, so the statistic (the weighted
        mean of the d_i) has mean 0 and variance sum_l w_l^2 / n_l^2 * sum_i d_li^2 exactly; the p-value is
        that distribution's normal tail. significance.paired_tests draws the same distribution by Monte Carlo
        (tests/test_leaderboard.py compares them), but its smallest p-value, 1 / (resamples + 1), could never
        survive a Holm adjustment across hundreds of runs: this one can."""
        from scipy.special import ndtr
        if self.variance is not None:
            v = self.variance
            variance = np.diag(v)[others] - 2 * v[leader, others] + v[leader, leader]
        else:
            variance = 0.0
            for (m, w), sq in zip(self.parts, self.squares):
                d2 = sq[others] - 2 * (m[others] @ m[leader]) + sq[leader]
                variance = variance + (w / m.shape[1]) ** 2 * d2
        variance = np.maximum(variance, 0.0)  # rounding can leave a tiny negative for identical runs
        diff = np.abs(self.observed[others] - self.observed[leader])
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(variance > 0, diff / np.sqrt(variance), 0.0)
        return 2 * ndtr(-z)

    def subset(self, rows) -> "Paired":
        """The same runs' tests for ``rows`` only (in that order)."""
        if len(rows) == len(self.observed) and np.array_equal(rows, np.arange(len(rows))):
            return self  # the usual case: every run, in order (no copy)
        return Paired([(m[rows], w) for m, w in self.parts],
                      [g[np.ix_(rows, rows)] for g in self.grams] if self.grams is not None else None)


def _gram(m: np.ndarray) -> np.ndarray:
    """m @ m.T in float32 on the item-centred scores: centring every item across runs changes no difference
    between two runs, and keeps the products small, so G_rr - 2 G_rb + G_bb loses little to rounding."""
    centred = (m - m.mean(axis=0)).astype(np.float32)
    return (centred @ centred.T).astype(np.float64)


def tiers(paired: Paired, higher: bool, alpha: float = ALPHA, correction: str = "holm") -> np.ndarray:
    """Tier per run (1 = best): the best run with every run whose paired test against it is not significant
    after adjustment across the runs tested; then the same among the rest, until none is left."""
    score = paired.observed if higher else -paired.observed
    tier = np.zeros(len(score), dtype=int)
    remaining = np.arange(len(score))
    level = 0
    while remaining.size:
        level += 1
        leader = remaining[np.argmax(score[remaining])]
        others = remaining[remaining != leader]
        tier[leader] = level
        if others.size:
            tier[others[adjust(paired.p_values(leader, others), correction) >= alpha]] = level
        remaining = remaining[tier[remaining] == 0]
    return tier


@dataclass
class Items:
    """Runs with per-item results on shared items: their paired scores and bootstrap means."""
    run_ids: list
    paired: Paired
    boot: np.ndarray  # resamples x runs
    n_items: int


def mean_items(per_language: dict[str, Items], resampling: Resampling) -> Items | None:
    """The mean over languages of the runs with shared items in every language: each language's resamples in
    another order (independent draws per language, as significance.score_interval does)."""
    if not per_language or any(v is None for v in per_language.values()):
        return None
    runs = sorted(set.intersection(*(set(v.run_ids) for v in per_language.values())))
    if not runs:
        return None
    boot, parts, grams, k = 0.0, [], [], len(per_language)
    for i, items in enumerate(per_language.values()):
        order = np.random.default_rng(resampling.seed + i).permutation(items.boot.shape[0])
        same = list(items.run_ids) == runs  # the usual case: no column to reorder (no copy)
        cols = slice(None) if same else pd.Index(items.run_ids).get_indexer(runs)
        boot = boot + (items.boot[order] if same else items.boot[order][:, cols]) / k
        part = items.paired if same else items.paired.subset(cols)
        parts.append((part.parts[0][0], 1.0 / k))
        grams.append(part.grams[0] if part.grams is not None else None)
    usable = all(g is not None for g in grams)
    return Items(runs, Paired(parts, grams if usable else None), boot, sum(v.n_items for v in per_language.values()))


def rank_scores(scores: dict[str, np.ndarray], higher: bool = True,
                resampling: Resampling = Resampling(resamples=1000)) -> dict[str, tuple[np.ndarray, ...]]:
    """The core on matrices: per language (runs x items scores, the same runs in every language, every run
    with every item) and ``mean``: (rank by the mean over items, rank_low, rank_high, tier) per run."""
    per_language, out = {}, {}
    for language, matrix in scores.items():
        per_language[language] = Items(list(range(matrix.shape[0])), Paired([(matrix, 1.0)]),
                                        resampled_means(matrix, resampling), matrix.shape[1])
    mean = mean_items(per_language, resampling)
    for language, items in [*per_language.items(), (MEAN, mean)]:
        columns = np.arange(len(items.run_ids))
        observed = items.paired.observed
        rank, low, high = rank_intervals(observed, items.boot, columns, higher, resampling.confidence)
        out[language] = (rank, low, high, tiers(items.paired, higher, ALPHA, resampling.correction))
    return out
