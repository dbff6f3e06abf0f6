"""Generation backends, registered by name and imported only when chosen.

- ``llama-cpp``: GGUF files through llama-cpp-python (fast on CPU; evaluation);
- ``transformers``: Hugging Face causal LMs (a folder, or a GGUF file loaded dequantized with ``gguf_file=``);
  the route for LoRA / full fine-tuning and for evaluating what they produce.
"""
from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
    """One loaded model: ``complete(prompt, stop, sampling)`` -> n completions; ``params``. ``complete_many``
    takes several prompts at once: a backend that decodes sequences together serves up to ``sequences`` of them
    (prompts x n) in one go."""
    params: int
    sequences: int = 1

    def complete(self, prompt: str, stop: list[str], sampling: Sampling) -> list[Completion]:
        raise NotImplementedError

    def complete_many(self, requests: list[tuple[str, list[str]]], sampling: Sampling) -> list[list[Completion]]:
        return [self.complete(prompt, stop, sampling) for prompt, stop in requests]


BACKENDS: dict[str, Callable[[Path], Generator]] = {}


def register_backend(name: str):
    return lambda factory: registry.add(BACKENDS, name, factory, "generation backend")


def open_generator(backend: str, path: Path, device=None) -> Generator:
    """``device``: a backend.device.Device to generate on (None: the CPU)."""
    if backend == "auto":
        backend = "llama-cpp" if Path(path).suffix == ".gguf" else "transformers"
    if backend not in BACKENDS:  # looked up first: a KeyError inside a backend must not read as "unknown"
        raise ValueError(f"unknown generation backend {backend!r}; use one of: auto, {', '.join(BACKENDS)}")
    return BACKENDS[backend](Path(path), device=device)


def gpu_layers(device, supports_offload: Callable[[], bool]) -> int:
    """llama.cpp's ``n_gpu_layers``: every layer (-1) on a GPU device when this llama.cpp build can offload
    (built with CUDA or Metal: docs/device.md), else none. A CPU-only build on a GPU device generates on the
    CPU; the run's provenance says so (``n_gpu_layers`` 0)."""
    return -1 if device is not None and device.kind != "cpu" and supports_offload() else 0


