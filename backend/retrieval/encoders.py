"""Encoders behind one interface: ``encode(texts) -> float32 [n, d]``. Loaders are registered by folder layout.

Heavy libraries (torch, transformers, model2vec, peft) are imported inside the loaders. Model folders are
never allowed to run their own code: ``trust_remote_code`` stays off and weights load from safetensors.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from backend import registry
from backend.retrieval.models import ModelError, resolve


@dataclass
class Encoder:
    name: str  # which loader made it
    path: Path
    params: int
    encode_batch: Callable[[list[str], int], np.ndarray]
    device: str = "cpu"  # the device label it encodes on (backend.device.Device.label; model2vec: always cpu)
    batch_rule: Callable[[int], int] = field(default=lambda n: n, repr=False)  # the device's encoding batch

    def encode(self, texts: list[str], batch_size: int = 64, on_progress: Callable[[int], None] | None = None
               ) -> np.ndarray:
        """float32 [n, d]; with ``on_progress``, encoded in chunks of a few batches, each chunk's count passed
        to it (the library's own batching and length sorting stay within a chunk)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        texts = list(texts)
        batch_size = self.batch_rule(batch_size)
        if on_progress is None:
            return np.asarray(self.encode_batch(texts, batch_size), dtype=np.float32)
        chunk = max(batch_size, 1) * PROGRESS_BATCHES
        parts = []
        for i in range(0, len(texts), chunk):
            parts.append(np.asarray(self.encode_batch(texts[i:i + chunk], batch_size), dtype=np.float32))
            on_progress(len(texts[i:i + chunk]))
        return np.vstack(parts)


# A progress report every 4 batches: a few seconds apart for a transformer, often enough to see it move.
PROGRESS_BATCHES = 4

# name -> (detect, load), tried in registration order (dicts keep it).
LOADERS: dict[str, tuple[Callable[[Path], bool], Callable[[Path, Path, object], Encoder]]] = {}


def register_loader(name: str, detect: Callable[[Path], bool], load: Callable[[Path, Path, object], Encoder]):
    """``load(path, cache_dir, device)``: the cache resolves packaged base models (a PEFT adapter's base);
    ``device`` is a backend.device.Device, or None for the CPU."""
    registry.add(LOADERS, name, (detect, load), "encoder loader")


def query_threads(n: int = 1):
    """Bound torch's threads in a process that encodes queries only (the dashboard's server): one query is a
    few milliseconds on one core, and every core it would take is a page of another session waiting."""
    import sys
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def load_encoder(ref: str, cache_dir: Path, device=None) -> Encoder:
    """An encoder for a short teacher name or a local folder (first registered layout that matches), on
    ``device`` (a backend.device.Device; None: the CPU, in float32)."""
    path = resolve(ref, cache_dir)
    for detect, load in LOADERS.values():
        if detect(path):
            return load(path, cache_dir, device)
    raise ModelError(f"{path} is not a model folder this dashboard can load "
                     f"({', '.join(LOADERS)}); it needs config.json and safetensors weights")


def _config(path: Path) -> dict:
    try:
        return json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return {}


def _load_model2vec(path: Path) -> Encoder:
    """Static embeddings are a numpy table lookup: the CPU whatever the device (model2vec has no GPU path)."""
    from model2vec import StaticModel
    model = StaticModel.from_pretrained(str(path))
    return Encoder("model2vec", path, int(model.embedding.size),
                   lambda texts, bs: model.encode(texts, batch_size=max(bs, 1024), show_progress_bar=False))


def on_device(encoder: Encoder, device) -> Encoder:
    """The encoder with its device's label and encoding batch rule (a CPU Device or None leaves it as it is)."""
    if device is not None:
        encoder.device = device.label()
        encoder.batch_rule = device.encode_batch
    return encoder


def sentence_transformer(path: Path, device=None):
    """A SentenceTransformer on ``device`` (None: the CPU); the one place teachers are opened, for evaluation
    and for the training kinds' teacher signals."""
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(str(path), device=device.name if device else "cpu", trust_remote_code=False,
                               local_files_only=True)


def _load_sentence_transformer(path: Path, device=None) -> Encoder:
    model = sentence_transformer(path, device)
    params = sum(p.numel() for p in model.parameters())
    autocast = device.autocast if device else contextlib.nullcontext

    def encode(texts, bs):
        with autocast():
            return model.encode(texts, batch_size=bs, convert_to_numpy=True, show_progress_bar=False)
    return on_device(Encoder("sentence-transformers", path, params, encode), device)


def _load_hf(path: Path, adapter: Path | None = None, device=None) -> Encoder:
    """A Hugging Face encoder with attention-masked mean pooling, optionally with a PEFT adapter on top."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), trust_remote_code=False, use_safetensors=True,
                                      local_files_only=True)
    if adapter is not None:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    name, autocast = (device.name, device.autocast) if device else ("cpu", contextlib.nullcontext)
    model.to(name)

    def encode(texts, bs):
        # Longest first, as sentence-transformers does: batches of similar lengths carry little padding, which
        # halved the time on the benchmark's code (and keeps speed-ups against the teachers fair).
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = []
        with torch.inference_mode(), autocast():
            for i in range(0, len(texts), bs):
                batch = tokenizer([texts[j] for j in order[i:i + bs]], padding=True, truncation=True, max_length=256,
                                  return_tensors="pt").to(name)
                out.append(mean_pool(model, batch).float().cpu().numpy())
        embeddings = np.concatenate(out)
        embeddings[order] = embeddings.copy()  # back to the caller's order
        return embeddings
    return on_device(Encoder("hf-mean-pool" + ("+peft" if adapter else ""), path, params, encode), device)


def mean_pool(model, batch):
    """The sentence embedding of an HF encoder's batch: the mean of its token states over the attention mask
    (as sentence-transformers pools MiniLM); the one pooling of evaluation and of the training loops."""
    hidden = model(**batch).last_hidden_state
    hidden = hidden[:, -batch["attention_mask"].shape[1]:]  # prompt tuning prepends virtual tokens: drop them
    mask = batch["attention_mask"].unsqueeze(-1).float()
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def _load_peft(path: Path, cache_dir: Path, device=None) -> Encoder:
    base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path") or ""
    return _load_hf(resolve(base, cache_dir), adapter=path, device=device)


register_loader("model2vec", lambda p: _config(p).get("model_type") == "model2vec",
                lambda p, _, device: _load_model2vec(p))
register_loader("peft-adapter", lambda p: (p / "adapter_config.json").is_file(), _load_peft)
register_loader("sentence-transformers", lambda p: (p / "modules.json").is_file(),
                lambda p, _, device: _load_sentence_transformer(p, device))
register_loader("hf-encoder", lambda p: (p / "config.json").is_file(), lambda p, _, device: _load_hf(p, device=device))
