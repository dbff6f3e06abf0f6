"""How the published reference runs (runs/reference/: the EvalPlus leaderboard, MTEB results, published studies)
sit beside local runs on the pages: shown or hidden, grouped, and the cautions a comparison with them needs."""
from __future__ import annotations

import json

import pandas as pd

from backend.vocab import Source

TOGGLE = "public models"
TOGGLE_HELP = ("The public leaderboards' models shipped in runs/reference/ (EvalPlus leaderboard, MTEB results), "
               "pinned by their source's commit; reference runs are drawn with their own marker.")
GROUPS = {"evalplus-leaderboard": "public · EvalPlus leaderboard", "mteb": "public · MTEB results"}


def is_public(runs: pd.DataFrame) -> pd.Series:
    """True for the runs of a public leaderboard (EvalPlus, MTEB results) shipped as references."""
    reference = (runs["source"] == Source.REFERENCE.value).to_numpy(dtype=bool)
    out = pd.Series(False, index=runs.index)
    if "provenance" in runs and reference.any():  # only reference runs' provenance is read (100k local runs: none)
        out[reference] = [_format(p) in GROUPS for p in runs["provenance"][reference].tolist()]
    return out


def shown(runs: pd.DataFrame, public: bool) -> pd.DataFrame:
    """The runs a page draws: all of them, or without the public leaderboards' models."""
    return runs if public else runs[~is_public(runs)]


def _format(provenance) -> str | None:
    try:
        value = json.loads(provenance) if isinstance(provenance, str) else provenance
    except ValueError:
        return None
    return value.get("format") if isinstance(value, dict) else None


def grouped(view: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``view`` (rows of ``runs``, e.g. the Runs page's columns) with a ``group`` column: local, imported, or which
    public source; the public groups last."""
    reference = Source.REFERENCE.value
    provenance = dict(zip(runs["run_id"].tolist(), runs["provenance"].tolist())) if "provenance" in runs else {}
    groups = [GROUPS.get(_format(provenance.get(r)), "public · published study") if s == reference
              else str(s) for r, s in zip(view["run_id"].tolist(), view["source"].tolist())]
    out = view.assign(group=groups)
    order = pd.Series([g.startswith("public") for g in groups], index=out.index, dtype=int)  # also with no rows
    out = out.assign(_public=order.to_numpy()).sort_values("_public", kind="stable").drop(columns="_public")
    return out[["group", *[c for c in out.columns if c != "group"]]]


def decoding_cautions(table: pd.DataFrame) -> list[str]:
    """One line per problem set where published greedy pass@1 sits beside runs decoded otherwise (sampled pass@k
    from n samples estimates another quantity than greedy pass@1): the Codegen page shows them, not hides them."""
    out = []
    for problem_set, rows in table.groupby("problem_set", sort=True):
        public = rows[rows["source"] == Source.REFERENCE.value]
        others = rows[rows["source"] != Source.REFERENCE.value]
        greedy = set(public["protocol"].dropna()) & {"greedy"}
        sampled = sorted(p for p in set(others["protocol"].dropna()) if p != "greedy")
        if greedy and sampled:
            out.append(f"{problem_set}: the public models' pass@1 is greedy (one sample at temperature 0); "
                       f"{len(others[others['protocol'].isin(sampled)])} run(s) here were sampled "
                       f"({'; '.join(sampled)}): their pass@1 is an estimate over n samples, not the same quantity.")
    return out


def default_group(groups: list[tuple[str, str]], runs: pd.DataFrame) -> tuple[str, str] | None:
    """The evaluation group a page opens on: the largest one with a run that is not from a public leaderboard
    (made or imported here, or a published study), else the largest."""
    local = runs[~is_public(runs)][["benchmark", "protocol"]].fillna("").astype(str).drop_duplicates()
    mine = set(map(tuple, local.to_numpy()))  # the distinct pairs: a few, not a tuple per run
    return next((g for g in groups if g in mine), groups[0] if groups else None)
