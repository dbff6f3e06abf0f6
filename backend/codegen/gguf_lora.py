"""A LoRA adapter trained here (peft, through transformers) written as a GGUF adapter, so llama.cpp generates
with it on top of the packaged GGUF model: 8x the speed of generating through transformers here, which is
what makes pass@k with several samples on the full problem sets affordable.

Format (llama.cpp's): ``general.type = adapter``, ``adapter.type = lora``, ``adapter.lora.alpha``; for each
adapted weight ``<gguf tensor>.lora_a`` (rank x in) and ``.lora_b`` (out x rank), float32. llama.cpp scales
by alpha / rank, as peft does.
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
    arch_enum = next(a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch)
    names = gguf.get_tensor_name_map(arch_enum, int(meta[f"{arch}.block_count"]))
    heads = {"q_proj": meta.get(f"{arch}.attention.head_count"),
             "k_proj": meta.get(f"{arch}.attention.head_count_kv") or meta.get(f"{arch}.attention.head_count")}
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


def _rope_rows(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """The row order llama.cpp's llama models use for q/k projections (converted from Hugging Face's by
    interleaving each head's two rotary halves); a LoRA's B matrix (its output rows) must follow it."""
    out = weight.shape[0]
    return weight.reshape(n_heads, 2, out // n_heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
