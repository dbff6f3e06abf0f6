"""Device selection: resolution, dtype and batch rules, the one-line error, identity and provenance.

The GPU rules are tested on this CPU-only machine by building what torch would report (a Probe) or by faking
torch's answers; the slow test makes one real run with --device auto and checks it recorded the CPU."""
import hashlib
import json
import math
import os
import sysconfig
import types
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backend import compare, device, options
from backend.config import settings
from backend.device import DeviceError, Gpu, Probe, resolve

CPU_ONLY = Probe(torch="2.13.0+cpu", platform="Linux x86_64")
A100 = Gpu("NVIDIA A100-SXM4-80GB", 79.3, (8, 0))
T4 = Gpu("Tesla T4", 14.6, (7, 5))
CUDA_BOX = Probe(torch="2.13.0+cu128", cuda_build="12.8", gpus=(A100, T4), driver="570.86.15",
                 platform="Linux x86_64")


def test_auto_takes_cuda_then_mps_then_cpu():
    assert resolve("auto", CUDA_BOX).name == "cuda:0"
    assert resolve("auto", Probe(torch="2.13.0", mps=True, platform="Darwin arm64")).name == "mps"
    cpu = resolve("auto", CPU_ONLY, cpu_model="AMD EPYC", memory_gb=7.7)
    assert (cpu.name, cpu.kind, cpu.model, cpu.memory_gb, cpu.dtype) == ("cpu", "cpu", "AMD EPYC", 7.7, "float32")
    assert resolve("auto", CUDA_BOX).requested == "auto"


def test_explicit_devices_and_their_dtypes():
    first, second = resolve("cuda", CUDA_BOX), resolve("cuda:1", CUDA_BOX)
    assert (first.name, first.model, first.dtype, first.memory_gb) == ("cuda:0", A100.name, "bfloat16", 79.3)
    assert (first.driver, first.runtime, first.torch) == ("570.86.15", "12.8", "2.13.0+cu128")
    assert (second.name, second.model, second.dtype) == ("cuda:1", "Tesla T4", "float16")  # no bf16 before Ampere
    assert resolve("MPS ", Probe(mps=True, mps_memory_gb=21.3)).dtype == "float32"
    assert resolve("cpu", CUDA_BOX).kind == "cpu"  # asked for: never a GPU


def test_encode_batch_grows_on_a_gpu_only():
    assert resolve("cpu", CUDA_BOX).encode_batch(32) == 32
    assert resolve("cuda", CUDA_BOX).encode_batch(32) == 128 and resolve("cuda", CUDA_BOX).encode_batch(512) == 512
    small = Probe(cuda_build="12.8", gpus=(Gpu("GTX 1650", 3.8, (7, 5)),))
    assert resolve("cuda", small).encode_batch(32) == 64


@pytest.mark.parametrize("requested, probe, says", [
    ("cuda", CPU_ONLY, ["--device cuda: no usable CUDA GPU", "CPU-only build", "torch==2.13.0",
                        "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu"]),
    ("cuda:0", Probe(torch="2.13.0+cu128", cuda_build="12.8"), ["finds no GPU", "nvidia-smi finds no driver"]),
    ("cuda:2", CUDA_BOX, ["torch sees 2 GPU(s) (cuda:0 NVIDIA A100-SXM4-80GB, cuda:1 Tesla T4)"]),
    ("mps", CPU_ONLY, ["Apple MPS is not available (found Linux x86_64", "Apple-silicon Mac"]),
    ("gpu", CPU_ONLY, ["'gpu' is not one of auto, cpu, cuda, cuda:N, mps"]),
])
def test_an_unusable_device_is_one_line_naming_what_was_found_and_the_fix(requested, probe, says):
    with pytest.raises(DeviceError) as e:
        resolve(requested, probe)
    assert "\n" not in str(e.value) and all(s in str(e.value) for s in says), str(e.value)


