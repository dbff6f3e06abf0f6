"""Deltas with paired significance for a full page: 5 candidates x 6 languages x 7 per-query metrics x 1,000
queries, 10,000 resamples — our vectorized tests against scipy.stats.bootstrap + permutation_test per cell,
side by side in one run (scipy on a sample of cells, scaled to the page), with the intervals compared.

Usage: python benchmarks/significance_bench.py [--scipy-cells 6]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LANGS, CANDIDATES, QUERIES, RESAMPLES = 6, 5, 1000, 10_000


def page_diffs(rng) -> list[np.ndarray]:
    """Per language: (queries x cells) paired differences of per-query metric values, as the page tests."""
    from backend.significance import query_values
    metrics = ["ndcg@10", "mrr", "mrr@10", "recall@1", "recall@5", "recall@10", "mean_rank"]
    out = []
    for _ in range(LANGS):
        base = rng.integers(1, 60, QUERIES)
        cells = []
        for _ in range(CANDIDATES):
            cand = np.maximum(1, base + rng.integers(-5, 6, QUERIES))
            cells += [query_values(cand, m) - query_values(base, m) for m in metrics]
        out.append(np.column_stack(cells))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scipy-cells", type=int, default=6, help="cells timed with scipy (scaled to the page)")
    args = parser.parse_args()
    from scipy import stats

    from backend.significance import Resampling, paired_tests
    diffs = page_diffs(np.random.default_rng(0))
    cells = sum(d.shape[1] for d in diffs)
    start = time.perf_counter()
    ours = [paired_tests(d, Resampling(resamples=RESAMPLES, seed=0)) for d in diffs]
    our_s = time.perf_counter() - start
    start = time.perf_counter()
    worst = 0.0
    for j in range(args.scipy_cells):
        d = diffs[0][:, j]
        ci = stats.bootstrap((d,), np.mean, n_resamples=RESAMPLES, method="percentile", random_state=j).confidence_interval
        stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=RESAMPLES, random_state=j,
                               vectorized=True)
        worst = max(worst, abs(ci.low - ours[0][0][j]), abs(ci.high - ours[0][1][j]))
    scipy_s = (time.perf_counter() - start) / args.scipy_cells * cells
    print(f"{cells} cells x {QUERIES} queries x {RESAMPLES:,} resamples (interval + p-value per cell)")
    print(f"ours (vectorized over cells and resamples): {our_s:6.2f} s")
    print(f"scipy per cell (timed on {args.scipy_cells}, scaled): {scipy_s:6.2f} s")
    print(f"speed ratio (scipy / ours): {scipy_s / our_s:.1f}x; largest interval-end difference on the timed "
          f"cells: {worst:.4f} (Monte-Carlo error)")


if __name__ == "__main__":
    main()
