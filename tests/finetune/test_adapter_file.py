"""08 says how many weights LoRA trained by counting them in the adapter's own file."""

import json

from workbook.finetune.train import adapter_parameters


def test_the_weights_are_counted_from_the_safetensors_header(tmp_path):
    header = {"__metadata__": {"format": "pt"},
              "layers.0.q_proj.lora_A.weight": {"dtype": "F32", "shape": [8, 576], "data_offsets": [0, 18432]},
              "layers.0.q_proj.lora_B.weight": {"dtype": "F32", "shape": [576, 8], "data_offsets": [18432, 36864]}}
    raw = json.dumps(header).encode()
    path = tmp_path / "adapter_model.safetensors"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + bytes(36864))
    assert adapter_parameters(path) == 2 * 8 * 576
