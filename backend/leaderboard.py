"""Who is really ahead: every run of one evaluation ranked per language and on the mean over languages, as a
table (pure: long-form rows in, a DataFrame out; the numbers come from backend.ranking).

Runs with per-item results (queries, problems) on the items most runs share get a 95 % rank interval (paired
bootstrap over the items) and a tier (1 = not significantly different from the best); runs without them
(published, MTEB, model cards) are ranked by value with no interval or tier. The mean is ranked over runs with
every language. A budget lists the runs within it, with ranks and tiers of the whole field; the Pareto front
of score vs size is flagged per row.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.frames import isin
from backend.pareto import front_mask
from backend.ranking import MEAN, Items, Paired, mean_items, rank_intervals, resampled_means, tiers
from backend.significance import ALPHA, Resampling
from backend.vocab import CODE_LANGUAGES, METRICS, Direction

NO_ITEMS = "no interval: no per-item results (ranked by value)"
COLUMNS = ["run_id", "name", "language", "value", "rank", "rank_low", "rank_high", "tier", "pareto",
           "within_budget", "best_under_budget", "n_items", "disk_mb", "params_m", "memory_mb", "speedup", "source",
           "note"]


@dataclass(frozen=True)
class Budget:
    """Limits a run must meet to count as affordable; None: no limit. A run whose value is unknown does not
    meet a limit on it (it cannot be shown to)."""
    max_disk_mb: float | None = None
    max_params: float | None = None
    max_memory_mb: float | None = None
    min_speedup: float | None = None  # side-by-side encode speed-up against the speed base

    def active(self) -> bool:
        return any(v is not None for v in (self.max_disk_mb, self.max_params, self.max_memory_mb, self.min_speedup))

    def describe(self) -> str:
        parts = [f"disk <= {self.max_disk_mb:g} MB" if self.max_disk_mb is not None else "",
                 f"params <= {self.max_params:,.0f}" if self.max_params is not None else "",
                 f"inference memory <= {self.max_memory_mb:g} MB" if self.max_memory_mb is not None else "",
                 f"side-by-side speed-up >= {self.min_speedup:g}x" if self.min_speedup is not None else ""]
        return ", ".join(p for p in parts if p) or "no budget"

    def mask(self, runs: pd.DataFrame) -> tuple[pd.Series, list[str]]:
        """(within budget per run, notes naming the runs left out only because a value is unknown)."""
        keep, notes = pd.Series(True, index=runs.index), []
        limits = [("disk_mb", self.max_disk_mb, np.less_equal, "a disk size"),
                  ("params", self.max_params, np.less_equal, "a parameter count"),
                  ("memory_mb", self.max_memory_mb, np.less_equal, "a measured inference memory"),
                  ("speedup", self.min_speedup, np.greater_equal, "a side-by-side speed-up")]
        for column, limit, ok, what in limits:
            if limit is None:
                continue
            values = pd.to_numeric(runs[column], errors="coerce").astype(float)
            keep &= ok(values, limit)  # NaN compares False: unknown is not within
            unknown = values.isna().sum()
            if unknown:
                notes.append(f"{unknown} run(s) without {what} are not counted as within the budget")
        return keep, notes


# ---- tables: long-form rows in, the leaderboard out ---------------------------------------------------------

def item_matrix(items: pd.DataFrame) -> tuple[list[str], np.ndarray, list[str]]:
    """(run ids, runs x items matrix with NaN where a run has no value, item ids) of one language's rows
    (run_id, item_id, value)."""
    run_codes, run_ids = pd.factorize(items["run_id"], sort=True)
    item_codes, item_ids = pd.factorize(items["item_id"], sort=True)
    matrix = np.full((len(run_ids), len(item_ids)), np.nan)
    matrix[run_codes, item_codes] = items["value"].to_numpy(dtype=np.float64)
    return list(run_ids), matrix, list(item_ids)


def _shared_items(items: pd.DataFrame, resampling: Resampling) -> tuple[Items | None, dict[str, str]]:
    """The runs that cover the items most runs cover, resampled; and why each other run has no interval."""
    if items.empty:
        return None, {}
    run_ids, matrix, _ = item_matrix(items)
    present = ~np.isnan(matrix)
    keys = pd.Series([row.tobytes() for row in np.packbits(present, axis=1)])
    common = keys.value_counts().index[0]  # the item set most runs were scored on
    inside = (keys == common).to_numpy()
    columns = present[np.argmax(inside)]
    notes = {r: f"no interval: per-item results on other items ({int(present[i, columns].sum())} of "
                f"{int(columns.sum())} shared)" for i, r in enumerate(run_ids) if not inside[i]}
    if columns.sum() < 2:
        return None, {r: "no interval: fewer than 2 items" for r in run_ids}
    scores = matrix[inside][:, columns]
    return Items([r for r, keep in zip(run_ids, inside) if keep], Paired([(scores, 1.0)]),
                  resampled_means(scores, resampling), int(columns.sum())), notes


@dataclass
class _Block:
    """One language's (or the mean's) rows as arrays: each row's run as its place in the sorted run ids
    (``code``, ascending), its value and note, and what ranking adds (NaN: none)."""
    language: str
    code: np.ndarray
    value: np.ndarray
    note: np.ndarray  # each row's note as its place in the leaderboard's list of notes (``texts``)
    rank: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    tier: np.ndarray | None = None
    n_items: np.ndarray | None = None


def _ranked(block: _Block, texts: list, run_ids: pd.Index, items: Items | None, higher: bool,
            resampling: Resampling) -> _Block:
    """``block`` with rank, rank_low, rank_high and tier (and the number of items of the runs with an interval)."""
    n = len(block.code)
    block.rank, block.low, block.high, block.tier, block.n_items = (np.full(n, np.nan) for _ in range(5))
    refused = np.array([isinstance(t, str) and t.startswith("not ranked") for t in texts], dtype=bool)[block.note]
    ranked = np.flatnonzero(~refused & ~np.isnan(block.value))
    if not len(ranked):
        return block
    columns, order = np.array([], dtype=int), np.array([], dtype=int)
    if items is not None:
        at_items = np.full(len(run_ids), -1)  # each run's column among the runs with items (-1: none)
        codes = run_ids.get_indexer(items.run_ids)
        at_items[codes[codes >= 0]] = np.flatnonzero(codes >= 0)
        where = at_items[block.code[ranked]]
        columns = np.flatnonzero(where >= 0)
        order = where[columns]
    boot = items.boot[:, order] if len(columns) else None
    rank, low, high = rank_intervals(block.value[ranked], boot, columns, higher, resampling.confidence)
    block.rank[ranked] = rank
    if len(columns):
        rows = ranked[columns]
        block.low[rows], block.high[rows] = low, high
        block.tier[rows] = tiers(items.paired.subset(order), higher, ALPHA, resampling.correction)
        block.n_items[rows] = items.n_items
    return block


def leaderboard(runs: pd.DataFrame, values: pd.DataFrame, items: pd.DataFrame, metric: str,
                languages: list[str] | None = None, budget: Budget = Budget(),
                resampling: Resampling = Resampling(resamples=1000)) -> tuple[pd.DataFrame, list[str]]:
    """(table, notes): one row per run x language and per run for ``mean``, ranked.

    ``runs``: run_id, name, source and the budget columns disk_mb, params, memory_mb, speedup (side by side);
    ``values``: ``metric`` by language (``frames.by_language``: a row per run, a column per language,
    ``overall`` for a published overall value); ``items``: per-item values of ``metric`` (run_id, language,
    item_id, value). Ranks and tiers are over all runs; with a budget, only the runs within it are listed (ranks
    keep their place in the whole field) and the best of them per language is flagged."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of: {', '.join(METRICS)}")
    wrong = [lang for lang in languages or [] if lang not in CODE_LANGUAGES]
    if wrong:
        raise ValueError(f"unknown language {wrong[0]!r}; use some of: {', '.join(CODE_LANGUAGES)}")
    higher = METRICS[metric].direction is Direction.HIGHER
    values = values[np.asarray(isin(values.index.to_series(), runs["run_id"]), dtype=bool)]
    values = values if values.index.is_monotonic_increasing else values.sort_index()  # a row's place: its run's code
    run_ids = values.index
    present = [lang for lang in CODE_LANGUAGES if lang in values and values[lang].notna().any()]
    languages = [lang for lang in (languages or present) if lang in CODE_LANGUAGES]
    unknown = [lang for lang in languages if lang not in present]
    notes = [f"no run has {metric} for {', '.join(unknown)}"] if unknown else []
    languages = [lang for lang in languages if lang in present]
    empty = items.iloc[0:0]
    items_of = {lang: part for lang, part in items.groupby("language", sort=False) if lang in languages}
    blocks, per_language, texts = [], {}, [None, NO_ITEMS]  # the notes rows have (None: the row has an interval)
    for language in languages:
        part = items_of.get(language, empty)
        part = part[isin(part["run_id"], runs["run_id"])] if len(part) else part
        shared, why = _shared_items(part, resampling)
        per_language[language] = shared
        block = _language_block(language, values[language].to_numpy(), run_ids, shared, why, texts)
        blocks.append(_ranked(block, texts, run_ids, shared, higher, resampling))
    mean = _mean_block(values, languages, texts)
    blocks.append(_ranked(mean, texts, run_ids, mean_items(per_language, resampling), higher, resampling))
    return _finish(blocks, texts, run_ids, runs, higher, budget, notes)


