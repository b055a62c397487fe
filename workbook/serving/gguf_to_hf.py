"""Turn a GGUF model into a Hugging Face folder (config, safetensors, tokenizer) for vLLM.

Run by ``workbook.serving.vllm_env`` with the vLLM environment's python (it needs that
environment's torch and transformers, not the workbook's), so it imports nothing from the
workbook:  python gguf_to_hf.py MODEL.gguf OUT_DIR

vLLM cannot open the bundled .gguf itself. transformers can read it (dequantizing the Q4_1
weights), but refuses to save a model it loaded from a GGUF ("quantized with gguf and is not
serializable"): so the weights are copied into a plain model built from the same config, and
that is saved.
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not getattr(tokenizer, "chat_template", None):
        raise SystemExit(f"{name} has no chat template: vLLM's chat endpoint would refuse it")
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    # Saved without the GGUF's quantization note (it would send vLLM looking for a GGUF
    # loader), and with the architecture vLLM picks its model class by.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(loaded).__name__]
    # bf16 halves the folder; vLLM casts to whatever --dtype this CPU gets.
    config.dtype = torch.bfloat16
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings: lm_head.weight may be absent from one side and shared on the other.
    missing = [key for key in missing if key != "lm_head.weight"]
    if missing or unexpected:
        raise SystemExit(f"weights do not line up: missing {missing[:5]}, unexpected {unexpected[:5]}")
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
