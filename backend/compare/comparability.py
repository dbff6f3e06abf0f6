"""May two runs be compared: the same problems, benchmark and protocol (or a caution), their protocol twins."""
from __future__ import annotations

import json

import pandas as pd

from backend.vocab import (
    Source,
)


class ComparisonError(ValueError):
    """Two runs that must not be compared; the message says why and what to pick instead."""


def problem_sets(run: dict) -> dict[str, str]:
    """language -> the problems a codegen run covers (``config.problem_sets``); empty for other runs."""
    config = run.get("config")
    try:
        config = json.loads(config) if isinstance(config, str) else (config or {})
    except ValueError:
        return {}
    sets = config.get("problem_sets") if isinstance(config, dict) else None
    return sets if isinstance(sets, dict) else {}


def _problem_set_difference(base: dict, candidate: dict) -> str | None:
    """None when two codegen runs share every common language's problems; else why not."""
    a, b = problem_sets(base), problem_sets(candidate)
    common = sorted(set(a) & set(b))
    if not common:
        return f"no language in common ({', '.join(a) or '-'} vs {', '.join(b) or '-'})"
    differ = [f"{lang}: {a[lang]!r} vs {b[lang]!r}" for lang in common if a[lang] != b[lang]]
    return f"different problems ({'; '.join(differ)})" if differ else None


def check_comparable(base: dict, candidate: dict) -> str | None:
    """Raise if the runs were evaluated differently; return a caution text when only reference runs differ.

    Codegen runs compare per language on the problems they cover (a run over 50 problems is not compared with
    one over 164), retrieval runs on their benchmark id; both on their protocol."""
    if base["run_id"] == candidate["run_id"]:
        raise ComparisonError("base and candidate are the same run; pick two different runs")
    if problem_sets(base) and problem_sets(candidate):
        reason = _problem_set_difference(base, candidate)
        if reason:
            raise ComparisonError(f"the runs did not solve the same problems: {reason}; compare runs over the same "
                                  "problem set (same --limit, same source)")
        differs = [k for k in ("protocol",) if (base.get(k) or None) != (candidate.get(k) or None)]
    else:
        differs = [k for k in ("benchmark", "protocol") if (base.get(k) or None) != (candidate.get(k) or None)]
    if not differs:
        return None
    detail = "; ".join(f"{k}: {base.get(k)!r} vs {candidate.get(k)!r}" for k in differs)
    same_task = str(base.get("benchmark") or "").split("@")[0] == str(candidate.get("benchmark") or "").split("@")[0]
    if differs == ["benchmark"] and same_task:
        detail = (f"the same task {str(base.get('benchmark')).split('@')[0]!r} on different dataset revisions "
                  f"({str(base.get('benchmark')).partition('@')[2] or 'none'} vs "
                  f"{str(candidate.get('benchmark')).partition('@')[2] or 'none'}): the test data may differ")
    if base.get("source") == candidate.get("source") == Source.REFERENCE.value:
        return f"Both are published reference runs evaluated differently ({detail}); read the deltas with care."
    if differs == ["protocol"] and problem_sets(base) and Source.REFERENCE.value in (base.get("source"),
                                                                                   candidate.get("source")):
        return (f"Same problems, different decoding ({detail}): a published greedy pass@1 and a sampled estimate "
                "are not the same quantity; read the delta with care.")
    raise ComparisonError(f"the runs were evaluated differently ({detail}); pick runs with the same benchmark "
                          "and protocol (re-evaluate one of them on the other's benchmark)")


def comparable_candidates(runs: pd.DataFrame, base_id: str) -> list[str]:
    """Runs that ``check_comparable`` accepts against the base, in the given order: the candidates worth listing
    (each run is stored once per protocol, and the other protocol's twin would only be refused)."""
    by_id = runs.set_index("run_id", drop=False)
    base = by_id.loc[base_id].to_dict()
    rest = runs[runs["run_id"] != base_id]
    if not problem_sets(base):
        # Retrieval: the same benchmark and protocol pass as they are (a year of runs is one comparison away,
        # not 100,000 checks); only the others need the full check (reference runs pass with a caution).
        same = pd.Series(True, index=rest.index)
        for key in ("benchmark", "protocol"):  # equal text; an empty or missing value equals nothing
            wanted = base.get(key) or None
            same &= (rest[key] == wanted).fillna(False).to_numpy(dtype=bool) if isinstance(wanted, str) else False
        accepted = set(rest.loc[same, "run_id"].tolist())
        rest = rest[~same & (rest["source"] == Source.REFERENCE.value)] \
            if base.get("source") == Source.REFERENCE.value else rest.iloc[0:0]
    else:
        accepted = set()
    for row in rest.itertuples(index=False):
        try:
            check_comparable(base, row._asdict())
        except ComparisonError:
            continue
        accepted.add(row.run_id)
    return [r for r in runs["run_id"].tolist() if r in accepted]


def protocol_stem(run_id: str, protocol) -> str:
    """A run's id without its protocol's suffix: a run and its protocol twins (the same evaluation scored under
    each protocol, ``<id>`` and ``<id>--csn-1000``) share it."""
    suffix = f"--{protocol}" if isinstance(protocol, str) and protocol else None
    return run_id[:-len(suffix)] if suffix and run_id.endswith(suffix) else run_id


def with_twins(runs: pd.DataFrame, chosen, options: list[str]) -> list[str]:
    """The ``chosen`` runs as picks among ``options`` (e.g. the candidates comparable with a new base): each kept
    when offered, else replaced by its protocol twin when that is offered, else dropped; order kept, no repeats.
    Anything that is not a run id (a stale widget value) is dropped."""
    offered = set(options)
    chosen = [c for c in chosen if isinstance(c, str)]
    if all(c in offered for c in chosen):
        return list(dict.fromkeys(chosen))
    protocol = dict(zip(runs["run_id"], runs["protocol"]))
    twin_of = {protocol_stem(r, protocol.get(r)): r for r in options}
    mapped = [c if c in offered else twin_of.get(protocol_stem(c, protocol.get(c))) for c in chosen]
    return list(dict.fromkeys(c for c in mapped if c is not None))


def evaluation_groups(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """(benchmark, protocol) pairs with runs, most runs first: only runs within one group are comparable."""
    keys = runs[["benchmark", "protocol"]].fillna("").astype(str)
    counts = keys.value_counts()
    return [tuple(k) for k in counts.index]
