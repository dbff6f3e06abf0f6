"""Is a difference real? Paired tests over the items two runs share (queries, problems), as pure functions.

For one base and its candidates, per (language, metric, candidate) cell:
- the per-item values come from what is stored per item: a query's gold rank gives its NDCG@10, MRR, recall,
  rank; a problem's samples give its pass rate;
- the 95 % interval of the mean paired difference is a percentile bootstrap over items;
- the p-value is a paired randomization test (each item's difference flips sign at random), two-sided;
- p-values are adjusted across the whole family shown (Holm-Bonferroni by default, Benjamini-Hochberg on
  request), and a cell is ``better`` / ``worse`` only when its adjusted p-value is below alpha, else ``n.s.``.
Both resamplings are done for every cell of a language at once, as a matrix product of resampling weights
with the cells' differences (one BLAS call), not a loop per cell: scipy.stats.bootstrap and
permutation_test give the same intervals and p-values within Monte-Carlo error (tests/test_significance.py),
``benchmarks/significance_bench.py`` prints the speed ratio.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.vocab import METRICS, Direction

ALPHA = 0.05
UNKNOWN = "significance unknown: no per-query results"
NOT_TESTED = "not tested: not a mean over the stored items (a median rank, pass@k for k > 1, perplexity)"


@dataclass(frozen=True)
class Resampling:
    resamples: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    correction: str = "holm"  # or "bh" (Benjamini-Hochberg)

    def __post_init__(self):
        if self.resamples < 1:
            raise ValueError(f"resamples must be at least 1 (--resamples), got {self.resamples}; 10000 is the default")
        if self.correction not in ("holm", "bh"):
            raise ValueError(f"correction must be holm or bh, got {self.correction!r}")

    def note(self) -> str:
        return (f"paired bootstrap ({self.resamples:,} resamples, seed {self.seed}) for the {self.confidence:.0%} "
                f"interval; paired sign-flip test, p adjusted ({'Holm' if self.correction == 'holm' else 'BH'}) "
                f"across the table")


def query_values(ranks: np.ndarray, metric: str) -> np.ndarray | None:
    """Each query's value of a metric, from its gold rank (None: the metric is not a mean over queries)."""
    r = np.asarray(ranks, dtype=np.float64)
    top10 = r <= 10
    values = {"ndcg@10": lambda: np.where(top10, 1.0 / np.log2(r + 1.0), 0.0), "mrr": lambda: 1.0 / r,
              "map": lambda: 1.0 / r, "p@5": lambda: (r <= 5) / 5.0, "p@10": lambda: top10 / 10.0,
              "mrr@10": lambda: np.where(top10, 1.0 / r, 0.0), "recall@1": lambda: (r <= 1).astype(float),
              "recall@5": lambda: (r <= 5).astype(float), "recall@10": lambda: top10.astype(float),
              "mean_rank": lambda: r}
    return values[metric]() if metric in values else None


