"""Generation backends, registered by name and imported only when chosen.

- ``llama-cpp``: GGUF files through llama-cpp-python (fast on CPU; evaluation);
- ``transformers``: Hugging Face causal LMs (a folder, or a GGUF file loaded dequantized with ``gguf_file=``);
  the route for LoRA / full fine-tuning and for evaluating what they produce.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

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
    """The n samples of a prompt are decoded together, one sequence each over the prompt's shared KV cells: on
    CPU a step of 5 tokens costs little more than a step of 1 (the weights are read once), so n=5 takes about a
    third of the time of 5 completions one after another. Each sample has its own sampler chain, the one
    llama-cpp-python's ``create_completion`` uses (top-k 40, top-p, min-p 0.05, temperature), seeded seed + i."""
    GROUP = 8  # sequences decoded together at most
    CTX = 4096  # KV cells shared by the prompt and the group's samples

    def __init__(self, path: Path, lora: Path | None = None):
        """``lora``: a GGUF LoRA adapter (backend.codegen.gguf_export) applied on top of the model."""
        try:
            import llama_cpp
            from llama_cpp import Llama, llama_model_n_params
            from llama_cpp._internals import LlamaBatch, LlamaContext
        except ImportError:
            raise ValueError("the llama-cpp backend needs llama-cpp-python: pip install -r requirements.txt") from None
        self.lib = llama_cpp
        self.llm = Llama(model_path=str(path), n_ctx=512, n_threads=os.cpu_count() or 1, verbose=False, seed=0,
                         **({"lora_path": str(lora)} if lora else {}))
        self.params = int(llama_model_n_params(self.llm.model))
        params = type(self.llm.context_params).from_buffer_copy(self.llm.context_params)
        params.n_ctx, params.n_seq_max, params.kv_unified = self.CTX, self.GROUP, True
        self.ctx = LlamaContext(model=self.llm._model, params=params, verbose=False)
        if self.llm._lora_adapter is not None:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self.llm._lora_adapter)
            if llama_cpp.llama_set_adapters_lora(self.ctx.ctx, adapters, 1, (ctypes.c_float * 1)(1.0)):
                raise ValueError(f"llama.cpp could not apply the LoRA adapter {lora}")
        self.batch = LlamaBatch(n_tokens=self.llm.n_batch, embd=0, n_seq_max=self.GROUP, verbose=False)

    def complete(self, prompt, stop, sampling):
        tokens = self.llm.tokenize(prompt.encode("utf-8"), special=True)
        room = (self.CTX - len(tokens)) // max(1, sampling.max_new_tokens)
        if room < 1:
            raise ValueError(f"prompt of {len(tokens)} tokens leaves no room for {sampling.max_new_tokens} new ones")
        out = []
        for first in range(0, sampling.n, min(self.GROUP, room)):
            out += self._group(tokens, stop, sampling, range(first, min(sampling.n, first + min(self.GROUP, room))))
        return out

    def _group(self, prompt: list[int], stop: list[str], sampling: Sampling, samples: range) -> list[Completion]:
        lib, ctx, b = self.lib, self.ctx, self.batch.batch
        ctx.kv_cache_clear()
        seqs = len(samples)
        for start in range(0, len(prompt), self.llm.n_batch):  # the prompt once, in every sequence
            chunk = prompt[start:start + self.llm.n_batch]
            b.n_tokens = len(chunk)
            for i, token in enumerate(chunk):
                b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, start + i, seqs, False
                for s in range(seqs):
                    b.seq_id[i][s] = s
            b.logits[len(chunk) - 1] = True
            ctx.decode(self.batch)
        samplers = [self._sampler(sampling, seed) for seed in (sampling.seed + i for i in samples)]
        vocab = self.llm._model.vocab
        generated: list[list[int]] = [[] for _ in samples]
        text = [bytearray() for _ in samples]
        rows = {s: len(chunk) - 1 for s in range(seqs)}  # sequence -> its logits' row in the last batch
        while rows:
            step = {}
            for s, row in rows.items():
                token = lib.llama_sampler_sample(samplers[s].sampler, ctx.ctx, row)
                generated[s].append(token)
                if lib.llama_vocab_is_eog(vocab, token):
                    continue
                text[s] += self.llm._model.detokenize([token])
                decoded = text[s].decode("utf-8", "ignore")
                if len(generated[s]) < sampling.max_new_tokens and not any(x in decoded for x in stop):
                    step[s] = token
            for s in set(rows) - set(step):
                lib.llama_memory_seq_rm(ctx.memory, s, -1, -1)  # frees its cells (the prompt's stay for others)
            if not step:
                break
            b.n_tokens = len(step)
            for j, (s, token) in enumerate(step.items()):
                b.token[j], b.pos[j], b.n_seq_id[j], b.logits[j] = token, len(prompt) + len(generated[s]) - 1, 1, True
                b.seq_id[j][0] = s
            ctx.decode(self.batch)
            rows = {s: j for j, s in enumerate(step)}
        return [Completion(cut_at_stop(t.decode("utf-8", "ignore"), stop), len(g)) for t, g in zip(text, generated)]

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
