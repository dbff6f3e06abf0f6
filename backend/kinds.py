"""Registered run kinds: what a run of each kind is and which page family shows it."""
from __future__ import annotations

from dataclasses import dataclass

KINDS: dict[str, "Kind"] = {}


@dataclass(frozen=True)
class Kind:
    name: str
    family: str  # "retrieval" or "codegen": decides which pages compare it
    help: str


def register_kind(name: str, family: str, help: str) -> Kind:
    """Add a run kind; a second registration under the same name is a bug in the caller."""
    if name in KINDS:
        raise ValueError(f"run kind {name!r} is already registered; pick another name")
    KINDS[name] = kind = Kind(name, family, help)
    return kind


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown run kind {name!r}; use one of: {', '.join(sorted(KINDS))}") from None


register_kind("teacher", "retrieval", "a sentence-transformer evaluated as is")
register_kind("m2v-distill", "retrieval", "Model2Vec static distillation of a teacher")
register_kind("m2v-tokenlearn", "retrieval", "Model2Vec distillation + tokenlearn fine-tuning")
register_kind("peft-contrastive", "retrieval", "PEFT (LoRA, AdaLoRA, IA3, prompt tuning) contrastive fine-tuning")
register_kind("kd-student", "retrieval", "feature-based knowledge distillation into a small student")
register_kind("external-retrieval", "retrieval", "a retrieval model evaluated elsewhere (e.g. MTEB results)")
register_kind("codegen-eval", "codegen", "a causal code LM judged by executed pass@k")
