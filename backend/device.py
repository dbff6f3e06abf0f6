"""Which device runs, speed measurements and Live search compute on: resolved here and nowhere else.

``resolve(requested, probe)`` is pure: ``probe`` is what torch reports (``probe()`` asks it; tests build one by
hand), so the GPU rules are tested on a CPU-only machine. ``auto`` takes CUDA, then Apple MPS, then the CPU; an
explicit ``cuda``/``cuda:N``/``mps`` that is not usable is a ``DeviceError`` naming what was found and the fix,
never a silent fall-back to the CPU.

The rules, per device (docs/device.md says the same):

- dtype: float32 on the CPU; on CUDA bfloat16 where the GPU has it (compute capability 8.0+: Ampere and later),
  else float16; float32 on MPS (autocast covers fewer ops there and the GPU alone is the speed-up). The dtype is
  the autocast type of forward passes; weights stay float32, so a saved model is the same file on any device.
  float16 training scales the loss (GradScaler): its small gradients would underflow.
- batch: encoding (evaluation, speed, search) uses the config's batch size on the CPU and at least 64 texts
  (128 with 8 GB or more) on a GPU, which sits idle at 32; results do not depend on it. Training batch sizes are
  never changed: they change what is learned.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

# The pinned CPU wheel (requirements.txt) cannot see a GPU: the fix is a CUDA build of the same version.
CUDA_FIX = ("install a CUDA build of torch (requirements.txt pins the CPU wheel of torch=={version}): "
            "pip install torch=={version} --index-url https://download.pytorch.org/whl/cu128 "
            "(pick the cuXXX of your driver at pytorch.org/get-started), or use --device auto or cpu")


class DeviceError(ValueError):
    """A device asked for that is not usable here; the message says what was found and how to fix it."""


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gb: float
    capability: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Probe:
    """What torch reports about this machine."""
    torch: str = ""
    cuda_build: str | None = None  # the CUDA runtime torch was built with (torch.version.cuda); None: CPU build
    gpus: tuple[Gpu, ...] = ()  # CUDA devices torch can use (empty when torch.cuda.is_available() is False)
    driver: str | None = None  # the NVIDIA driver (nvidia-smi), when there is one
    mps: bool = False  # torch.backends.mps.is_available()
    mps_memory_gb: float | None = None
    platform: str = ""


@dataclass(frozen=True)
class Device:
    requested: str  # what was asked: auto, cpu, cuda, cuda:1, mps
    name: str  # the torch device: cpu, cuda:0, mps
    kind: str  # cpu, cuda or mps
    model: str  # the GPU's name, or the CPU's
    memory_gb: float | None
    dtype: str  # float32, bfloat16 or float16 (see the module docstring)
    driver: str | None = None
    runtime: str | None = None  # CUDA runtime version of the torch build
    torch: str = ""

    def label(self) -> str:
        """Short, for tables: ``cpu``, ``cuda:0 NVIDIA A100 (bfloat16)``."""
        return "cpu" if self.kind == "cpu" else f"{self.name} {self.model} ({self.dtype})"

    def record(self) -> dict:
        """What a run's provenance keeps (``provenance.device``)."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        out["label"] = self.label()
        return out

    def encode_batch(self, requested: int) -> int:
        """The encoding batch on this device (module docstring)."""
        if self.kind == "cpu":
            return requested
        return max(requested, 128 if (self.memory_gb or 0) >= 8 else 64)

    def autocast(self):
        """Forward passes in this device's dtype (nothing to do in float32)."""
        if self.dtype == "float32":
            return contextlib.nullcontext()
        import torch
        return torch.autocast(self.kind, dtype=getattr(torch, self.dtype))

    def stepper(self, optimizer, clip: float | None = None):
        """``step(loss)``: backward, optional gradient clipping, optimizer step, zero_grad; loss-scaled in float16
        (the one optimizer step of every training loop, so a GPU's precision is handled once)."""
        return _Stepper(self, optimizer, clip)