def test_probe_reads_what_torch_reports(monkeypatch):
    import torch
    props = [types.SimpleNamespace(name=A100.name, total_memory=int(79.3 * 2**30), major=8, minor=0),
             types.SimpleNamespace(name=T4.name, total_memory=int(14.6 * 2**30), major=7, minor=5)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props[i])
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(device, "_nvidia_driver", lambda: "570.86.15")
    found = device.probe()
    assert found.gpus == (A100, T4) and found.cuda_build == "12.8" and found.driver == "570.86.15"
    assert resolve("auto", found).record() | {"label": ""} == {
        "requested": "auto", "name": "cuda:0", "kind": "cuda", "model": A100.name, "memory_gb": 79.3,
        "dtype": "bfloat16", "driver": "570.86.15", "runtime": "12.8", "torch": torch.__version__, "label": ""}


def test_this_machine_resolves_auto_to_the_cpu():
    import torch
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    assert device.probe().gpus == () and device.device_for("auto").kind == "cpu"


def test_the_setting_and_its_errors(monkeypatch):
    monkeypatch.setenv("DASHBOARD_DEVICE", "CUDA:1")
    settings.cache_clear()
    try:
        assert settings().device == "cuda:1" and settings().with_device("cpu").device == "cpu"
        monkeypatch.setenv("DASHBOARD_DEVICE", "gpu")
        settings.cache_clear()
        with pytest.raises(ValueError, match="DASHBOARD_DEVICE: device 'gpu' is not one of"):
            settings()
    finally:
        settings.cache_clear()
    monkeypatch.setattr(device, "_PROBED", [CPU_ONLY])
    with pytest.raises(DeviceError, match=r"^device cuda \(DASHBOARD_DEVICE / --device\): no usable CUDA GPU"):
        device.device_for("auto", "cuda")  # the config says auto: the user's word was the setting
    assert device.device_for("cpu", "cuda").kind == "cpu"  # --device beats the setting


def test_launch_on_a_missing_gpu_exits_2_with_one_line_and_stores_nothing(runs_dir, capsys):
    import torch

    from backend.__main__ import main
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert main(["launch", "eval", "--device", "cuda", "--max-queries", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --device cuda: no usable CUDA GPU: ")
    assert not [p for p in runs_dir.glob("*") if p.is_dir() and not p.name.startswith(".")]  # no run, no folder


def test_a_bad_device_name_exits_2_through_the_entry_function(runs_dir, capsys):
    from backend.__main__ import main
    assert main(["launch", "eval", "--device", "gpu"]) == 2
    assert main(["speed", "a", "--base", "a", "--device", "tpu"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("is not one of auto, cpu, cuda, cuda:N, mps" in line for line in err)


def test_the_default_device_keeps_run_ids_and_done_before_as_they_were(runs_dir, tmp_path):
    from backend.runs.executors import PlannedRun, already_done
    from backend.runs.lifecycle import build_config, config_run_id
    options_ = {"model": "minilm", "bench": "b1", "max_queries": 5}
    config = build_config("eval", options_)
    # The id the code made before `device` existed: sha256 of the config without it.
    before = {k: v for k, v in asdict(config).items() if k != "device"}
    digest = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:10]
    assert config_run_id("eval", options_) == f"eval--all-minilm-l6-v2--{digest}"
    assert config_run_id("eval", {**options_, "device": "auto"}) == config_run_id("eval", options_)
    assert config_run_id("eval", {**options_, "device": "cpu"}) != config_run_id("eval", options_)
    assert options.identity(config) == before
    # A run made before (no device in its config) and one spelling the default out both count as done.
    for run_id, stored in (("old", before), ("spelled", {**before, "device": "auto"})):
        other = runs_dir / ("spelled" if run_id == "old" else "old") / "run.json"
        other.unlink(missing_ok=True)
        folder = runs_dir / run_id
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"schema_version": 1, "run_id": run_id, "kind": "eval",
                                                     "status": "finished", "config": stored, "metrics": []}))
        [job] = already_done([PlannedRun("eval", options_, "eval--x--0")], runs_dir)
        assert job.done_as == run_id
    assert already_done([PlannedRun("eval", {**options_, "device": "cuda"}, "eval--x--1")], runs_dir) == []


def test_every_launchable_model_kind_takes_device():
    from backend.__main__ import _parser
    from backend.kinds import KINDS
    for kind in (k for k in KINDS.values() if k.runner and k.name != "bm25"):  # bm25s scores on the CPU only
        fields = {f.name: f for f in __import__("dataclasses").fields(kind.load()[1])}
        assert fields["device"].default == "auto", kind.name
        args = _parser().parse_args(["launch", kind.name, "--device", "cuda:1"])
        assert args.opt_device == "cuda:1"


