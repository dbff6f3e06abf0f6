"""How long the first start will take, from this machine's measured rates, per stage, corrected as it goes.

A fixed "6 to 9 minutes" was off by four times on a loaded 2-core machine. Each stage is estimated from rates
measured here just before (the teacher's texts and tokens per second, a process's start-up); a running stage
from its own progress (elapsed / fraction); the stages still to come are scaled by how far the finished ones
were off. Pure functions over ``Stage`` records: the first start measures, this module only computes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from backend.progress import clock

STATIC_TEXTS_PER_S = 2_000.0  # a Model2Vec student or BM25: a table lookup, far faster than any teacher


@dataclass
class Rates:
    """Measured here: a run process's start-up (imports, the teacher's load), the teacher's encoding rates."""
    startup_s: float
    texts_per_s: float  # benchmark code and queries
    tokens_per_s: float  # single vocabulary tokens, as distillation encodes them


@dataclass
class Stage:
    name: str
    estimate_s: float
    started: float | None = None
    finished: float | None = None
    fraction: float = 0.0  # the stage's own progress, 0..1
    detail: str = ""  # its last progress message

    def elapsed(self, now: float) -> float:
        return 0.0 if self.started is None else (self.finished or now) - self.started


def stage_estimates(rates: Rates, eval_texts: int, vocabulary: int, index_docs: int) -> dict[str, float]:
    """Seconds per default stage on this machine: BM25, the student (distillation + its evaluation), the
    teacher's evaluation, the student's search index."""
    static = lambda n: n / STATIC_TEXTS_PER_S  # noqa: E731
    return {"bm25": rates.startup_s / 2 + static(eval_texts),
            "m2v-distill": rates.startup_s + vocabulary / rates.tokens_per_s + static(eval_texts),
            "teacher-eval": rates.startup_s + eval_texts / rates.texts_per_s,
            "search index": rates.startup_s / 2 + static(index_docs)}


def correction(stages: list[Stage]) -> float:
    """How far off the estimates were: the finished stages' time over their estimated time (1 before any), so
    the long stages weigh most; kept within 1/2 and 4, so a short stage's fixed costs cannot make the rest absurd."""
    done = [s for s in stages if s.finished and s.estimate_s > 0]
    if not done:
        return 1.0
    return min(max(sum(s.elapsed(0) for s in done) / sum(s.estimate_s for s in done), 0.5), 4.0)


def remaining(stage: Stage, now: float, factor: float) -> float:
    """Seconds left of one stage: none when finished; its own pace once it has reported 5 %; else the
    (corrected) estimate less the time it has run."""
    if stage.finished:
        return 0.0
    elapsed = stage.elapsed(now)
    if stage.fraction >= 0.05:
        return elapsed * (1 - stage.fraction) / stage.fraction
    return max(stage.estimate_s * factor - elapsed, 0.0)


def banner(stages: list[Stage], now: float, rates: Rates | None) -> tuple[float, str]:
    """(overall fraction, message): the stage under way with its own ETA, and the whole first start's."""
    factor = correction(stages)
    left = [remaining(s, now, factor) for s in stages]
    spent = sum(s.elapsed(now) for s in stages)
    current = next((i for i, s in enumerate(stages) if not s.finished), len(stages) - 1)
    stage = stages[current]
    # The run's own "· 0:18 elapsed · ETA 1:30" is its language's: the step's and the whole one's follow.
    detail = re.sub(r" · [\d:]+ elapsed| · ETA [\d:]+", "", stage.detail)
    detail = f": {detail}" if detail else ""
    text = (f"step {current + 1}/{len(stages)} {stage.name}{detail} · this step about {clock(left[current])} more"
            f" · all done in about {clock(sum(left))}")
    if rates is not None:
        text += (f" (from this machine's rates: teacher {rates.texts_per_s:,.1f} texts/s, "
                 f"{rates.tokens_per_s:,.0f} tokens/s, start-up {rates.startup_s:.0f} s)")
    total = spent + sum(left)
    return (spent / total if total > 0 else 0.0), text
