"""Encode speed measured side by side: the same texts, every model, interleaved in rounds in one process.

A speed-up is a ratio of two timings taken together, never of two throughputs recorded minutes apart on a
shared machine (a loaded machine once made the teacher look 3x slower, and its student 277x faster). Each
round times every model on the same texts, in a rotating order; a model's time is its median over rounds.
The machine's load and core count are kept with the ratios (runs/.speed/<time>.json), and the device: a ratio
of timings on two devices is not a speed-up of one model over another, so it is refused.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import pandas as pd

from backend.fileio import write_atomic

SPEED_DIR = ".speed"


class DeviceMismatch(ValueError):
    """Models that encode on different devices: their timings are not comparable."""


def check_same_device(encoders: dict[str, object], base: str):
    """One line, refusing, when a model encodes on another device than the base (a static model2vec model
    encodes on the CPU whatever --device says)."""
    where = {run_id: getattr(e, "device", "cpu") for run_id, e in encoders.items()}
    other = {run_id: device for run_id, device in where.items() if device != where[base]}
    if other:
        run_id, device = next(iter(other.items()))
        raise DeviceMismatch(f"cannot compare speeds across devices: {run_id} encodes on {device}, the base "
                             f"{base} on {where[base]}"
                             + (f" (and {len(other) - 1} more)" if len(other) > 1 else "")
                             + "; measure them on one device: --device cpu")


def measure(encoders: dict[str, object], texts: list[str], base: str, rounds: int = 5, batch_size: int = 32,
            say=lambda message: None) -> dict:
    """{run_id: encoder} timed on ``texts``: docs/s per model and its speed-up against ``base``; DeviceMismatch
    if they do not all encode on one device. ``say(message)``: progress, a line per round."""
    if base not in encoders:
        raise ValueError("the base run must be among the measured runs")
    check_same_device(encoders, base)
    for encoder in encoders.values():  # warm-up: first-call costs are not speed
        encoder.encode(texts[:8], batch_size)
    ids, seconds = list(encoders), {run_id: [] for run_id in encoders}
    load_before = os.getloadavg()
    for r in range(rounds):
        say(f"round {r + 1}/{rounds}: {len(ids)} models encode {len(texts)} texts each")
        for run_id in ids[r % len(ids):] + ids[:r % len(ids)]:  # rotate who goes first
            start = time.perf_counter()
            encoders[run_id].encode(texts, batch_size)
            seconds[run_id].append(time.perf_counter() - start)
    median = {run_id: statistics.median(s) for run_id, s in seconds.items()}
    return {"base": base, "texts": len(texts), "rounds": rounds, "batch_size": batch_size, "time": time.time(),
            "device": getattr(encoders[base], "device", "cpu"),
            "cpu_count": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
            "results": [{"run_id": run_id, "docs_per_s": len(texts) / median[run_id],
                         "speedup": median[base] / median[run_id],
                         "spread": (max(seconds[run_id]) - min(seconds[run_id])) / median[run_id]}
                        for run_id in ids]}


MEMORY_PROBE = """
import json, sys
from pathlib import Path
import model2vec, sentence_transformers, torch, transformers  # every loader's libraries, before the baseline
from backend.retrieval.encoders import load_encoder
def kb(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))
from backend.device import device_for
ref, cache, texts = sys.argv[1], Path(sys.argv[2]), json.loads(sys.stdin.read())
device = device_for(sys.argv[3])
base = kb("VmRSS:")
load_encoder(ref, cache, device).encode(texts, 32)
out = {"inference_mb": (kb("VmHWM:") - base) / 1024, "process_peak_mb": kb("VmHWM:") / 1024}
if device.kind == "cuda":  # the model's memory is the GPU's there; resident memory is the host's share only
    out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