class _Stepper:
    def __init__(self, device: Device, optimizer, clip: float | None):
        self.optimizer, self.clip, self.scaler = optimizer, clip, None
        if device.dtype == "float16":
            import torch
            self.scaler = torch.amp.GradScaler(device.kind)

    def __call__(self, loss, before_zero_grad=None):
        """``before_zero_grad``: a hook that reads this step's gradients (AdaLoRA's rank allocation)."""
        import torch
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if self.scaler is None:
            loss.backward()
            if self.clip:
                torch.nn.utils.clip_grad_norm_(params, self.clip)
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            if self.clip:  # clipping reads the true gradients (step() unscales them in place itself otherwise)
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(params, self.clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        if before_zero_grad is not None:
            before_zero_grad()
        self.optimizer.zero_grad()


def check_name(requested: str) -> str:
    """A device string as typed (CLI, form, TOML), normalized; DeviceError naming the choices (the rule is the
    settings', which read DASHBOARD_DEVICE before this module is imported)."""
    from backend.config import device_name
    try:
        return device_name(requested)
    except ValueError as e:
        raise DeviceError(str(e)) from None


def resolve(requested: str, probe: Probe, cpu_model: str | None = None, memory_gb: float | None = None) -> Device:
    """The device for ``requested`` given what torch reports; DeviceError when an explicit one is not usable."""
    requested = check_name(requested)
    kind = requested.split(":")[0]
    if kind == "auto":
        kind = "cuda" if probe.gpus else "mps" if probe.mps else "cpu"
    if kind == "cuda":
        index = int(requested.split(":")[1]) if ":" in requested else 0
        if not probe.gpus:
            raise DeviceError(f"--device {requested}: no usable CUDA GPU: {_cuda_found(probe)}; "
                              + CUDA_FIX.format(version=_base_version(probe.torch)))
        if index >= len(probe.gpus):
            found = ", ".join(f"cuda:{i} {g.name}" for i, g in enumerate(probe.gpus))
            raise DeviceError(f"--device {requested}: torch sees {len(probe.gpus)} GPU(s) ({found}); pick one of "
                              "them (CUDA_VISIBLE_DEVICES renumbers GPUs from 0)")
        gpu = probe.gpus[index]
        dtype = "bfloat16" if gpu.capability >= (8, 0) else "float16"
        return Device(requested, f"cuda:{index}", "cuda", gpu.name, gpu.memory_gb, dtype, probe.driver,
                      probe.cuda_build, probe.torch)
    if kind == "mps":
        if not probe.mps:
            raise DeviceError(f"--device {requested}: Apple MPS is not available (found {probe.platform or 'no Mac'}, "
                              f"torch {probe.torch}); MPS needs an Apple-silicon Mac, macOS 12.3+ and the arm64 "
                              "torch wheel; or use --device auto or cpu")
        return Device(requested, "mps", "mps", "Apple MPS", probe.mps_memory_gb, "float32", torch=probe.torch)
    return Device(requested, "cpu", "cpu", cpu_model or "cpu", memory_gb, "float32", torch=probe.torch)


def _cuda_found(probe: Probe) -> str:
    if probe.cuda_build is None:
        return f"this torch {probe.torch} is a CPU-only build"
    return (f"torch {probe.torch} (CUDA {probe.cuda_build}) finds no GPU"
            + ("" if probe.driver else " and nvidia-smi finds no driver") + " (check nvidia-smi, CUDA_VISIBLE_DEVICES)")


def _base_version(version: str) -> str:
    return version.split("+")[0] or "2.13.0"


def probe() -> Probe:
    """Ask torch (imported here) what this machine has."""
    import platform

    import torch
    gpus = ()
    if torch.cuda.is_available():
        gpus = tuple(_gpu(torch.cuda.get_device_properties(i)) for i in range(torch.cuda.device_count()))
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    mps_memory = None
    if mps:
        with contextlib.suppress(Exception):
            mps_memory = round(torch.mps.recommended_max_memory() / 2**30, 1)
    return Probe(torch.__version__, torch.version.cuda, gpus, _nvidia_driver() if torch.version.cuda else None,
                 mps, mps_memory, f"{platform.system()} {platform.machine()}")


def _gpu(props) -> Gpu:
    return Gpu(props.name, round(props.total_memory / 2**30, 1), (props.major, props.minor))


def _nvidia_driver() -> str | None:
    import subprocess
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def device_for(requested: str, default: str = "auto") -> Device:
    """The device for a run or command: ``requested`` (a config's or --device), where "auto" defers to
    ``default`` (the settings' DASHBOARD_DEVICE); this machine probed once per process."""
    from backend.provenance import environment
    from_setting = check_name(requested) == "auto"
    chosen = default if from_setting else requested
    env = environment()
    try:
        return resolve(chosen, _probe_once(), env.get("cpu"), env.get("memory_gb"))
    except DeviceError as e:
        if from_setting:  # the user's word was the setting (or a command's --device over it), not the config's
            raise DeviceError(str(e).replace(f"--device {chosen}", f"device {chosen} (DASHBOARD_DEVICE / --device)",
                                             1)) from None
        raise


_PROBED: list[Probe] = []


def _probe_once() -> Probe:
    if not _PROBED:
        _PROBED.append(probe())
    return _PROBED[0]


def name_of(device: Device | None) -> str:
    """The torch device string of a Device, "cpu" for None (code called without one: tests, helpers)."""
    return device.name if device is not None else "cpu"


def autocast_of(device: Device | None):
    return device.autocast() if device is not None else contextlib.nullcontext()


def stepper(device: Device | None, optimizer, clip: float | None = None):
    """``step(loss)`` on ``device`` (None: the CPU, float32): see Device.stepper."""
    return _Stepper(device or Device("cpu", "cpu", "cpu", "cpu", None, "float32"), optimizer, clip)


def of_record(provenance: dict) -> str | None:
    """The device label of a run's speed figures from its provenance: the device its model encoded on (a static
    model encodes on the CPU whatever the run's device), else the run's device; ``cpu`` for a run made here
    before devices were recorded (every model was pinned to the CPU then); None for imported runs."""
    if not isinstance(provenance, dict):
        return None
    device = provenance.get("device")
    if provenance.get("encode_device"):
        return provenance["encode_device"]
    if isinstance(device, dict) and device.get("label"):
        return device["label"]
    return "cpu" if isinstance(provenance, dict) and "environment" in provenance else None
