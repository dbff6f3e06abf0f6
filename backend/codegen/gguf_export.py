"""Weights trained here (through transformers) written as GGUF for llama.cpp, which generates about 8x faster
than transformers here: what makes pass@k with several samples on the full problem sets affordable.

- ``write_adapter``: a LoRA adapter on top of the packaged GGUF model. Format (llama.cpp's):
  ``general.type = adapter``, ``adapter.type = lora``, ``adapter.lora.alpha``; for each adapted weight
  ``<gguf tensor>.lora_a`` (rank x in) and ``.lora_b`` (out x rank), float32; llama.cpp scales by alpha / rank
  as peft does.
- ``write_model``: a whole model (a full fine-tune) with the packaged file's metadata and tokenizer, weights in
  Q8_0 (norms, biases and rows not a multiple of 32 in float32).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from backend.codegen.lms import gguf_keys

_LORA = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.default)?\.weight$")


def write_adapter(peft_model, base_gguf: Path, out: Path) -> Path:
    """Write ``peft_model``'s LoRA weights as a GGUF adapter for ``base_gguf``; ValueError if a weight has no
    place in that model."""
    import gguf
    arch = gguf_keys(base_gguf, ["general.architecture"])["general.architecture"]
    meta = gguf_keys(base_gguf, [f"{arch}.block_count", f"{arch}.attention.head_count",
                                 f"{arch}.attention.head_count_kv"])
    names = _name_map(arch, int(meta[f"{arch}.block_count"]))
    heads = _heads(arch, meta)
    config = next(iter(peft_model.peft_config.values()))
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, tensor in peft_model.state_dict().items():
        match = _LORA.match(key)
        if match:
            pairs.setdefault(match["module"], {})[match["ab"]] = tensor.detach().float().cpu().numpy()
    if not pairs:
        raise ValueError("the model holds no LoRA weights")
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config.lora_alpha))
    for module, ab in sorted(pairs.items()):
        name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if name is None:
            raise ValueError(f"{module}: no tensor of a {arch} GGUF model takes this weight")
        a, b = ab["A"], ab["B"]
        if arch == "llama" and module.rsplit(".", 1)[-1] in heads:
            b = _rope_rows(b, int(heads[module.rsplit(".", 1)[-1]]))
        writer.add_tensor(name + ".lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(name + ".lora_b", np.ascontiguousarray(b, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def write_model(model, base_gguf: Path, out: Path) -> Path:
    """Write ``model``'s weights as a GGUF model with ``base_gguf``'s metadata (architecture, tokenizer, ...)."""
    import gguf
    reader = gguf.GGUFReader(str(base_gguf))
    arch = reader.fields["general.architecture"].contents()
    names = _name_map(arch, int(reader.fields[f"{arch}.block_count"].contents()))
    heads = _heads(arch, {k: f.contents() for k, f in reader.fields.items() if k.startswith(arch + ".attention.head")})
    expected = {t.name for t in reader.tensors}
    writer = gguf.GGUFWriter(str(out), arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "general.file_type"):
            continue
        sub = field.types[1] if len(field.types) > 1 else None
        writer.add_key_value(field.name, field.contents(), field.types[0], sub)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    written = set()
    for hf_name, tensor in model.state_dict().items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None or name not in expected or name in written:
            continue  # lm_head tied to the embedding in the packaged file, rotary caches, ...
        data = tensor.detach().float().cpu().numpy()
        if arch == "llama" and hf_name.rsplit(".", 2)[-2] in heads and name.endswith(".weight"):
            data = _rope_rows(data, int(heads[hf_name.rsplit(".", 2)[-2]]))
        if data.ndim == 2 and data.shape[1] % 32 == 0:
            writer.add_tensor(name, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0),
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))
        written.add(name)
    if written != expected:
        raise ValueError(f"weights missing for {sorted(expected - written)[:3]}: not a {arch} model like {base_gguf.name}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _name_map(arch: str, blocks: int):
    import gguf
    return gguf.get_tensor_name_map(next(a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch), blocks)


def _heads(arch: str, meta: dict) -> dict:
    """Heads of the projections whose rows llama models reorder (query: all heads, key: the key/value heads)."""
    q = meta.get(f"{arch}.attention.head_count")
    return {"q_proj": q, "k_proj": meta.get(f"{arch}.attention.head_count_kv") or q}


def _rope_rows(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """The row order llama.cpp's llama models use for q/k projections (converted from Hugging Face's by
    interleaving each head's two rotary halves); a LoRA's B matrix (its output rows) must follow it."""
    out = weight.shape[0]
    return weight.reshape(n_heads, 2, out // n_heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
