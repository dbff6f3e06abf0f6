"""Retrieval training kinds: ``m2v-tokenlearn``, ``m2v-contrastive``, ``peft-contrastive``, ``kd-student``. Each
trains on the run's device (backend.device: CPU by default here), saves its model under the run, stores its loss
per step (``losses.json``) and is evaluated like any model.

torch / transformers / peft / model2vec / tokenlearn are imported inside the functions that need them.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.batching import train_steps
from backend.device import autocast_of, name_of
from backend.options import choice
from backend.retrieval.encoders import mean_pool
from backend.retrieval.models import TEACHER_NAMES, TEACHERS, resolve
from backend.retrieval.runs import DistillConfig, EvalConfig, evaluate
from backend.sizes import folder_mb

PROSE_SKIP = ("ascii-art", "computers", "debian", "linux", "linuxcookie", "perl", "translate-me")


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


# -- m2v-tokenlearn ------------------------------------------------------------------------------------------
@dataclass
class TokenlearnConfig(TrainConfig, DistillConfig):
    corpus: str = choice(("code", "prose"), "code: the benchmark's train docstrings and code; prose: English text "
                                            "from Debian's fortunes package (standing in for C4)")
    corpus_size: int = field(default=6000, metadata={"help": "texts featurized with the teacher (the slow part)"})
    # A static model trains fast: tokenlearn's own batch size, more steps.
    steps: int = field(default=300, metadata={"help": "optimizer steps"})
    train_batch_size: int = field(default=256, metadata={"help": "texts per optimizer step"})
    max_train: int = field(default=5000, metadata={"help": "train pairs per language drawn for the code corpus"})

    def __post_init__(self):
        super().__post_init__()

    def label(self) -> str:
        return f"{super().label()} tokenlearn {self.corpus}"


def _reporter(ctx, steps: int, start: float, end: float, prefix: str = ""):
    """``on_step`` for train_steps: the loss recorded for the run's curve and the progress from start to end."""
    def on_step(step: int, loss: float):
        ctx.progress(start + (end - start) * step / steps, f"{prefix}step {step}/{steps} loss {ctx.loss(loss):.4f}")
    return on_step


def prose_corpus(limit: int, seed: int, cache_dir: Path) -> tuple[list[str], dict]:
    """English prose from the Debian ``fortunes`` package (quotes, literature, science...), fetched offline."""
    from backend.bench.sources import _fetch_deb
    root, meta = _fetch_deb("fortunes", cache_dir)
    texts = []
    for path in sorted((root / "usr/share/games/fortunes").iterdir()):
        if path.suffix == ".dat" or path.is_dir() or path.name in PROSE_SKIP or path.is_symlink():
            continue
        for entry in path.read_text(errors="replace").split("\n%\n"):
            entry = " ".join(entry.split())
            if len(entry.split()) >= 8:
                texts.append(entry)
    random.Random(seed).shuffle(texts)
    return texts[:limit], meta


def run_m2v_tokenlearn(config: TokenlearnConfig, ctx) -> list:
    import numpy as np
    import torch
    from model2vec import StaticModel
    from model2vec.distill import distill
    from sklearn.decomposition import PCA
    from tokenlearn.pretrain import StaticModelFineTuner, TextDataset

    from backend.retrieval.encoders import load_encoder, sentence_transformer
    torch.manual_seed(config.seed)
    dev = name_of(ctx.device)
    teacher_path = resolve(config.model, ctx.settings.cache_dir)
    limit = config.corpus_size
    if config.corpus == "code":
        _, pairs = train_pairs(config, ctx)
        texts = [t for p in pairs for t in (p["query"], p["code"])]
        random.Random(config.seed).shuffle(texts)
        texts, corpus_meta = texts[:limit], {"corpus": "benchmark train split (docstrings + code)"}
    else:
        texts, corpus_meta = prose_corpus(limit, config.seed, ctx.settings.cache_dir)
    start = time.perf_counter()
    ctx.progress(0.0, f"featurizing {len(texts)} {config.corpus} texts with the teacher")
    teacher = sentence_transformer(teacher_path, ctx.device)
    targets = []
    for i in range(0, len(texts), 64):
        # tokenlearn's target: the mean of the teacher's token embeddings without [CLS] / [SEP]
        with autocast_of(ctx.device):
            embs = teacher.encode(texts[i:i + 64], output_value="token_embeddings", show_progress_bar=False)
        for emb in embs:
            emb = emb.float().cpu()
            targets.append(emb[1:-1].mean(0).numpy() if len(emb) > 2 else emb.mean(0).numpy())
        ctx.progress(0.3 * min(i + 64, len(texts)) / len(texts), f"featurized {min(i + 64, len(texts))}/{len(texts)}")
    ctx.progress(0.3, f"distilling {config.model}")
    base = distill(model_name=str(teacher_path), pca_dims=config.pca_dims or None, device=dev)
    out_dim = min(config.pca_dims or base.dim, len(texts) - 1, np.asarray(targets).shape[1])
    goal = PCA(n_components=out_dim, random_state=config.seed).fit_transform(np.asarray(targets, dtype=np.float32))
    data = TextDataset(texts, torch.from_numpy(goal.astype(np.float32)), base.tokenizer)
    net = StaticModelFineTuner(torch.from_numpy(np.asarray(base.embedding, dtype=np.float32)), out_dim,
                               base.tokenizer.token_to_id("[PAD]")).to(dev)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate or 1e-3)
    net.train()

    def loss_of(idx):
        x, y = TextDataset.collate_fn([data[i] for i in idx])
        return torch.nn.functional.mse_loss(net(x.to(dev))[0].float(), y.to(dev))
    train_steps(ctx.device, optimizer, len(data), config.train_batch_size, config.steps, config.seed, loss_of,
                _reporter(ctx, config.steps, 0.3, 0.7))
    net.eval()
    with torch.no_grad():  # each token's vector as the trained model embeds it alone
        vectors = net.sub_forward(torch.arange(len(net.embeddings.weight), device=dev)[:, None]).cpu().numpy()
    seconds = time.perf_counter() - start
    model_dir = ctx.dir / "model"
    StaticModel(vectors=vectors, tokenizer=base.tokenizer, config=base.config).save_pretrained(str(model_dir))
    encoder = load_encoder(str(model_dir), ctx.settings.cache_dir, ctx.device)
    return evaluate(encoder, config, ctx, share=(0.7, 1.0), model=str(model_dir), disk_mb=folder_mb(model_dir),
                    train_seconds=seconds,
                    name=f"Model2Vec + tokenlearn ({config.corpus}) of {TEACHER_NAMES.get(config.model, config.model)}",
                    # Every vector of the saved model was trained. The fine-tuner's head and per-token weights
                    # are scaffolding (the weights are folded into the vectors): not counted, or the share > 100 %.
                    teacher=TEACHERS.get(config.model, str(teacher_path)), trainable_params=int(vectors.size))


