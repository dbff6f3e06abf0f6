"""Model2Vec static models trained further: ``m2v-tokenlearn`` (tokenlearn on the teacher's features of code or
prose) and ``m2v-contrastive`` (the distilled vectors trained on the pairs, no teacher)."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.batching import train_steps
from backend.device import autocast_of, name_of
from backend.options import choice
from backend.retrieval.models import TEACHER_NAMES, TEACHERS, resolve
from backend.retrieval.runs import DistillConfig, evaluate
from backend.retrieval.training.base import TrainConfig, info_nce, reporter, train_pairs
from backend.sizes import folder_mb

PROSE_SKIP = ("ascii-art", "computers", "debian", "linux", "linuxcookie", "perl", "translate-me")


@dataclass
class TokenlearnConfig(TrainConfig, DistillConfig):
    corpus: str = choice(("code", "prose"), "code: the benchmark's train docstrings and code; prose: English text "
                                            "from Debian's fortunes package (standing in for C4)")
    corpus_size: int = field(default=6000, metadata={"help": "texts featurized with the teacher (the slow part)"})
    # A static model trains fast: tokenlearn's own batch size, more steps.
    steps: int = field(default=300, metadata={"help": "optimizer steps"})
    train_batch_size: int = field(default=256, metadata={"help": "texts per optimizer step"})
    max_train: int = field(default=5000, metadata={"help": "train pairs per language drawn for the code corpus"})

    def label(self) -> str:
        return f"{super().label()} tokenlearn {self.corpus}"


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
                reporter(ctx, config.steps, 0.3, 0.7))
    net.eval()
    with torch.no_grad():  # each token's vector as the trained model embeds it alone
        vectors = net.sub_forward(torch.arange(len(net.embeddings.weight), device=dev)[:, None]).cpu().numpy()
    seconds = time.perf_counter() - start
    model_dir = ctx.dir / "model"
    StaticModel(vectors=vectors, tokenizer=base.tokenizer, config=base.config).save_pretrained(str(model_dir))
    encoder = load_encoder(str(model_dir), ctx.settings.cache_dir, ctx.device)
    return evaluate(encoder, config, ctx, share=(0.7, 1.0), model=str(model_dir), disk_mb=folder_mb(model_dir),
                    train_seconds=seconds, made={"training_corpus": corpus_meta},
                    name=f"Model2Vec + tokenlearn ({config.corpus}) of {TEACHER_NAMES.get(config.model, config.model)}",
                    # Every vector of the saved model was trained. The fine-tuner's head and per-token weights
                    # are scaffolding (the weights are folded into the vectors): not counted, or the share > 100 %.
                    teacher=TEACHERS.get(config.model, str(teacher_path)), trainable_params=int(vectors.size))


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
                reporter(ctx, config.steps, 0.1, 0.7))
    seconds = time.perf_counter() - start
    model_dir = ctx.dir / "model"
    vectors = table.weight.detach().cpu().numpy()
    StaticModel(vectors=vectors, tokenizer=base.tokenizer, config=base.config).save_pretrained(str(model_dir))
    encoder = load_encoder(str(model_dir), ctx.settings.cache_dir, ctx.device)
    return evaluate(encoder, config, ctx, share=(0.7, 1.0), model=str(model_dir), disk_mb=folder_mb(model_dir),
                    train_seconds=seconds, trainable_params=int(vectors.size),
                    name=f"Model2Vec student of {TEACHER_NAMES.get(config.model, config.model)} trained on the pairs",
                    teacher=TEACHERS.get(config.model, str(teacher_path)))
