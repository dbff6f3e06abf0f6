"""Leaderboard at scale: 1,000 runs x 6 languages x 1,000 queries, 1,000 resamples — rank intervals and tiers
per language and on the mean, our vectorised core (backend.ranking.rank_scores) against a straightforward
per-run loop (below), side by side in one process, with their results compared.

Usage: python benchmarks/leaderboard_bench.py [--runs 1000] [--queries 1000] [--resamples 1000] [--naive-runs 200]
(the loop is timed on --naive-runs runs and scaled to --runs: its cost grows with the runs squared in the tier
step, so the scaling is linear in the runs for the resampling and ranks and quadratic for the tiers; both
parts are timed and scaled separately).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LANGUAGES = ["python", "java", "javascript", "go", "php", "ruby"]


def synthetic_scores(runs: int, queries: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per language a (runs x queries) matrix of per-query NDCG@10 from gold ranks: runs of graded skill, so
    some are tied within noise and others clearly apart."""
    from backend.significance import query_values
    rng = np.random.default_rng(seed)
    skill = rng.uniform(2, 60, runs)
    out = {}
    for language in LANGUAGES:
        ranks = np.maximum(1, rng.exponential(skill[:, None], (runs, queries)).astype(int) + 1)
        out[language] = query_values(ranks, "ndcg@10")
    return out


def naive_resamples(scores: dict[str, np.ndarray], resampling) -> dict[str, np.ndarray]:
    """Per language: bootstrap means (resamples x runs), one run at a time (float64), on the same resampling
    weights as the vectorised code (significance._matrices); plus ``mean`` combined the same way (each
    language's resamples in its own seeded order)."""
    from backend.significance import _matrices
    out = {}
    for language, matrix in scores.items():
        weights = _matrices(matrix.shape[1], resampling.resamples, resampling.seed)[0].astype(np.float64)
        boot = np.empty((resampling.resamples, matrix.shape[0]))
        for run in range(matrix.shape[0]):
            boot[:, run] = weights @ matrix[run] / matrix.shape[1]
        out[language] = boot
    mean = 0.0
    for i, boot in enumerate(list(out.values())):
        mean = mean + boot[np.random.default_rng(resampling.seed + i).permutation(boot.shape[0])] / len(scores)
    out["mean"] = mean
    return out


def naive_intervals(observed: np.ndarray, boot: np.ndarray, resampling):
    """(rank, rank_low, rank_high): ranks per resample with scipy's rankdata, then each run's interval."""
    from scipy.stats import rankdata
    ranks = np.empty(boot.shape, dtype=int)
    for k in range(boot.shape[0]):
        ranks[k] = rankdata(-boot[k], method="min")
    tail = (1 - resampling.confidence) / 2
    low = np.array([np.quantile(ranks[:, r], tail, method="lower") for r in range(boot.shape[1])])
    high = np.array([np.quantile(ranks[:, r], 1 - tail, method="higher") for r in range(boot.shape[1])])
    return rankdata(-observed, method="min").astype(int), low, high


def naive_tiers(parts: list[np.ndarray], resampling, alpha: float = 0.05):
    """Tiers by testing each remaining run against the leader, one run at a time: the paired sign-flip
    statistic (mean over languages of the mean item difference) against its normal null with the exact
    variance sum_l sum_i d_li^2 / (L n_l)^2. ``parts``: the (runs x items) scores of each language."""
    from scipy.stats import norm

    from backend.significance import adjust
    observed = np.mean([m.mean(axis=1) for m in parts], axis=0)
    tier = np.zeros(len(observed), dtype=int)
    level = 0
    while (tier == 0).any():
        level += 1
        remaining = [r for r in range(len(observed)) if tier[r] == 0]
        leader = max(remaining, key=lambda r: (observed[r], -r))
        others = [r for r in remaining if r != leader]
        p = []
        for r in others:
            variance = sum(((m[r] - m[leader]) ** 2).sum() / (len(parts) * m.shape[1]) ** 2 for m in parts)
            diff = abs(observed[r] - observed[leader])
            p.append(1.0 if variance == 0 else 2 * norm.sf(diff / np.sqrt(variance)))
        tier[leader] = level
        for r, q in zip(others, adjust(np.array(p), resampling.correction) if p else []):
            if q >= alpha:
                tier[r] = level
    return tier


def naive(scores: dict[str, np.ndarray], resampling) -> dict[str, tuple[np.ndarray, ...]]:
    """The straightforward implementation of backend.ranking.rank_scores."""
    boot = naive_resamples(scores, resampling)
    parts = {**{lang: [m] for lang, m in scores.items()}, "mean": list(scores.values())}
    observed = {lang: np.mean([m.mean(axis=1) for m in ms], axis=0) for lang, ms in parts.items()}
    return {lang: (*naive_intervals(observed[lang], boot[lang], resampling), naive_tiers(parts[lang], resampling))
            for lang in parts}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-runs", type=int, default=200, help="runs the loop is timed on (scaled up)")
    args = parser.parse_args()
    from backend.ranking import rank_scores
    from backend.significance import Resampling
    resampling = Resampling(resamples=args.resamples, seed=0)
    scores = synthetic_scores(args.runs, args.queries)
    rank_scores(synthetic_scores(20, args.queries, seed=1), True, resampling)  # warm-up: BLAS threads, caches
    start, cpu = time.perf_counter(), time.process_time()
    fast = rank_scores(scores, True, resampling)
    fast_s, fast_cpu = time.perf_counter() - start, time.process_time() - cpu
    tier_count = int(fast["mean"][3].max())
    print(f"vectorised: {args.runs:,} runs x {len(LANGUAGES)} languages x {args.queries:,} queries, "
          f"{args.resamples:,} resamples: {fast_s:.2f} s wall, {fast_cpu:.2f} s CPU (all threads; load before: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores), {tier_count} tiers on the mean")

    few = {lang: m[:args.naive_runs] for lang, m in scores.items()}
    parts = {**{lang: [m] for lang, m in few.items()}, "mean": list(few.values())}
    observed = {lang: np.mean([m.mean(axis=1) for m in ms], axis=0) for lang, ms in parts.items()}
    start = time.perf_counter()
    boot = naive_resamples(few, resampling)
    resample_s = time.perf_counter() - start
    start = time.perf_counter()
    intervals = {lang: naive_intervals(observed[lang], boot[lang], resampling) for lang in parts}
    interval_s = time.perf_counter() - start
    start = time.perf_counter()
    tiers = {lang: naive_tiers(parts[lang], resampling) for lang in parts}
    tier_s = time.perf_counter() - start
    slow = {lang: (*intervals[lang], tiers[lang]) for lang in parts}
    scale = args.runs / args.naive_runs
    # Resampling and ranks grow with the runs (ranks: times log runs, left out), the tier tests with their square.
    naive_s = (resample_s + interval_s) * scale + tier_s * scale ** 2
    fast_few = rank_scores(few, True, resampling)
    same = all(np.array_equal(a, b) for lang in slow for a, b in zip(slow[lang], fast_few[lang]))
    print(f"per-run loop: {args.naive_runs} runs in {resample_s + interval_s + tier_s:.2f} s (resampling "
          f"{resample_s:.2f} s, ranks {interval_s:.2f} s, tiers {tier_s:.2f} s); scaled to {args.runs:,} runs: "
          f"about {naive_s:.1f} s")
    print(f"ratio: {naive_s / fast_s:.0f}x faster; same ranks, intervals and tiers on {args.naive_runs} runs: {same}")


if __name__ == "__main__":
    main()
