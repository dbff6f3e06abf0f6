"""Fine-tune a causal code LM on code text: LoRA (peft) or full, next-token loss, on the model's device (the
CPU by default; backend.device for the precision rules).

Perplexity is measured on held-out code before and after, on the target language (the gain) and on others
(forgetting). torch / transformers / peft are imported here only.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from backend.batching import train_steps


@dataclass
class TrainResult:
    model: object  # the trained model (a peft model for LoRA: save the adapter, then merge_and_unload())
    tokenizer: object
    losses: list[float]
    train_seconds: float
    trainable_params: int
    params: int


def perplexity(model, tokenizer, texts: list[str], max_length: int) -> float:
    """exp(mean next-token loss) over ``texts``, token-weighted."""
    import torch
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)["input_ids"].to(
                _device_of(model))
            if ids.shape[1] < 2:
                continue
            loss = model(input_ids=ids, labels=ids).loss.item()
            total += loss * (ids.shape[1] - 1)
            count += ids.shape[1] - 1
    if not count:
        raise ValueError("no held-out text long enough to measure perplexity")
    return math.exp(total / count)


def train(model, tokenizer, texts: list[str], method: str, steps: int, batch_size: int, max_length: int,
          learning_rate: float, lora_r: int, seed: int, on_step=None, device=None) -> TrainResult:
    """``steps`` optimizer steps over shuffled ``texts``, batches padded, no loss on padding; on ``device``
    (a backend.device.Device the model is on already; None: the CPU)."""
    import torch
    torch.manual_seed(seed)
    params = sum(p.numel() for p in model.parameters())
    if method == "lora":
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
    elif method != "full":
        raise ValueError(f"method must be lora or full, got {method!r}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    model.train()
    start = time.monotonic()

    def loss_of(idx):
        enc = tokenizer([texts[i] for i in idx], return_tensors="pt", truncation=True, max_length=max_length,
                        padding=True).to(_device_of(model))
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)  # no loss on padding
        return model(**enc, labels=labels).loss
    losses = [round(loss, 5) for loss in train_steps(
        device, optimizer, len(texts), batch_size, steps, seed, loss_of,
        lambda step, loss: on_step(step, round(loss, 5)) if on_step else None, clip=1.0)]
    model.eval()
    return TrainResult(model, tokenizer, losses, time.monotonic() - start, trainable, params)


def _device_of(model):
    return next(model.parameters()).device


TRAINED = "trained.json"  # beside a saved LoRA adapter: training finished, with what and how long


def save_lora(result: TrainResult, folder: Path, config: dict):
    """The adapter (``folder/adapter``), then the marker that says it is complete."""
    from backend.fileio import write_atomic
    result.model.save_pretrained(folder / "adapter")
    # Atomic and fsynced: a marker is either whole or absent, never a torn file naming a finished adapter.
    write_atomic(folder / TRAINED, json.dumps({"config": config, "losses": result.losses, "params": result.params,
                                               "train_seconds": result.train_seconds,
                                               "trainable_params": result.trainable_params}))


def load_lora(model, tokenizer, folder: Path, config: dict) -> TrainResult | None:
    """The adapter a previous attempt of this run trained with the same config, on ``model``; None if none
    (training again costs minutes to an hour, and a new adapter would not match the completions it logged)."""
    try:
        trained = json.loads((folder / TRAINED).read_text())
    except (OSError, ValueError):
        return None
    if trained.get("config") != config:
        return None
    from peft import PeftModel
    model = PeftModel.from_pretrained(model, folder / "adapter").eval()
    return TrainResult(model, tokenizer, trained["losses"], trained["train_seconds"], trained["trainable_params"],
                       trained["params"])