def test_a_run_records_its_device_in_its_provenance(runs_dir):
    from backend.runs.lifecycle import RunContext
    gpu = resolve("cuda:1", CUDA_BOX)
    ctx = RunContext("eval", "r1", settings(), {"model": "m"}, "2026-12-02T00:00:00Z", gpu)
    recorded = ctx.record(status="finished", name="m").provenance["device"]
    assert recorded == {**gpu.record()} and recorded["label"] == "cuda:1 Tesla T4 (float16)"
    assert {"model", "memory_gb", "driver", "runtime", "dtype"} <= set(recorded)
    no_device = RunContext("eval", "r2", settings(), {}, "2026-12-02T00:00:00Z")
    assert "device" not in no_device.record(status="finished", name="x").provenance


def test_a_runs_speed_device_comes_from_its_provenance():
    assert device.of_record({"device": {"label": "cuda:0 A (bfloat16)"}, "environment": {}}) == "cuda:0 A (bfloat16)"
    assert device.of_record({"device": {"label": "cuda:0 A"}, "encode_device": "cpu"}) == "cpu"  # a static model
    assert device.of_record({"environment": {"cpu": "x"}}) == "cpu"  # made here before devices were recorded
    assert device.of_record({"citation": "a paper"}) is None and device.of_record(None) is None


def test_per_run_speedups_across_devices_are_refused_with_their_reason():
    eff = pd.DataFrame({"run_id": ["t", "s", "g", "p"], "score": [0.5, 0.4, 0.45, 0.3],
                        "encode_throughput": [10.0, 100.0, 400.0, 50.0],
                        "speed_device": ["cpu", "cpu", "cuda:0 A100 (bfloat16)", None]})
    out = compare.against_base(eff, "t").set_index("run_id")
    assert out.loc["s", "speedup"] == 10 and out.loc["p", "speedup"] == 5  # unknown device: as before
    assert np.isnan(out.loc["g", "speedup"])
    assert out.loc["g", "speedup_basis"] == "not compared: timed on another device than the base (cpu)"


def test_speed_refuses_models_on_different_devices():
    from backend.retrieval import speed
    fake = lambda where: types.SimpleNamespace(device=where, encode=lambda texts, bs: None)  # noqa: E731
    with pytest.raises(speed.DeviceMismatch) as e:
        speed.measure({"teacher": fake("cuda:0 A100 (bfloat16)"), "m2v": fake("cpu")}, ["x"], "teacher")
    assert "\n" not in str(e.value) and str(e.value).startswith(
        "cannot compare speeds across devices: m2v encodes on cpu, the base teacher on cuda:0 A100 (bfloat16)")
    assert "--device cpu" in str(e.value)


def test_side_by_side_sessions_on_another_device_are_left_out(tmp_path):
    from backend.retrieval import speed
    sessions = [(1, "cpu", "old", 3.0), (2, None, "older-format", 4.0), (3, "cuda:0 A100 (bfloat16)", "new", 9.0)]
    for when, where, run_id, ratio in sessions:
        data = {"base": "t", "texts": 8, "rounds": 1, "time": when, "cpu_count": 2, "load_before": [0, 0, 0],
                "load_after": [0, 0, 0], "results": [{"run_id": run_id, "speedup": ratio, "docs_per_s": 1.0}],
                **({"device": where} if where else {})}
        (tmp_path / speed.SPEED_DIR).mkdir(exist_ok=True)
        (tmp_path / speed.SPEED_DIR / f"{when}.json").write_text(json.dumps(data))
    latest = speed.latest(tmp_path, "t")
    assert [r["run_id"] for r in latest["results"]] == ["new"] and latest["other_device_sessions"] == 2
    assert "2 session(s) on another device left out" in speed.describe(latest)
    eff = pd.DataFrame({"run_id": ["new", "old"], "speedup": [1.0, 1.0], "score": [0.1, 0.2],
                        "speed_device": ["cpu", "cpu"]})  # each run's own throughput was timed on the CPU
    table = compare.measured_speed(eff, latest)
    assert table["speed_device"].tolist() == ["cuda:0 A100 (bfloat16)", "cpu"]
    assert table["speedup"].tolist() == [9.0, 1.0]


