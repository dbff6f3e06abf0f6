"""Registered run kinds: what a run of each kind is and which page family shows it."""
from __future__ import annotations

from dataclasses import dataclass

from backend import registry

KINDS: dict[str, "Kind"] = {}


@dataclass(frozen=True)
class Kind:
    name: str
    family: str  # "retrieval" or "codegen": decides which pages compare it
    help: str
    # "module:function" of the runner and "module:Class" of its config dataclass; imported only when launched,
    # so listing kinds never imports torch. None: results of this kind can only be imported.
    runner: str | None = None
    config: str | None = None

    def load(self):
        """(runner function, config class) of a launchable kind."""
        if not self.runner:
            raise ValueError(f"run kind {self.name!r} cannot be launched here, only imported")
        return registry.load(self.runner), registry.load(self.config)


def register_kind(name: str, family: str, help: str, runner: str | None = None, config: str | None = None) -> Kind:
    """Add a run kind; a second registration under the same name is a bug in the caller."""
    return registry.add(KINDS, name, Kind(name, family, help, runner, config), "run kind")


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown run kind {name!r}; use one of: {', '.join(sorted(KINDS))}") from None


_RETRIEVAL = "backend.retrieval.runs"
register_kind("teacher-eval", "retrieval", "a sentence-transformer teacher evaluated as is (the base line)",
              f"{_RETRIEVAL}:run_eval", f"{_RETRIEVAL}:TeacherEvalConfig")
register_kind("eval", "retrieval", "any saved model folder evaluated as is",
              f"{_RETRIEVAL}:run_eval", f"{_RETRIEVAL}:EvalConfig")
register_kind("m2v-distill", "retrieval", "Model2Vec static distillation of a teacher",
              f"{_RETRIEVAL}:run_m2v_distill", f"{_RETRIEVAL}:DistillConfig")
_STATIC, _ADAPTERS, _KD = (f"backend.retrieval.training.{m}" for m in ("static", "adapters", "kd"))
register_kind("m2v-tokenlearn", "retrieval", "Model2Vec distillation + tokenlearn fine-tuning (code or prose corpus)",
              f"{_STATIC}:run_m2v_tokenlearn", f"{_STATIC}:TokenlearnConfig")
register_kind("m2v-contrastive", "retrieval", "Model2Vec distillation, then its vectors trained on the pairs (no teacher)",
              f"{_STATIC}:run_m2v_contrastive", f"{_STATIC}:StaticContrastiveConfig")
register_kind("peft-contrastive", "retrieval", "PEFT (LoRA, AdaLoRA, IA3, prompt tuning) contrastive fine-tuning",
              f"{_ADAPTERS}:run_peft_contrastive", f"{_ADAPTERS}:PeftConfig")
register_kind("kd-student", "retrieval", "feature-based knowledge distillation into a small student",
              f"{_KD}:run_kd_student", f"{_KD}:KDConfig")
register_kind("bm25", "retrieval", "BM25 (bm25s) on any benchmark: the lexical floor; disk MB = its index",
              "backend.retrieval.bm25:run_bm25", "backend.retrieval.bm25:Bm25Config")
register_kind("external-retrieval", "retrieval", "a retrieval model evaluated elsewhere (e.g. MTEB results)")
_CODEGEN = "backend.codegen.runs"
register_kind("codegen-eval", "codegen", "a causal code LM judged by executed pass@k",
              f"{_CODEGEN}:run_codegen_eval", f"{_CODEGEN}:CodegenEvalConfig")
register_kind("codegen-finetune", "codegen", "LoRA or full fine-tuning of a causal code LM, then pass@k",
              f"{_CODEGEN}:run_codegen_finetune", f"{_CODEGEN}:FinetuneConfig")


def kinds_of(family: str) -> list[str]:
    return [k.name for k in KINDS.values() if k.family == family]