@functools.lru_cache(maxsize=2)
def _matrices(n: int, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The resampling weights for n items, made once and shared by every cell (and every language of that
    size) of a table: bootstrap counts (multinomial) and random signs (the randomization test)."""
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float32)
    signs = (rng.integers(0, 2, size=(resamples, n), dtype=np.int8) * 2 - 1).astype(np.float32)
    return weights, signs


def paired_tests(diffs: np.ndarray, resampling: Resampling) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For an (items x cells) matrix of paired differences: (ci_low, ci_high, p_value) per cell."""
    n = diffs.shape[0]
    weights, signs = _matrices(n, resampling.resamples, resampling.seed)
    # Scale each cell to unit range first: float32 products then keep their precision whatever the metric.
    scale = np.maximum(np.abs(diffs).max(axis=0), 1e-300)
    unit = (diffs / scale).astype(np.float32)
    # Bootstrap: a resample's item counts times the differences is that resample's mean (one BLAS call).
    means = (weights @ unit).astype(np.float64) * scale / n
    tail = (1 - resampling.confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    # Sign-flip randomization: under "no difference" each item's difference is as likely negated.
    null = np.abs((signs @ unit).astype(np.float64)) * scale / n
    observed = np.abs(diffs.mean(axis=0))
    p = (1 + np.sum(null >= observed * (1 - 1e-6), axis=0)) / (resampling.resamples + 1)
    return low, high, p


def adjust(p: np.ndarray, correction: str = "holm") -> np.ndarray:
    """Family-wise (Holm-Bonferroni) or false-discovery-rate (Benjamini-Hochberg) adjusted p-values."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q, m = p[ok], int(ok.sum())
    if m == 0:
        return out
    order = np.argsort(q)
    if correction == "holm":
        stepped = np.maximum.accumulate((m - np.arange(m)) * q[order])
    elif correction == "bh":
        stepped = np.minimum.accumulate((m / np.arange(1, m + 1) * q[order])[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {correction!r}; use holm or bh")
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    out[ok] = adjusted
    return out


def verdict(delta: float, p_adjusted: float, metric: str, alpha: float = ALPHA) -> str:
    if np.isnan(p_adjusted):
        return UNKNOWN
    if p_adjusted >= alpha:
        return "n.s."
    better = delta > 0 if METRICS[metric].direction is Direction.HIGHER else delta < 0
    return "better" if better else "worse"


def per_item(items: pd.DataFrame, kind: str) -> pd.DataFrame:
    """(run_id, language, item_id, metric, value) from stored per-item rows: query gold ranks
    (``kind="queries"``) or codegen samples (``kind="problems"``: the pass rate over a problem's samples)."""
    if items.empty:
        return pd.DataFrame(columns=["run_id", "language", "item_id", "metric", "value"])
    if kind == "problems":
        rate = (items.assign(value=items["status"] == "PASS").groupby(["run_id", "language", "problem_id"])["value"]
                .mean().reset_index().rename(columns={"problem_id": "item_id"}))
        return rate.assign(metric="pass@1")
    frames = []
    for metric in METRICS:
        values = query_values(items["gold_rank"].to_numpy(), metric)
        if values is not None:
            frames.append(pd.DataFrame({"run_id": items["run_id"].to_numpy(), "language": items["language"].to_numpy(),
                                        "item_id": items["query_id"].to_numpy(), "metric": metric, "value": values}))
    return pd.concat(frames, ignore_index=True)


def significance(table: pd.DataFrame, values: pd.DataFrame, base_id: str,
                 resampling: Resampling = Resampling()) -> pd.DataFrame:
    """``table`` (multi_deltas: candidate_id, language, metric, delta, ...) with ci_low, ci_high, p_value,
    p_adjusted, verdict and n_pairs. ``values``: per_item rows of the base and the candidates."""
    out = table.copy()
    for column in ("ci_low", "ci_high", "p_value"):
        out[column] = np.nan
    out["n_pairs"] = 0
    base = values[values["run_id"] == base_id]
    for language, group in out.groupby("language"):
        cells, diffs, index = [], [], None
        for row_index, row in group.iterrows():
            pair = _pair(base, values, row["candidate_id"], language, row["metric"])
            if pair is None:
                continue
            if index is None:
                index = pair.index
            if not pair.index.equals(index):  # another candidate covered other items: test it on its own
                _fill(out, [row_index], pair.to_numpy()[:, None], resampling)
                continue
            cells.append(row_index)
            diffs.append(pair.to_numpy())
        if cells:
            _fill(out, cells, np.column_stack(diffs), resampling)
    out["p_adjusted"] = adjust(out["p_value"].to_numpy(), resampling.correction)
    has_items = set(values["run_id"])
    tested = set(values["metric"])
    out["verdict"] = [NOT_TESTED if m not in tested and {base_id, c} <= has_items else verdict(d, p, m)
                      for d, p, m, c in zip(out["delta"], out["p_adjusted"], out["metric"], out["candidate_id"])]
    return out


def _pair(base: pd.DataFrame, values: pd.DataFrame, candidate: str, language: str, metric: str) -> pd.Series | None:
    """candidate - base per shared item, indexed by item (None when either side has no per-item values)."""
    b = base[(base["language"] == language) & (base["metric"] == metric)].set_index("item_id")["value"]
    c = values[(values["run_id"] == candidate) & (values["language"] == language)
               & (values["metric"] == metric)].set_index("item_id")["value"]
    shared = b.index.intersection(c.index)
    if len(shared) < 2:
        return None
    return (c.loc[shared] - b.loc[shared]).sort_index()


def _fill(out: pd.DataFrame, rows: list, diffs: np.ndarray, resampling: Resampling):
    low, high, p = paired_tests(diffs, resampling)
    out.loc[rows, "ci_low"], out.loc[rows, "ci_high"], out.loc[rows, "p_value"] = low, high, p
    out.loc[rows, "n_pairs"] = diffs.shape[0]


def score_interval(values: pd.DataFrame, resampling: Resampling = Resampling(resamples=2000)) -> pd.DataFrame:
    """A run's own score with its interval, per (run_id, language, metric): value, ci_low, ci_high (percentile
    bootstrap over items), plus language ``mean``: the mean over the run's languages, as the Efficiency page
    scores a run, resampled within each language."""
    rows, tail = [], (1 - resampling.confidence) / 2 * 100
    for (run_id, metric), group in values.groupby(["run_id", "metric"]):
        boot, per_language = 0.0, list(group.groupby("language"))
        for i, (language, g) in enumerate(per_language):
            v = g["value"].to_numpy(dtype=np.float64)
            # One weights matrix per size, shared by every run and language (made once: cheap to reuse)...
            weights, _ = _matrices(len(v), resampling.resamples, resampling.seed)
            means = weights.astype(np.float64) @ v / len(v)
            low, high = np.percentile(means, [tail, 100 - tail])
            rows.append((run_id, language, metric, v.mean(), low, high))
            # ... and languages resampled independently for the mean over languages: each language's
            # resamples in another order, so one resample of the mean adds different (independent) draws.
            boot = boot + means[np.random.default_rng(resampling.seed + i).permutation(len(means))] / len(per_language)
        low, high = np.percentile(boot, [tail, 100 - tail])
        rows.append((run_id, "mean", metric, float(np.mean([g["value"].mean() for _, g in per_language])), low, high))
    return pd.DataFrame(rows, columns=["run_id", "language", "metric", "value", "ci_low", "ci_high"])


def query_moves(base: pd.DataFrame, candidate: pd.DataFrame, texts: dict[str, dict] | None = None,
                top: int = 50) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-query drill-down of two runs' gold ranks (query_results rows): (the ``top`` queries whose gold
    rank moved most, with the query text and gold document where the benchmark is at hand; win / tie / loss
    counts per language: a win is a better gold rank for the candidate)."""
    both = base.merge(candidate, on=["language", "query_id"], suffixes=("_base", "_candidate"))
    both["rank_change"] = both["gold_rank_base"] - both["gold_rank_candidate"]  # > 0: the candidate ranks gold higher
    counts = (both.assign(outcome=np.sign(both["rank_change"]).map({1: "win", 0: "tie", -1: "loss"}))
              .pivot_table(index="language", columns="outcome", values="query_id", aggfunc="count", fill_value=0)
              .reindex(columns=["win", "tie", "loss"], fill_value=0).reset_index())
    moved = both.reindex(both["rank_change"].abs().sort_values(ascending=False).index).head(top)
    texts = texts or {}
    moved = moved.assign(query=[texts.get(q, {}).get("query", "") for q in moved["query_id"]],
                         gold_function=[texts.get(q, {}).get("func_name", "") for q in moved["query_id"]],
                         gold_path=[texts.get(q, {}).get("path", "") for q in moved["query_id"]])
    cols = ["language", "query_id", "query", "gold_function", "gold_path", "gold_rank_base", "gold_rank_candidate",
            "rank_change"]
    return moved[cols].reset_index(drop=True), counts


GRADED_METRICS = ("ndcg@10", "mrr", "mrr@10", "recall@1", "recall@5", "recall@10", "map", "p@5", "p@10")


def graded_values(relevant: pd.DataFrame) -> pd.DataFrame:
    """(run_id, language, item_id, metric, value) from relevant_ranks rows (graded / several relevant documents
    per query): trec_eval's definitions (backend/retrieval/graded.py), every run and language in one pass."""
    from backend.retrieval.graded import Judged, per_query
    if relevant.empty:
        return pd.DataFrame(columns=["run_id", "language", "item_id", "metric", "value"])
    keys = pd.MultiIndex.from_frame(relevant[["run_id", "language", "query_id"]])
    codes, uniques = pd.factorize(keys)
    judged = Judged(codes.astype(np.int64), relevant["grade"].to_numpy(np.float64),
                    relevant["rank"].to_numpy(np.int64), len(uniques))
    values = per_query(judged, GRADED_METRICS)
    runs, languages, items = (uniques.get_level_values(i).to_numpy() for i in range(3))
    return pd.concat([pd.DataFrame({"run_id": runs, "language": languages, "item_id": items, "metric": m, "value": v})
                      for m, v in values.items()], ignore_index=True)


def item_values(queries: pd.DataFrame, problems: pd.DataFrame, relevant: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-item values of some runs, from the store's query_results, problem_results and relevant_ranks rows (a
    run with relevant_ranks is valued from them; its query_results only serve the drill-down)."""
    graded = set(relevant["run_id"]) if relevant is not None and len(relevant) else set()
    if graded:
        queries = queries[~queries["run_id"].isin(graded)]
    parts = [per_item(queries, "queries"), per_item(problems, "problems"),
             graded_values(relevant if graded else pd.DataFrame())]
    return pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)


def stored_values(store, run_ids) -> pd.DataFrame:
    """item_values of runs as a store holds them (the one read the page and the CLI share)."""
    ids = run_ids.tolist() if hasattr(run_ids, "tolist") else list(run_ids)  # a Series: 10x faster
    return item_values(store.query_results(ids), store.problem_results(ids), store.relevant_ranks(ids))


def stored_deltas(store, base_id: str, candidate_ids, resampling: Resampling = Resampling()) -> pd.DataFrame:
    """deltas_table of runs as a store holds them: what the Deltas page shows and ``export deltas`` writes."""
    ids = [base_id, *candidate_ids]
    return deltas_table(store.metrics(ids), stored_values(store, ids), base_id, list(candidate_ids), resampling)


def deltas_table(metrics: pd.DataFrame, values: pd.DataFrame, base_id: str, candidate_ids: list[str],
                 resampling: Resampling = Resampling()) -> pd.DataFrame:
    """The deltas the page shows and ``export deltas`` writes: compare.multi_deltas plus each cell's interval,
    p-value, adjusted p-value and verdict (significance unknown where a run has no per-item results)."""
    from backend.compare import multi_deltas
    table = multi_deltas(metrics, base_id, candidate_ids)
    one_sided = table["verdict"].isin(["only in base", "only in candidate"])
    tested = significance(table[~one_sided].drop(columns="verdict"), values, base_id, resampling)
    out = pd.concat([tested, table[one_sided]]).sort_index()
    out["n_pairs"] = out["n_pairs"].fillna(0).astype(int)
    return out[[*[c for c in table.columns if c != "verdict"], "ci_low", "ci_high", "p_value", "p_adjusted",
                "verdict", "n_pairs"]]


def gate(table: pd.DataFrame, max_drop: float = 0.0) -> pd.DataFrame:
    """Cells where a candidate is significantly worse than the base by more than ``max_drop`` (in the metric's
    own units, the metric's direction taken into account): the whole 95 % interval lies beyond the drop."""
    lower_better = table["metric"].map(lambda m: METRICS[m].direction is Direction.LOWER)
    worst = np.where(lower_better, -table["ci_low"], table["ci_high"])  # the most favourable end, signed
    return table[(table["verdict"] == "worse") & (worst < -max_drop)]