def test_llama_cpp_offloads_every_layer_on_a_gpu_build_only():
    from backend.codegen.generate import gpu_layers
    gpu, cpu = resolve("cuda", CUDA_BOX), resolve("cpu", CUDA_BOX)
    assert gpu_layers(gpu, lambda: True) == -1
    assert gpu_layers(gpu, lambda: False) == 0  # a CPU build of llama.cpp: generates on the CPU, recorded
    assert gpu_layers(cpu, lambda: True) == gpu_layers(None, lambda: True) == 0


def test_the_cpu_step_is_the_plain_optimizer_step():
    import torch
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 2), torch.nn.Linear(4, 2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(8, 4)
    opt_a, opt_b = torch.optim.AdamW(a.parameters(), lr=0.1), torch.optim.AdamW(b.parameters(), lr=0.1)
    step = device.stepper(None, opt_a, clip=1.0)
    for _ in range(3):
        step(a(x).pow(2).mean())
        loss = b(x).pow(2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(b.parameters(), 1.0)
        opt_b.step()
        opt_b.zero_grad()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert all(p.grad is None or not p.grad.any() for p in a.parameters())


def test_the_shared_training_loop_is_the_hand_written_one():
    """batching.train_steps (every training kind's loop) = seeded batches, loss, step, zero_grad, by hand; the
    after-step hook sees this step's gradients and its number, as AdaLoRA's rank allocation needs."""
    import torch

    from backend.batching import shuffled_batches, train_steps
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 1), torch.nn.Linear(4, 1)
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(10, 4), torch.randn(10, 1)
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    reported, hooked = [], []
    losses = train_steps(None, opt_a, 10, 3, 7, 5, lambda idx: (a(x[idx]) - y[idx]).pow(2).mean(),
                         lambda step, loss: reported.append((step, loss)),
                         after_step=lambda step: hooked.append((step, a.weight.grad.abs().sum().item())))
    by_hand = []
    for idx in shuffled_batches(10, 3, 7, 5):
        loss = (b(x[idx]) - y[idx]).pow(2).mean()
        loss.backward()
        opt_b.step()
        opt_b.zero_grad()
        by_hand.append(loss.item())
    assert losses == by_hand and [s for s, _ in reported] == list(range(1, 8)) == [s for s, _ in hooked]
    assert all(g > 0 for _, g in hooked) and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_an_encoder_on_a_gpu_device_takes_its_label_and_batch_rule():
    from backend.retrieval.encoders import Encoder, on_device
    seen = []
    encoder = on_device(Encoder("x", Path("."), 1, lambda texts, bs: seen.append(bs) or np.zeros((len(texts), 2))),
                        resolve("cuda", CUDA_BOX))
    encoder.encode(["a", "b"], 32)
    assert encoder.device == "cuda:0 NVIDIA A100-SXM4-80GB (bfloat16)" and seen == [128]
    plain = on_device(Encoder("x", Path("."), 1, lambda texts, bs: seen.append(bs) or np.zeros((1, 2))), None)
    plain.encode(["a"], 32)
    assert plain.device == "cpu" and seen[-1] == 32


@pytest.mark.slow
def test_a_real_run_with_device_auto_records_the_cpu(runs_dir, tmp_path, monkeypatch):
    """On a GPU machine the same test checks the GPU instead: EXPECT_DEVICE=cuda pytest -m slow
    tests/test_device.py (docs/device.md)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from backend.__main__ import main
    from backend.bench import build
    from backend.bench.sources import SourceSpec
    from backend.retrieval.models import resolve as resolve_model
    monkeypatch.setenv("DASHBOARD_BENCH_DIR", str(tmp_path / "benchmarks"))
    settings.cache_clear()
    email = Path(sysconfig.get_paths()["stdlib"]) / "email"
    bench = build.build(["python"], settings().bench_dir, tmp_path / "cache", test_size=20, progress=None,
                        sources={"python": SourceSpec("python", "dir", path=str(email))}).name
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model("minilm", settings().cache_dir)), local_files_only=True)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(tmp_path / "tiny", safe_serialization=True)
    tokenizer.save_pretrained(tmp_path / "tiny")
    assert main(["launch", "eval", "--model", str(tmp_path / "tiny"), "--bench", bench, "--device", "auto",
                 "--max-queries", "10", "--run-id", "tiny-auto"]) == 0
    record = json.loads((runs_dir / "tiny-auto" / "run.json").read_text())
    recorded, expected = record["provenance"]["device"], os.environ.get("EXPECT_DEVICE", "cpu")
    assert recorded["requested"] == "auto" and recorded["kind"] == expected
    assert recorded["dtype"] == ("float32" if expected in ("cpu", "mps") else recorded["dtype"])
    assert record["provenance"]["encode_device"] == recorded["label"]
    assert "device" not in record["config"]  # the default stays out of the run's identity


def test_the_launch_form_refuses_a_missing_gpu_before_starting_a_process(runs_dir):
    import torch

    from backend.runs import supervision
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(DeviceError, match="^--device cuda: no usable CUDA GPU"):
        supervision.spawn("eval", {"device": "cuda"}, runs_dir, runs_dir / "db.duckdb")
    with pytest.raises(DeviceError, match=r"^device cuda \(DASHBOARD_DEVICE / --device\): "):
        supervision.spawn("eval", {}, runs_dir, runs_dir / "db.duckdb", default_device="cuda")
    assert not (runs_dir / ".launch").exists()  # no process, no log


def test_the_runs_diff_shows_the_devices_of_two_runs():
    cpu, gpu = resolve("auto", CPU_ONLY, "Xeon", 23.5), resolve("auto", CUDA_BOX)
    runs = pd.DataFrame({"run_id": ["a", "b"], "name": ["A", "B"], "benchmark": ["x", "x"], "protocol": ["full"] * 2,
                         "config": ['{"model": "m"}'] * 2,
                         "provenance": [json.dumps({"device": cpu.record()}), json.dumps({"device": gpu.record()})]})
    diff = compare.config_diff(runs).set_index("key")
    assert diff.loc["provenance.device.name"].tolist() == ["cpu", "cuda:0"]
    assert diff.loc["provenance.device.dtype"].tolist() == ["float32", "bfloat16"]
    assert "provenance.device.requested" not in diff.index and "config.model" not in diff.index  # the same


def test_a_sweep_on_a_missing_gpu_runs_nothing_and_says_so_once(runs_dir, tmp_path, capsys, monkeypatch):
    from backend.__main__ import main
    monkeypatch.setattr(device, "_PROBED", [CPU_ONLY])
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[[grid]]\nkind = "eval"\nmodel = "minilm"\nmax_queries = [1, 2]\n')
    assert main(["sweep", str(sweep), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: device cuda (DASHBOARD_DEVICE / --device): no usable CUDA GPU")
    sweep.write_text('[[grid]]\nkind = "eval"\nmodel = "minilm"\ndevice = ["cpu", "cuda:1"]\n')
    assert main(["sweep", str(sweep)]) == 2  # a grid over devices: two run ids, refused before either runs
    assert "--device cuda:1: no usable CUDA GPU" in capsys.readouterr().err
    assert not [p for p in runs_dir.glob("*") if p.is_dir() and not p.name.startswith(".")]


def test_the_float16_step_scales_the_loss_and_still_learns():
    """The GPU-without-bf16 path (a GradScaler), run for real in CPU float16; the hook (AdaLoRA's) runs after the
    step, which has unscaled the gradients."""
    import torch
    half = device.Device("cpu", "cpu", "cpu", "x", None, "float16")
    torch.manual_seed(0)
    model, x = torch.nn.Linear(4, 1), torch.randn(32, 4)
    y = x.sum(1, keepdim=True)
    step, grads = half.stepper(torch.optim.SGD(model.parameters(), lr=0.1)), []
    assert step.scaler is not None and step.scaler.is_enabled()
    losses = []
    for _ in range(50):
        with half.autocast():
            out = model(x)
        assert out.dtype == torch.float16
        loss = ((out.float() - y) ** 2).mean()
        losses.append(loss.item())
        step(loss, before_zero_grad=lambda: grads.append(model.weight.grad.norm().item()))
    assert losses[-1] < losses[0] / 100
    finite = [g for g in grads if math.isfinite(g)]  # the first steps overflow: the scaler skips them, scales down
    assert len(finite) > 40 and max(finite) < 100  # the hook saw true gradients, not ones times the scale (~65536)