# -- m2v-contrastive -----------------------------------------------------------------------------------------
@dataclass
class StaticContrastiveConfig(TrainConfig, DistillConfig):
    pca_dims: int = field(default=128, metadata={"help": "PCA dimensions of the static embeddings (0: no PCA)"})
    # A static model's step costs milliseconds: many large batches (in-batch negatives) over many pairs.
    steps: int = field(default=2000, metadata={"help": "optimizer steps"})
    train_batch_size: int = field(default=256, metadata={"help": "pairs per optimizer step"})
    max_train: int = field(default=5000, metadata={"help": "training pairs per language at most"})
    max_length: int = field(default=256, metadata={"help": "tokens per text while training"})
    temperature: float = field(default=0.05, metadata={"help": "InfoNCE temperature"})

    def __post_init__(self):
        super().__post_init__()
        if self.max_length < 1 or self.temperature <= 0:
            raise ValueError("max_length must be >= 1 and temperature > 0")

    def label(self) -> str:
        return f"{super().label()} contrastive"


def run_m2v_contrastive(config: StaticContrastiveConfig, ctx) -> list:
    """A Model2Vec student (distilled from the teacher's token embeddings) whose vectors are then trained on the
    benchmark's pairs with the contrastive loss, the teacher no longer involved: mean of token vectors, symmetric
    InfoNCE over in-batch negatives."""
    import numpy as np
    import torch
    from model2vec import StaticModel
    from model2vec.distill import distill

    from backend.retrieval.encoders import load_encoder
    torch.manual_seed(config.seed)
    dev = name_of(ctx.device)
    teacher_path = resolve(config.model, ctx.settings.cache_dir)
    _, pairs = train_pairs(config, ctx)
    start = time.perf_counter()
    ctx.progress(0.0, f"distilling {config.model} (pca {config.pca_dims})")
    base = distill(model_name=str(teacher_path), pca_dims=config.pca_dims or None, device=dev)
    if base.weights is not None or base.token_mapping is not None:
        raise ValueError("this model2vec distills with token weights or a token mapping: m2v-contrastive trains "
                         "plain per-token vectors only")
    tokens = {key: [ids[:config.max_length] or [0] for ids in base.tokenize([p[key] for p in pairs])]
              for key in ("query", "code")}
    table = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(np.asarray(base.embedding, dtype=np.float32)),
                                                  freeze=False, mode="mean").to(dev)

    def embed(seqs):
        offsets = torch.tensor([0, *np.cumsum([len(s) for s in seqs[:-1]])], device=dev)
        return torch.nn.functional.normalize(table(torch.tensor([t for s in seqs for t in s], device=dev), offsets),
                                             dim=-1)

    optimizer = torch.optim.Adam(table.parameters(), lr=config.learning_rate or 3e-3)
    train_steps(ctx.device, optimizer, len(pairs), config.train_batch_size, config.steps, config.seed,
                lambda idx: info_nce(embed([tokens["query"][i] for i in idx]), embed([tokens["code"][i] for i in idx]),
                                     config.temperature),
                _reporter(ctx, config.steps, 0.1, 0.7))
    seconds = time.perf_counter() - start
    model_dir = ctx.dir / "model"
    vectors = table.weight.detach().cpu().numpy()
    StaticModel(vectors=vectors, tokenizer=base.tokenizer, config=base.config).save_pretrained(str(model_dir))
    encoder = load_encoder(str(model_dir), ctx.settings.cache_dir, ctx.device)
    return evaluate(encoder, config, ctx, share=(0.7, 1.0), model=str(model_dir), disk_mb=folder_mb(model_dir),
                    train_seconds=seconds, trainable_params=int(vectors.size),
                    name=f"Model2Vec student of {TEACHER_NAMES.get(config.model, config.model)} trained on the pairs",
                    teacher=TEACHERS.get(config.model, str(teacher_path)))


# -- peft-contrastive ----------------------------------------------------------------------------------------
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
                _reporter(ctx, config.steps, *share, prefix=f"{out_dir.name}: "),
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
                    size={"adapter_mb": adapter_mb, "size_basis": "disk: the base model + its adapter(s), what you ship"},
                    train_seconds=seconds, trainable_params=trainable, teacher=TEACHERS.get(config.model))


# -- kd-student ----------------------------------------------------------------------------------------------
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
                _reporter(ctx, config.steps, 0.1, 0.6))
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