def _language_block(language: str, column: np.ndarray, run_ids: pd.Index, shared: Items | None,
                    why: dict[str, str], texts: list) -> _Block:
    """The runs with a value in ``language``, noted: None for the runs with shared items (an interval to come),
    why not for the other runs with items, NO_ITEMS for the rest."""
    has = np.flatnonzero(~np.isnan(column))
    note = np.ones(len(has), dtype=np.int64)  # NO_ITEMS
    row_of = np.full(len(run_ids) + 1, -1)  # each run's row in this block (-1: none; the last: a run not here)
    row_of[has] = np.arange(len(has))
    for why_of in (why, dict.fromkeys(shared.run_ids if shared else [], None)):
        rows = row_of[run_ids.get_indexer(list(why_of))] if why_of else np.array([], dtype=int)
        known = rows >= 0
        note[rows[known]] = _codes(texts, list(why_of.values()))[known]
    return _Block(language, has, column[has], note)


def _codes(texts: list, notes: list) -> np.ndarray:
    """``notes`` as their places in ``texts``, adding those it lacks."""
    at = {t: i for i, t in enumerate(texts)}
    for note in notes:
        if note not in at:
            at[note] = len(texts)
            texts.append(note)
    return np.array([at[note] for note in notes], dtype=np.int64)


