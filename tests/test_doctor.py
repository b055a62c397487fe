"""``python -m workbook doctor`` in a subprocess: the table, exit statuses, no secrets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from workbook.doctor import Row, run_checks
from workbook.probe import probe, safe_url

SECRET = "sk-doctor-test-0123456789abcdefSECRET"


def doctor(tmp_path, *args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AI__")}
    environment.pop("AWS_BEARER_TOKEN_BEDROCK", None)
    environment.update(env)
    # Run from an empty folder so no developer's .env is picked up.
    return subprocess.run([sys.executable, "-m", "workbook", "doctor", *args], cwd=tmp_path,
                          env=environment, capture_output=True, text=True, timeout=120)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mock_is_ready_and_versions_are_listed(tmp_path):
    result = doctor(tmp_path, "--quick", AI__PROVIDER="mock")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for package in ("openai", "boto3", "httpx", "llama_cpp_python", "jupyterlab", "ipywidgets"):
        assert package in out
    assert "mock" in out and "← AI__PROVIDER" in out and "AI__PROVIDER=mock: ready" in out
    assert "not loaded: --quick" in out


def test_missing_variables_are_named_and_fail(tmp_path):
    result = doctor(tmp_path, "--quick", AI__PROVIDER="azure_openai")
    assert result.returncode == 1
    assert "AI__AZURE_OPENAI_ENDPOINT" in result.stdout and "NOT ready" in result.stdout


def test_unreachable_chosen_provider_fails(tmp_path):
    result = doctor(tmp_path, "--quick", AI__PROVIDER="ollama",
                    AI__OLLAMA_BASE_URL=f"http://127.0.0.1:{closed_port()}")
    assert result.returncode == 1
    assert "not reachable" in result.stdout


def test_provider_on_the_emulator_answers(tmp_path, emu):
    result = doctor(tmp_path, "--quick", **emu.env("ollama"))
    assert result.returncode == 0, result.stdout
    assert f"reachable at {emu.url}" in result.stdout
    assert "answered: first token" in result.stdout


def test_live_calls_report_time_to_first_token_and_never_print_secrets(tmp_path, emu):
    env = {**emu.env("openai"), "AI__OPENAI_API_KEY": SECRET,
           "AI__AZURE_OPENAI_API_KEY": SECRET}
    result = doctor(tmp_path, "--quick", "--live", **env)
    assert result.returncode == 0, result.stdout
    assert "live calls" in result.stdout and "first token" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert "SECRET" not in result.stdout


def test_live_call_failure_gives_message_and_hint(tmp_path, emu):
    env = {**emu.env("openai"), "AI__MODEL": "no-such-model"}
    result = doctor(tmp_path, "--quick", "--live", **env)
    assert result.returncode == 1
    assert "ModelNotFoundError" in result.stdout and "--" in result.stdout


def test_bad_configuration_is_reported_not_raised(tmp_path):
    result = doctor(tmp_path, "--quick", AI__PROVIDER="nonsense")
    assert result.returncode == 1  # the rest of the table still shows, with the reason
    assert "unknown provider" in result.stdout and "Traceback" not in result.stderr


@pytest.mark.slow
def test_full_run_loads_the_local_model(tmp_path):
    result = doctor(tmp_path, AI__PROVIDER="local")
    assert result.returncode == 0, result.stdout
    assert "SmolLM2 loads and answers" in result.stdout and "loaded in" in result.stdout


def test_library_rows_and_table(emu):
    report = run_checks(emu.settings("vllm"), quick=True)
    assert report.chosen == "vllm" and report.chosen_ok
    assert all(isinstance(r, Row) for r in report)
    frame = report.to_dataframe()
    assert list(frame.columns) == ["section", "check", "status", "detail"]
    assert "<table>" in report._repr_html_()


async def test_library_works_inside_a_running_loop(emu):
    report = run_checks(emu.settings("ollama"), quick=True)
    assert report.chosen_ok


def test_probe_and_url_redaction(emu):
    assert probe(emu.url) is True
    assert probe(f"http://127.0.0.1:{closed_port()}") is False
    assert probe(None) is None
    assert safe_url("https://user:pw@host.example:8443/v1") == "https://host.example:8443/v1"


def test_node_is_reported_as_needed_only_for_the_site(monkeypatch, tmp_path):
    from workbook import doctor

    monkeypatch.setenv("PATH", str(tmp_path))            # no node on it
    row = doctor._node_row()
    assert row.status == doctor.WARN and "make book" in row.detail and "apt install nodejs" in row.detail


def test_the_fine_tuning_extra_is_reported_and_optional(monkeypatch):
    from workbook import doctor
    from workbook.finetune import train

    installed = {"torch": "2.13.0+cpu", "transformers": "5.24.0", "peft": "0.21.2", "gguf": "0.19.0",
                 "llama_cpp_python": "0.3.36"}
    monkeypatch.setattr(train, "versions", lambda: installed)
    row = doctor._finetune_row()
    assert row.status == doctor.OK and "peft 0.21.2" in row.detail
    monkeypatch.setattr(train, "versions", lambda: {**installed, "torch": None, "peft": None})
    row = doctor._finetune_row()
    assert row.status == doctor.WARN and "torch, peft missing" in row.detail and "make finetune" in row.detail
