"""``serve --lora`` and ``LlamaServer(lora_path=...)``: the adapter reaches each engine's command
line in that engine's own flag, and a missing file is refused before anything starts."""

import pytest

from workbook.serving import LlamaServer
from workbook.serving.cli import parser
from workbook.serving.llama_server import LlamaServerError


@pytest.fixture
def adapter(tmp_path):
    path = tmp_path / "adapter.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_serve_takes_a_lora_option(adapter):
    args = parser("serve").parse_args(["--lora", str(adapter)])
    assert args.lora == str(adapter)
    assert parser("serve").parse_args([]).lora is None


@pytest.mark.parametrize("engine, flag", [("llama-server", "--lora"), ("llama-cpp-python", "--lora_path")])
def test_each_engine_gets_the_adapter_in_its_own_flag(tmp_path, adapter, engine, flag):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    server = LlamaServer(model, engine=engine, lora_path=adapter, port=1)
    command = server.command
    assert command[command.index(flag) + 1] == str(adapter)
    without = LlamaServer(model, engine=engine, port=1).command
    assert flag not in without


def test_a_missing_adapter_is_refused_before_starting(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    with pytest.raises(LlamaServerError, match="no such file"):
        LlamaServer(model, engine="llama-server", lora_path=tmp_path / "missing.gguf")
