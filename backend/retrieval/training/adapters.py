"""``peft-contrastive``: PEFT adapters (LoRA, AdaLoRA, IA3, prompt tuning) on a frozen teacher, trained contrastively
on the pairs, one for all languages or one per language."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.batching import train_steps
from backend.device import name_of
from backend.options import choice
from backend.retrieval.models import TEACHER_NAMES, TEACHERS, resolve
from backend.retrieval.runs import evaluate
from backend.retrieval.training.base import (
    TrainConfig,
    contrastive_loss,
    reporter,
    train_pairs,
)
from backend.sizes import folder_mb

PEFT_METHODS = ("lora", "adalora", "ia3", "prompt_tuning")


# IA3 scales activations and prompt tuning learns a few input vectors: both need larger steps than LoRA.
DEFAULT_LR = {"lora": 5e-4, "adalora": 5e-4, "ia3": 3e-3, "prompt_tuning": 3e-2}


@dataclass
class PeftConfig(TrainConfig):
    method: str = choice(PEFT_METHODS, f"one of {', '.join(PEFT_METHODS)}")
    adapters: str = choice(("shared", "per-language"),
                           "shared: one adapter for all languages; per-language: one adapter per language (as the PEFT paper)")
    temperature: float = field(default=0.05, metadata={"help": "InfoNCE temperature"})
    max_length: int = field(default=128, metadata={"help": "tokens per text while training"})
    rank: int = field(default=8, metadata={"help": "LoRA / AdaLoRA rank; virtual tokens for prompt tuning: 2x"})

    def __post_init__(self):
        super().__post_init__()
        if self.temperature <= 0 or self.max_length < 8 or self.rank < 1:
            raise ValueError("temperature must be > 0, max_length >= 8, rank >= 1")

    def label(self) -> str:
        return f"{super().label()} {self.method}" + (" per-language" if self.adapters == "per-language" else "")


def peft_model(base, config: PeftConfig):
    """Wrap a BERT-style encoder with the chosen PEFT method (attention query/value, as the LoRA paper)."""
    import peft
    common = {"task_type": peft.TaskType.FEATURE_EXTRACTION}
    if config.method == "lora":
        cfg = peft.LoraConfig(r=config.rank, lora_alpha=2 * config.rank, target_modules=["query", "value"], **common)
    elif config.method == "adalora":
        cfg = peft.AdaLoraConfig(init_r=config.rank + 4, target_r=config.rank, total_step=config.steps,
                                 tinit=max(config.steps // 10, 1), tfinal=max(config.steps // 5, 1),
                                 target_modules=["query", "value"], **common)
    elif config.method == "ia3":
        cfg = peft.IA3Config(target_modules=["key", "value", "output.dense"], feedforward_modules=["output.dense"],
                             **common)
    else:
        cfg = peft.PromptTuningConfig(num_virtual_tokens=2 * config.rank, **common)
    return peft.get_peft_model(base, cfg)


def train_adapter(config: PeftConfig, pairs: list[dict], out_dir: Path, ctx, share: tuple[float, float]) -> dict:
    """InfoNCE over in-batch negatives on (docstring, code); the adapter saved to out_dir."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    torch.manual_seed(config.seed)
    path = resolve(config.model, ctx.settings.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    base = AutoModel.from_pretrained(str(path), use_safetensors=True, local_files_only=True)
    model = peft_model(base, config).to(name_of(ctx.device))
    trainable, total = model.get_nb_trainable_parameters()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.learning_rate or DEFAULT_LR[config.method])
    model.train()
    train_steps(ctx.device, optimizer, len(pairs), config.train_batch_size, config.steps, config.seed,
                lambda idx: contrastive_loss(model, tokenizer, [pairs[i] for i in idx], config.max_length,
                                             config.temperature),
                reporter(ctx, config.steps, *share, prefix=f"{out_dir.name}: "),
                # AdaLoRA re-allocates ranks on its schedule, from this step's gradients
                after_step=model.base_model.update_and_allocate if config.method == "adalora" else None)
    model.save_pretrained(str(out_dir))
    return {"trainable": trainable, "total": total}


def run_peft_contrastive(config: PeftConfig, ctx) -> list:
    from backend.retrieval.encoders import load_encoder
    bench = ctx.benchmark(config.bench)
    languages = config.language_list() or bench.languages
    groups = [[lang] for lang in languages] if config.adapters == "per-language" else [languages]
    start, encoders, dirs, trainable = time.perf_counter(), {}, [], 0
    for i, group in enumerate(groups):
        _, pairs = train_pairs(config, ctx, group)
        out = ctx.dir / ("model" if config.adapters == "shared" else f"model-{group[0]}")
        trained = train_adapter(config, pairs, out, ctx, share=(0.6 * i / len(groups), 0.6 * (i + 1) / len(groups)))
        trainable += trained["trainable"]
        dirs.append(out)
        encoders.update(dict.fromkeys(group, load_encoder(str(out), ctx.settings.cache_dir, ctx.device)))
    seconds = time.perf_counter() - start
    per_language = config.adapters == "per-language"
    # An adapter alone is not a model: the size a user ships is the base model plus the adapter(s).
    adapter_mb = sum(folder_mb(d) for d in dirs)
    return evaluate(encoders if per_language else encoders[languages[0]], config, ctx, share=(0.6, 1.0),
                    model=str(ctx.dir if per_language else dirs[0]),
                    name=f"{TEACHER_NAMES.get(config.model, config.model)} + {config.method}"
                         + (" (per-language adapters)" if per_language else ""),
                    disk_mb=folder_mb(resolve(config.model, ctx.settings.cache_dir)) + adapter_mb,
                    made={"adapter_mb": adapter_mb, "size_basis": "disk: the base model + its adapter(s), what you ship"},
                    train_seconds=seconds, trainable_params=trainable, teacher=TEACHERS.get(config.model))