def cut_at_stop(text: str, stop: list[str]) -> str:
    """The text up to the first stop sequence (backends may overshoot by a token)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]


@register_backend("llama-cpp")
class LlamaCpp(Generator):
    """Samples are decoded together, one sequence each (the n samples of a prompt share its KV cells, and
    several prompts go in one group): on CPU a step of 15 tokens costs little more than a step of 1, the
    weights being read once. Qwen2.5-Coder-0.5B on a quiet 2-core machine: 1 sequence 26 tokens/s, 5
    sequences 60, 16 sequences 94. Each sample has its own sampler chain, the one llama-cpp-python's
    ``create_completion`` uses (top-k 40, top-p, min-p 0.05, temperature), seeded seed + its index."""
    sequences = 16  # decoded together at most
    CELLS = 8192  # KV cells shared by a group's prompts and samples

    def __init__(self, path: Path, lora: Path | None = None, device=None):
        """``lora``: a GGUF LoRA adapter (backend.codegen.gguf_export) applied on top of the model."""
        try:
            import llama_cpp
            from llama_cpp import Llama, llama_model_n_params
            from llama_cpp._internals import LlamaBatch, LlamaContext
        except ImportError:
            raise ValueError("the llama-cpp backend needs llama-cpp-python: pip install -r requirements.txt") from None
        self.lib = llama_cpp
        self.n_gpu_layers = gpu_layers(device, llama_cpp.llama_supports_gpu_offload)
        self.llm = Llama(model_path=str(path), n_ctx=512, n_threads=os.cpu_count() or 1, verbose=False, seed=0,
                         n_gpu_layers=self.n_gpu_layers, **({"lora_path": str(lora)} if lora else {}))
        self.params = int(llama_model_n_params(self.llm.model))
        params = type(self.llm.context_params).from_buffer_copy(self.llm.context_params)
        params.n_ctx, params.n_seq_max, params.kv_unified = self.CELLS, self.sequences, True
        self.ctx = LlamaContext(model=self.llm._model, params=params, verbose=False)
        if self.llm._lora_adapter is not None:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self.llm._lora_adapter)
            if llama_cpp.llama_set_adapters_lora(self.ctx.ctx, adapters, 1, (ctypes.c_float * 1)(1.0)):
                raise ValueError(f"llama.cpp could not apply the LoRA adapter {lora}")
        self.batch = LlamaBatch(n_tokens=max(self.llm.n_batch, self.sequences), embd=0, n_seq_max=self.sequences,
                                verbose=False)

    def complete(self, prompt, stop, sampling):
        return self.complete_many([(prompt, stop)], sampling)[0]

    def complete_many(self, requests, sampling):
        prompts = [self.llm.tokenize(prompt.encode("utf-8"), special=True) for prompt, _ in requests]
        out: list[list[Completion]] = [[] for _ in requests]
        group, cells = [], 0  # [(request, its prompt tokens, sample indices)], KV cells they need
        for r, tokens in enumerate(prompts):
            for first in range(0, sampling.n, self.sequences):
                samples = range(first, min(sampling.n, first + self.sequences))
                need = len(tokens) + len(samples) * sampling.max_new_tokens
                if need > self.CELLS:
                    raise ValueError(f"a prompt of {len(tokens)} tokens with {len(samples)} samples of up to "
                                     f"{sampling.max_new_tokens} tokens needs more than {self.CELLS} KV cells")
                if group and (sum(len(g[2]) for g in group) + len(samples) > self.sequences
                              or cells + need > self.CELLS):
                    self._group(group, requests, sampling, out)
                    group, cells = [], 0
                group.append((r, tokens, samples))
                cells += need
        if group:
            self._group(group, requests, sampling, out)
        return out

    def _group(self, group, requests, sampling: Sampling, out: list[list[Completion]]):
        """Decode a group's prompts (each into its samples' sequences), then all its samples step by step."""
        lib, ctx, b = self.lib, self.ctx, self.batch.batch
        ctx.kv_cache_clear()
        seqs = []  # per sequence: (request, sampler, prompt length)
        first_tokens = []
        for r, prompt, samples in group:
            ids = range(len(seqs), len(seqs) + len(samples))
            seqs += [(r, self._sampler(sampling, sampling.seed + i), len(prompt)) for i in samples]
            for start in range(0, len(prompt), self.llm.n_batch):  # the prompt once, in each of its sequences
                chunk = prompt[start:start + self.llm.n_batch]
                b.n_tokens = len(chunk)
                for i, token in enumerate(chunk):
                    b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, start + i, len(ids), False
                    for k, s in enumerate(ids):
                        b.seq_id[i][k] = s
                b.logits[len(chunk) - 1] = True
                ctx.decode(self.batch)
            # Sampled now: the next decode overwrites these logits.
            first_tokens += [lib.llama_sampler_sample(seqs[s][1].sampler, ctx.ctx, len(chunk) - 1) for s in ids]
        vocab = self.llm._model.vocab
        generated: list[list[int]] = [[] for _ in seqs]
        text = [bytearray() for _ in seqs]
        sampled = dict(enumerate(first_tokens))  # sequence -> its new token
        while sampled:
            step = {}
            for s, token in sampled.items():
                generated[s].append(token)
                if lib.llama_vocab_is_eog(vocab, token):
                    continue
                text[s] += self.llm._model.detokenize([token])
                decoded = text[s].decode("utf-8", "ignore")
                if len(generated[s]) < sampling.max_new_tokens and not any(x in decoded for x in requests[seqs[s][0]][1]):
                    step[s] = token
            for s in set(sampled) - set(step):
                lib.llama_memory_seq_rm(ctx.memory, s, -1, -1)  # frees its cells (the prompt's stay for others)
            if not step:
                break
            b.n_tokens = len(step)
            for j, (s, token) in enumerate(step.items()):
                b.token[j], b.pos[j], b.n_seq_id[j], b.logits[j] = token, seqs[s][2] + len(generated[s]) - 1, 1, True
                b.seq_id[j][0] = s
            ctx.decode(self.batch)
            sampled = {s: lib.llama_sampler_sample(seqs[s][1].sampler, ctx.ctx, j) for j, s in enumerate(step)}
        for s, (r, _, _) in enumerate(seqs):
            out[r].append(Completion(cut_at_stop(text[s].decode("utf-8", "ignore"), requests[r][1]), len(generated[s])))

    def _sampler(self, sampling: Sampling, seed: int):
        from llama_cpp._internals import LlamaSampler
        sampler = LlamaSampler()
        if sampling.temperature == 0:
            sampler.add_greedy()
            return sampler
        sampler.add_top_k(40)
        sampler.add_typical(1.0, 1)
        sampler.add_top_p(sampling.top_p, 1)
        sampler.add_min_p(0.05, 1)
        sampler.add_temp(sampling.temperature)
        sampler.add_dist(seed)
        return sampler


def load_causal_lm(path: Path, device=None):
    """(model, tokenizer) in float32 from a folder or a GGUF file (dequantized by transformers), on ``device``
    (a backend.device.Device; None: the CPU). Weights stay float32: the device's dtype is autocast's."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    kwargs = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
    folder = path.parent if path.suffix == ".gguf" else path
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    if device is not None:
        model.to(device.name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


@register_backend("transformers")
class Transformers(Generator):
    def __init__(self, path: Path | None = None, model=None, tokenizer=None, device=None):
        """From a path, or from a model already in memory (a fine-tuned one, on its device already)."""
        import torch

        from backend.device import autocast_of
        if path is not None:
            model, tokenizer = load_causal_lm(path, device)
        self.model, self.tokenizer, self.torch = model.eval(), tokenizer, torch
        self.autocast = lambda: autocast_of(device)
        self.params = sum(p.numel() for p in self.model.parameters())

    def complete(self, prompt, stop, sampling):
        torch = self.torch
        ids = self.tokenizer(prompt, return_tensors="pt").to(next(self.model.parameters()).device)
        out = []
        for i in range(sampling.n):
            torch.manual_seed(sampling.seed + i)
            greedy = sampling.temperature == 0
            with torch.no_grad(), self.autocast():
                gen = self.model.generate(
                    **ids, max_new_tokens=sampling.max_new_tokens, do_sample=not greedy,
                    temperature=None if greedy else sampling.temperature, top_p=None if greedy else sampling.top_p,
                    top_k=None, stop_strings=stop, tokenizer=self.tokenizer,
                    pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
            new = gen[0, ids["input_ids"].shape[1]:]
            out.append(Completion(cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), stop), len(new)))
        return out
