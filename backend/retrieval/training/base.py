"""What every retrieval training kind shares: its options, the training pairs, the progress of its steps and
the contrastive losses."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from backend.retrieval.encoders import mean_pool
from backend.retrieval.runs import EvalConfig


@dataclass
class TrainConfig(EvalConfig):
    steps: int = field(default=100, metadata={"help": "optimizer steps"})
    train_batch_size: int = field(default=16, metadata={"help": "examples per optimizer step"})
    learning_rate: float = field(default=0.0, metadata={"help": "learning rate (0: the kind's default)"})
    max_train: int = field(default=500, metadata={"help": "training pairs per language at most"})

    def __post_init__(self):
        super().__post_init__()
        for name in ("steps", "train_batch_size", "max_train"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a whole number >= 1")
        if self.learning_rate < 0:
            raise ValueError("learning_rate must be >= 0")


def train_pairs(config: EvalConfig, ctx, languages: list[str] | None = None) -> tuple[object, list[dict]]:
    """(benchmark, its train pairs): at most max_train per language, seeded order."""
    bench = ctx.benchmark(config.bench)
    pairs = []
    for lang in languages or config.language_list() or bench.languages:
        rows = bench.pairs(lang, "train")
        random.Random(config.seed).shuffle(rows)
        pairs += rows[:config.max_train]
    if not pairs:
        raise ValueError(f"benchmark {bench.id} has no train pairs for these languages")
    return bench, pairs


def reporter(ctx, steps: int, start: float, end: float, prefix: str = ""):
    """``on_step`` for train_steps: the loss recorded for the run's curve and the progress from start to end."""
    def on_step(step: int, loss: float):
        ctx.progress(start + (end - start) * step / steps, f"{prefix}step {step}/{steps} loss {ctx.loss(loss):.4f}")
    return on_step


def contrastive_loss(model, tokenizer, pairs: list[dict], max_length: int, temperature: float):
    """Symmetric InfoNCE over in-batch negatives: each docstring's own code against the batch's other code."""
    import torch
    device = next(model.parameters()).device
    enc = [tokenizer([p[key] for p in pairs], padding=True, truncation=True, max_length=max_length,
                     return_tensors="pt").to(device) for key in ("query", "code")]
    return info_nce(*(torch.nn.functional.normalize(mean_pool(model, e), dim=-1) for e in enc), temperature)


def info_nce(q, d, temperature: float):
    """Symmetric InfoNCE of normalized query and document embeddings: row i's positive is row i."""
    import torch
    logits = (q @ d.T).float() / temperature  # float32 logits under autocast: a low-precision softmax drifts
    labels = torch.arange(len(q), device=q.device)
    return (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
