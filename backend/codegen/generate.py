"""Generation backends, registered by name and imported only when chosen.

- ``llama-cpp``: GGUF files through llama-cpp-python (fast on CPU; evaluation);
- ``transformers``: Hugging Face causal LMs (a folder, or a GGUF file loaded dequantized with ``gguf_file=``);
  the route for LoRA / full fine-tuning and for evaluating what they produce.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from backend import registry


@dataclass(frozen=True)
class Sampling:
    n: int = 1
    temperature: float = 0.0  # 0: greedy (then one sample is all there is to draw)
    top_p: float = 0.95
    max_new_tokens: int = 384
    seed: int = 0


@dataclass
class Completion:
    text: str
    tokens: int


class Generator:
    """One loaded model: ``complete(prompt, stop, sampling)`` -> n completions; ``params``."""
    params: int

    def complete(self, prompt: str, stop: list[str], sampling: Sampling) -> list[Completion]:
        raise NotImplementedError


BACKENDS: dict[str, Callable[[Path], Generator]] = {}


def register_backend(name: str):
    return lambda factory: registry.add(BACKENDS, name, factory, "generation backend")


def open_generator(backend: str, path: Path) -> Generator:
    if backend == "auto":
        backend = "llama-cpp" if Path(path).suffix == ".gguf" else "transformers"
    if backend not in BACKENDS:  # looked up first: a KeyError inside a backend must not read as "unknown"
        raise ValueError(f"unknown generation backend {backend!r}; use one of: auto, {', '.join(BACKENDS)}")
    return BACKENDS[backend](Path(path))


def cut_at_stop(text: str, stop: list[str]) -> str:
    """The text up to the first stop sequence (backends may overshoot by a token)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]


@register_backend("llama-cpp")
class LlamaCpp(Generator):
    def __init__(self, path: Path, lora: Path | None = None):
        """``lora``: a GGUF LoRA adapter (backend.codegen.gguf_export) applied on top of the model."""
        try:
            from llama_cpp import Llama, llama_model_n_params
        except ImportError:
            raise ValueError("the llama-cpp backend needs llama-cpp-python: pip install -r requirements.txt") from None
        self.llm = Llama(model_path=str(path), n_ctx=2048, n_threads=os.cpu_count() or 1, verbose=False, seed=0,
                         **({"lora_path": str(lora)} if lora else {}))
        self.params = int(llama_model_n_params(self.llm.model))

    def complete(self, prompt, stop, sampling):
        out = []
        for i in range(sampling.n):
            r = self.llm.create_completion(prompt, max_tokens=sampling.max_new_tokens, temperature=sampling.temperature,
                                           top_p=sampling.top_p, stop=stop, seed=sampling.seed + i)
            out.append(Completion(cut_at_stop(r["choices"][0]["text"], stop), r["usage"]["completion_tokens"]))
        return out


def load_causal_lm(path: Path):
    """(model, tokenizer) in float32 from a folder or a GGUF file (dequantized by transformers)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    kwargs = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
    folder = path.parent if path.suffix == ".gguf" else path
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


@register_backend("transformers")
class Transformers(Generator):
    def __init__(self, path: Path | None = None, model=None, tokenizer=None):
        """From a path, or from a model already in memory (a fine-tuned one)."""
        import torch
        if path is not None:
            model, tokenizer = load_causal_lm(path)
        self.model, self.tokenizer, self.torch = model.eval(), tokenizer, torch
        self.params = sum(p.numel() for p in self.model.parameters())

    def complete(self, prompt, stop, sampling):
        torch = self.torch
        ids = self.tokenizer(prompt, return_tensors="pt")
        out = []
        for i in range(sampling.n):
            torch.manual_seed(sampling.seed + i)
            greedy = sampling.temperature == 0
            with torch.no_grad():
                gen = self.model.generate(
                    **ids, max_new_tokens=sampling.max_new_tokens, do_sample=not greedy,
                    temperature=None if greedy else sampling.temperature, top_p=None if greedy else sampling.top_p,
                    top_k=None, stop_strings=stop, tokenizer=self.tokenizer,
                    pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
            new = gen[0, ids["input_ids"].shape[1]:]
            out.append(Completion(cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), stop), len(new)))
        return out