"""


def inference_mb(ref: str, texts: list[str], cache_dir: Path, device: str = "cpu") -> dict:
    """Memory of serving a model, measured in a fresh process that loads it and encodes ``texts``:
    ``inference_mb``, its peak resident memory over what the libraries alone hold (the model's weights and
    activations), and ``process_peak_mb``, the whole process's peak."""
    import subprocess
    import sys

    from backend.config import REPO_ROOT
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, ref, str(cache_dir), device], input=json.dumps(texts),
                         capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TRANSFORMERS_VERBOSITY": "error"})
    if out.returncode != 0:
        raise ValueError(f"measuring the memory of {ref} failed: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_runs(runs: pd.DataFrame, base: str, bench, cache_dir: Path, texts: int = 200, rounds: int = 5,
                 memory: bool = True, device=None, say=lambda message: None) -> dict:
    """Load each run's model (runs made here keep theirs) on ``device`` (a backend.device.Device; None: the CPU)
    and measure them on the base's benchmark code; with ``memory``, also each model's inference memory (peak RSS
    of a process of its own)."""
    from backend.retrieval import search
    from backend.retrieval.encoders import load_encoder
    sample = [p["code"] for lang in bench.languages for p in bench.pairs(lang, "test")[: max(1, texts // len(bench.languages))]]
    encoders = {}
    for run in runs.to_dict("records"):
        try:
            ref = search.model_ref(run)
        except search.SearchError:
            if run["run_id"] == base:
                raise ValueError(f"the base run {base} has no model files here; pick a run made on this machine")
            continue  # imported or published: nothing to time
        say(f"loading {run['run_id']}")
        encoders[run["run_id"]] = (load_encoder(ref, cache_dir, device), ref)
    result = measure({k: e for k, (e, _) in encoders.items()}, sample, base, rounds, say=say)
    if device is not None:
        result["device_detail"] = device.record()
    if memory:
        for row in result["results"]:
            say(f"inference memory of {row['run_id']}, in a process of its own")
            row.update(inference_mb(encoders[row["run_id"]][1], sample, cache_dir, device.name if device else "cpu"))
    return result


def save(measurement: dict, runs_dir: Path) -> Path:
    path = Path(runs_dir) / SPEED_DIR / f"{int(measurement['time'] * 1000)}.json"
    write_atomic(path, json.dumps(measurement, indent=1))
    return path


def version(runs_dir: Path) -> int:
    """Changes whenever a measurement is saved or removed (the folder's modification time: ``save`` renames a
    new file into it): what a page keys its cached speed-ups on, next to the DB's version."""
    try:
        return (Path(runs_dir) / SPEED_DIR).stat().st_mtime_ns
    except OSError:
        return 0


def bases(runs_dir: Path) -> set[str]:
    """The runs some side-by-side measurement is relative to (``latest`` of any other run is None)."""
    out = set()
    for path in (Path(runs_dir) / SPEED_DIR).glob("*.json"):
        try:
            out.add(json.loads(path.read_text()).get("base"))
        except (OSError, ValueError, AttributeError):
            continue
    return out


def latest(runs_dir: Path, base: str) -> dict | None:
    """Side-by-side speed-ups against ``base`` (None if none was measured): each run's from the newest session
    that timed it together with the base — every ratio comes from one session, so timing a new run later does not
    drop the earlier runs' ratios — with the newest session's details and ``sessions``, how many contributed."""
    found = []
    for path in (Path(runs_dir) / SPEED_DIR).glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("base") == base:
            found.append(data)
    if not found:
        return None
    found.sort(key=lambda d: d["time"])
    # Ratios from sessions on another device than the newest are not merged in (a session before devices
    # were recorded ran on the CPU): they are counted in ``other_device_sessions``.
    device = found[-1].get("device", "cpu")
    other = [d for d in found if d.get("device", "cpu") != device]
    found = [d for d in found if d.get("device", "cpu") == device]
    rows, session = {}, {}  # run id -> its newest result, and the session it is from
    for i, data in enumerate(found):
        for row in data["results"]:
            rows[row["run_id"]], session[row["run_id"]] = row, i
    return {**found[-1], "results": list(rows.values()), "sessions": len(set(session.values())),
            "other_device_sessions": len(other)}


def as_table(measurement: dict) -> pd.DataFrame:
    return pd.DataFrame(measurement["results"])


def describe(measurement: dict) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(measurement["time"]))
    return (f"measured side by side {when}: {measurement['texts']} texts x {measurement['rounds']} interleaved "
            f"rounds, {measurement['cpu_count']} cores, load {measurement['load_before'][0]:.2f} -> "
            f"{measurement['load_after'][0]:.2f}"
            + (f" on {measurement['device']}" if measurement.get("device", "cpu") != "cpu" else "")
            + (f" (runs not timed then: from {measurement['sessions'] - 1} earlier session(s))"
               if measurement.get("sessions", 1) > 1 else "")
            + (f"; {measurement['other_device_sessions']} session(s) on another device left out"
               if measurement.get("other_device_sessions") else ""))
