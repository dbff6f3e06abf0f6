"""pass@k against a brute-force enumeration of every k-subset of the n samples."""
import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.codegen.passk import ks_for, mean_pass_at_k, pass_at_k


def brute_force(n, c, k):
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n, c, k", [(5, 0, 1), (5, 5, 1), (5, 5, 5), (6, 4, 3), (6, 3, 4), (10, 1, 10), (1, 0, 1),
                                     (1, 1, 1), (12, 2, 5)])
def test_matches_enumeration_including_edges(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12)


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_matches_closed_form(nck):
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_large_n_is_stable():
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)
    assert 0 < pass_at_k(10_000, 3, 100) < 1


def test_reported_ks_and_mean():
    assert ks_for(1, greedy=True) == [1] and ks_for(20, greedy=True) == [1]
    assert ks_for(5, greedy=False) == [1, 5] and ks_for(20, greedy=False) == [1, 5, 10]
    assert ks_for(200, greedy=False) == [1, 5, 10, 100]
    assert mean_pass_at_k([(2, 1), (2, 0)], 1) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
