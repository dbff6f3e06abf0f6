"""Fixed vocabularies stored in the DB: languages, statuses, sources, metrics (with direction)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Language(str, Enum):
    PYTHON = "python"
    JAVA = "java"
    JAVASCRIPT = "javascript"
    GO = "go"
    PHP = "php"
    RUBY = "ruby"
    # A published aggregate over the languages, kept when the per-language parts are not all known.
    OVERALL = "overall"


CODE_LANGUAGES = [lang.value for lang in Language if lang is not Language.OVERALL]


class RunStatus(str, Enum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class ExecStatus(str, Enum):
    PASS = "PASS"  # the tests ran to their end, judged here, every check true
    FAIL = "FAIL"  # a check was false, a test call raised, or the program ended before the tests did
    TIMEOUT = "TIMEOUT"  # wall-clock or CPU limit reached before the tests ended
    ERROR = "ERROR"  # never ran: does not compile / parse, or the sandbox could not start it


class Source(str, Enum):
    LOCAL = "local"  # made by this installation's runners
    IMPORTED = "imported"  # someone else's results, imported from a file
    REFERENCE = "reference"  # published figures shipped in runs/reference/


class Direction(str, Enum):
    HIGHER = "higher"
    LOWER = "lower"


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    direction: Direction
    upper: float | None  # largest valid value (None: unbounded)
    lower: float = 0.0


METRICS: dict[str, Metric] = {}


def _metric(name, label, direction=Direction.HIGHER, upper=1.0, lower=0.0):
    METRICS[name] = Metric(name, label, direction, upper, lower)


_metric("ndcg@10", "NDCG@10")
_metric("mrr", "MRR")
_metric("mrr@10", "MRR@10")
_metric("recall@1", "Recall@1")
_metric("recall@5", "Recall@5")
_metric("recall@10", "Recall@10")
_metric("map", "MAP")
_metric("p@5", "P@5")
_metric("p@10", "P@10")
_metric("mean_rank", "mean rank", Direction.LOWER, upper=None, lower=1.0)
_metric("median_rank", "median rank", Direction.LOWER, upper=None, lower=1.0)
PASS_KS = (1, 5, 10, 100)  # the k of pass@k reported (those <= n samples per problem)
PASS_METRICS = tuple(f"pass@{k}" for k in PASS_KS)  # in the order tables show them
for _name in PASS_METRICS:
    _metric(_name, _name)
# Held-out perplexity of a causal LM on a language's code, before and after fine-tuning on it.
_metric("perplexity", "perplexity", Direction.LOWER, upper=None, lower=1.0)
_metric("base_perplexity", "perplexity before fine-tuning", Direction.LOWER, upper=None, lower=1.0)


def canonical_metric(name: str) -> str | None:
    """Map spellings such as ``ndcg_at_10`` or ``NDCG@10`` to the stored metric name, or None if unknown."""
    key = name.strip().lower().replace("_at_", "@").replace(" ", "_")
    key = "p@" + key[len("precision@"):] if key.startswith("precision@") else key  # MTEB's precision_at_5
    return key if key in METRICS else None


def enum_value(enum_cls, raw, what: str) -> str:
    """The enum value for ``raw``; ValueError naming the allowed values otherwise."""
    try:
        return enum_cls(str(raw).strip().lower()).value
    except ValueError:
        allowed = ", ".join(e.value for e in enum_cls)
        raise ValueError(f"unknown {what} {raw!r}; use one of: {allowed}") from None
