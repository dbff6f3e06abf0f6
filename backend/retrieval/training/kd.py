"""``kd-student``: feature-based knowledge distillation of the teacher into a smaller student."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from backend.batching import train_steps
from backend.device import autocast_of, name_of
from backend.options import choice
from backend.retrieval.encoders import mean_pool
from backend.retrieval.models import TEACHER_NAMES, TEACHERS, resolve
from backend.retrieval.runs import evaluate
from backend.retrieval.training.base import (
    TrainConfig,
    contrastive_loss,
    reporter,
    train_pairs,
)
from backend.sizes import folder_mb


@dataclass
class KDConfig(TrainConfig):
    layers: int = field(default=3, metadata={"help": "student layers: the teacher's first N transformer layers"})
    teacher_signal: str = choice(("features", "none"),
                                 "features: match the teacher's embeddings (feature-based KD); none: the same student "
                                 "fine-tuned on the pairs alone (contrastive, no teacher), the baseline KD must beat")
    loss: str = choice(("cosine", "mse"), "cosine or mse between student and teacher embeddings")
    max_length: int = field(default=128, metadata={"help": "tokens per text while training"})
    temperature: float = field(default=0.05, metadata={"help": "InfoNCE temperature (teacher signal none)"})

    def __post_init__(self):
        super().__post_init__()
        if self.layers < 1 or self.temperature <= 0:
            raise ValueError("layers must be >= 1 and temperature > 0")

    def label(self) -> str:
        return f"{super().label()} {'KD' if self.teacher_signal == 'features' else 'no-teacher'} {self.layers} layers"


def run_kd_student(config: KDConfig, ctx) -> list:
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from backend.retrieval.encoders import load_encoder, sentence_transformer
    torch.manual_seed(config.seed)
    dev = name_of(ctx.device)
    path = resolve(config.model, ctx.settings.cache_dir)
    _, pairs = train_pairs(config, ctx)
    texts = [t for p in pairs for t in (p["query"], p["code"])]
    distil = config.teacher_signal == "features"
    start = time.perf_counter()  # KD's time includes the teacher's embeddings: that is its extra cost
    if distil:
        teacher = sentence_transformer(path, ctx.device)
        ctx.progress(0.0, f"teacher embeddings of {len(texts)} texts")
        with autocast_of(ctx.device):
            goal = torch.from_numpy(teacher.encode(texts, batch_size=64, convert_to_numpy=True,
                                                   show_progress_bar=False)).float().to(dev)
        del teacher  # its memory is the student's now (a GPU's especially)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    teacher_layers = AutoConfig.from_pretrained(str(path), local_files_only=True).num_hidden_layers
    if config.layers >= teacher_layers:
        raise ValueError(f"the teacher has {teacher_layers} layers; a student needs fewer (--layers)")
    # The student is the teacher's embeddings and first N layers: HF loads exactly those weights.
    student = AutoModel.from_pretrained(str(path), num_hidden_layers=config.layers, use_safetensors=True,
                                        local_files_only=True).to(dev)
    optimizer = torch.optim.AdamW(student.parameters(), lr=config.learning_rate or 5e-5)
    student.train()
    # Without a teacher a batch holds pairs (docstring + code), with one it holds single texts: the same number
    # of texts per step either way.
    n_items, per_step = (len(texts), config.train_batch_size) if distil else (len(pairs), max(config.train_batch_size // 2, 2))

    def loss_of(idx):
        if not distil:
            return contrastive_loss(student, tokenizer, [pairs[i] for i in idx], config.max_length,
                                    config.temperature)
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                          max_length=config.max_length, return_tensors="pt").to(dev)
        out, target = mean_pool(student, batch).float(), goal[idx]
        if config.loss == "cosine":
            return (1 - torch.nn.functional.cosine_similarity(out, target)).mean()
        return torch.nn.functional.mse_loss(out, target)
    train_steps(ctx.device, optimizer, n_items, per_step, config.steps, config.seed, loss_of,
                reporter(ctx, config.steps, 0.1, 0.6))
    seconds = time.perf_counter() - start
    model_dir = ctx.dir / "model"
    student.save_pretrained(str(model_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(model_dir))
    encoder = load_encoder(str(model_dir), ctx.settings.cache_dir, ctx.device)
    params = sum(p.numel() for p in student.parameters())
    return evaluate(encoder, config, ctx, share=(0.6, 1.0), model=str(model_dir), disk_mb=folder_mb(model_dir),
                    train_seconds=seconds,
                    trainable_params=params, teacher=TEACHERS.get(config.model, str(path)),
                    name=(f"KD student of {TEACHER_NAMES.get(config.model, config.model)}: {config.layers} layers"
                          if distil else f"{TEACHER_NAMES.get(config.model, config.model)}'s first {config.layers} "
                                         "layers fine-tuned without a teacher"))
