"""The unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code")."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from backend.vocab import PASS_KS


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k samples drawn from n passes), c of the n passing: 1 - C(n-c, k) / C(n, k).

    Computed as a running product, so large n never builds huge binomials or loses precision.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def ks_for(n: int, greedy: bool) -> list[int]:
    """The k reported for n samples per problem: every k <= n among 1, 5, 10, 100; greedy decoding only pass@1."""
    return [1] if greedy else [k for k in PASS_KS if k <= n]


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Per-problem pass@k averaged over problems; ``counts`` are (n samples, c passed) per problem."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    if not values:
        raise ValueError("pass@k of an empty problem set")
    return sum(values) / len(values)


def pass_metrics(rows: list[dict], n: int, greedy: bool) -> list[dict]:
    """pass@k per language from per-sample rows: per problem (n, c), then averaged over problems."""
    counts = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for r in rows:
        c = counts[r["language"]][r["problem_id"]]
        c[0] += 1
        c[1] += r["status"] == "PASS"
    out = []
    for language, per_problem in counts.items():
        for k in ks_for(n, greedy):
            out.append({"language": language, "metric": f"pass@{k}", "n": len(per_problem),
                        "value": mean_pass_at_k([tuple(v) for v in per_problem.values()], k)})
    return out