def _mean_block(wide: pd.DataFrame, languages: list[str], texts: list) -> _Block:
    """Per run: the mean of its values over ``languages`` (ranked only when it has all of them), or its
    published overall value (shown, not ranked: over its own languages)."""
    part = wide.reindex(columns=languages)
    count = part.notna().sum(axis=1).to_numpy()
    value, note = part.mean(axis=1).to_numpy(copy=True), np.zeros(len(wide), dtype=np.int64)  # None
    some = np.flatnonzero((count > 0) & (count < len(languages)))
    if len(some):  # each pattern of missing languages once
        missing, patterns = np.unique(part.iloc[some].isna().to_numpy(), axis=0, return_inverse=True)
        note[some] = _codes(texts, ["not ranked on the mean: no " + ", ".join(
            lang for lang, gone in zip(languages, row) if gone) for row in missing])[patterns.ravel()]
    if "overall" in wide:
        overall = (count == 0) & wide["overall"].notna().to_numpy()
        value[overall] = wide["overall"].to_numpy()[overall]
        note[overall] = _codes(texts, ["not ranked on the mean: a published overall value, over its own languages"])[0]
    kept = np.flatnonzero(~np.isnan(value))
    return _Block(MEAN, kept, value[kept], note[kept])


def _finish(blocks: list[_Block], texts: list, run_ids: pd.Index, runs: pd.DataFrame, higher: bool, budget: Budget,
            notes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The ranked blocks as one table with their runs' facts, Pareto and budget flags, sorted. On arrays, each
    of the 700k rows' text columns made once, at the end: at 100k runs, joining, flagging and sorting a frame
    took half a second."""
    wanted = ["run_id", *[c for c in ("name", "source", "disk_mb", "params", "memory_mb", "speedup") if c in runs]]
    info = runs[wanted].drop_duplicates("run_id").reset_index(drop=True)
    within, budget_notes = budget.mask(info)
    facts = {"within_budget": within.to_numpy(dtype=bool),
             "params_m": pd.to_numeric(info["params"], errors="coerce").astype(float).to_numpy() / 1e6
             if "params" in info else np.full(len(info), np.nan)}
    for column in ("name", "source", "disk_mb", "memory_mb", "speedup"):
        facts[column] = info[column].array if column in info else np.full(len(info), None, dtype=object)
    code = np.concatenate([b.code for b in blocks])
    at = pd.Index(info["run_id"]).get_indexer(run_ids)[code]  # each row's run in ``runs`` (-1: not there)

    def fact(column: str, rows: np.ndarray):  # the facts of these rows' runs (missing for a run not in ``runs``)
        return pd.api.extensions.take(facts[column], at[rows], allow_fill=True)

    def joined(part: str) -> np.ndarray:
        return np.concatenate([getattr(b, part) for b in blocks])
    order = {lang: i for i, lang in enumerate([*CODE_LANGUAGES, MEAN])}
    place = np.repeat([order[b.language] for b in blocks], [len(b.code) for b in blocks])
    # The front of score vs size: disk MB, or parameters where no run has a disk size (code LMs).
    disk = pd.to_numeric(pd.Series(facts["disk_mb"]), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    size_of = np.where(at >= 0, disk[at], np.nan)
    if np.isnan(size_of).all():
        size_of = np.where(at >= 0, facts["params_m"][at], np.nan)
        if (~np.isnan(size_of)).any():
            notes.append("pareto: score vs parameters (no run has a disk size)")
    rank_of, value_of, tier_of = joined("rank"), joined("value"), joined("tier")
    # Runs by size, once: each language's rows by size are its runs in this order (no sort per language).
    size_by_run = np.full(len(run_ids), np.nan)
    size_by_run[code] = size_of
    by_size = np.argsort(size_by_run, kind="stable")
    place_of_run = np.full(len(run_ids), -1)
    affordable_of = np.where(at >= 0, facts["within_budget"][at], False)
    pareto, best_flag, shown = np.zeros(len(code), dtype=bool), np.zeros(len(code), dtype=bool), []
    for language_at in np.unique(place):
        rows = np.flatnonzero(place == language_at)  # in the order of their runs' codes
        ranked = rows[~np.isnan(rank_of[rows])]  # a value not ranked (other languages) is not on the front either
        place_of_run[:] = -1
        place_of_run[code[ranked]] = np.arange(len(ranked))
        by_cost = place_of_run[by_size]
        pareto[ranked] = front_mask(value_of[ranked] if higher else -value_of[ranked], size_of[ranked],
                                    by_cost[by_cost >= 0])
        affordable = ranked[affordable_of[ranked]]
        if len(affordable):
            best = int(affordable[_best(rank_of[affordable], value_of[affordable], higher)])
            best_flag[best] = True
            if budget.active():
                tier = f"tier {int(tier_of[best])}" if not np.isnan(tier_of[best]) else "no tier (no per-item results)"
                notes.append(f"best under budget ({budget.describe()}) in {[*CODE_LANGUAGES, MEAN][language_at]}: "
                             f"{fact('name', np.array([best]))[0] or best} ({run_ids[code[best]]}), rank "
                             f"{int(rank_of[best])} of the whole field, {tier}")
        # Rank, value (best first), run: ranks follow values, so a stable sort by value of rows in run order;
        # rows not ranked after the ranked ones (numpy on numbers: pandas' sort of 700k rows with a text key
        # was a second at 100k runs).
        by_value = rows[np.argsort(value_of[rows] * (-1 if higher else 1), kind="stable")]
        unranked = np.isnan(rank_of[by_value])
        shown += [by_value[~unranked], by_value[unranked]]
    notes.extend(budget_notes if budget.active() else [])
    rows = np.concatenate(shown) if shown else np.zeros(0, dtype=np.int64)
    if budget.active():
        rows = rows[affordable_of[rows]]
    low = joined("low")[rows]
    note = joined("note")[rows]
    note[(note == 0) & np.isnan(low)] = 1  # a run with items but no interval made: NO_ITEMS
    languages = pd.array([*CODE_LANGUAGES, MEAN], dtype="str")

    def whole(x: np.ndarray):  # a count with NaN for none, as pandas' nullable integers
        return pd.arrays.IntegerArray(np.nan_to_num(x).astype(np.int64), np.isnan(x))
    table = pd.DataFrame({
        "run_id": run_ids.take(code[rows]).array, "name": fact("name", rows), "language": languages.take(place[rows]),
        "value": value_of[rows], "rank": whole(rank_of[rows]), "rank_low": whole(low),
        "rank_high": whole(joined("high")[rows]), "tier": whole(tier_of[rows]), "pareto": pareto[rows],
        "within_budget": affordable_of[rows], "best_under_budget": best_flag[rows],
        "n_items": whole(joined("n_items")[rows]), "disk_mb": fact("disk_mb", rows), "params_m": fact("params_m", rows),
        "memory_mb": fact("memory_mb", rows), "speedup": fact("speedup", rows), "source": fact("source", rows),
        "note": pd.Series(np.array(texts, dtype=object)[note], dtype=object)})
    return table[COLUMNS], notes


def _best(rank: np.ndarray, value: np.ndarray, higher: bool) -> int:
    """The position of the best of ranked rows: the best rank, then the best value, then the first (what a
    stable sort by rank and value puts first, without sorting 100k rows per language)."""
    top = np.flatnonzero(rank == rank.min())
    best = value[top].max() if higher else value[top].min()
    return int(top[np.flatnonzero(value[top] == best)[0]])
