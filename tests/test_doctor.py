"""``python -m workbook doctor`` in a subprocess: the table, exit statuses, no secrets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from workbook.doctor import Row, run_checks
from workbook.ai.settings import display_url
from workbook.probe import probe

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
    assert display_url("https://user:pw@host.example:8443/v1") == "https://host.example:8443/v1"


def test_node_is_reported_as_optional_for_the_sites_diagrams(monkeypatch, tmp_path):
    from workbook import doctor

    monkeypatch.setenv("PATH", str(tmp_path))            # no npm on it
    row = doctor._node_row()
    assert row.status == doctor.WARN and "optional, for Mermaid diagrams" in row.detail
    npm = tmp_path / "npm"
    npm.write_text("#!/bin/sh\n")
    npm.chmod(0o755)
    row = doctor._node_row()
    assert row.status == doctor.OK and "optional, for Mermaid diagrams" in row.detail


# -- one invalid setting is named once; the rest of the table stays true ----------------------
@pytest.fixture
def configured(monkeypatch, tmp_path):
    """Set exactly these AI__* variables (no developer's .env: an empty working folder)."""
    for name in list(os.environ):
        if name.startswith("AI__"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def set_variables(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_variables


def provider_row(report, name):
    return next(r for r in report if r.section == "providers" and r.check == name)


def test_an_azure_endpoint_without_a_scheme_is_named_and_nothing_else_is_misreported(configured):
    configured(AI__PROVIDER="azure_openai", AI__AZURE_OPENAI_ENDPOINT="myresource.openai.azure.com",
               AI__AZURE_OPENAI_API_KEY=SECRET, AI__AZURE_OPENAI_DEPLOYMENT="gpt-4.1-mini")
    report = run_checks(quick=True)
    text = str(report)
    settings_row = next(r for r in report if r.check == "configuration")
    assert settings_row.status == "✗" and "AI__AZURE_OPENAI_ENDPOINT" in settings_row.detail
    azure = provider_row(report, "azure_openai")
    assert azure.status == "✗" and "invalid AI__AZURE_OPENAI_ENDPOINT" in azure.detail
    assert "missing" not in azure.detail  # the key and the deployment were set
    assert "← AI__PROVIDER" in azure.detail
    assert "← AI__PROVIDER" not in provider_row(report, "local").detail
    assert report.chosen == "azure_openai" and not report.chosen_ok
    assert text.rstrip().endswith("AI__PROVIDER=azure_openai: NOT ready -- see the ✗ rows above")
    assert SECRET not in text and SECRET not in report._repr_html_()


def test_an_invalid_url_of_another_provider_leaves_the_chosen_one_and_the_others_alone(configured):
    configured(AI__PROVIDER="mock", AI__OLLAMA_BASE_URL="localhost:11434", AI__AWS_REGION="eu-west-1")
    report = run_checks(quick=True)
    ollama = provider_row(report, "ollama")
    # Not "not reachable at http://localhost:11434": that default is not what was configured.
    assert "invalid AI__OLLAMA_BASE_URL" in ollama.detail and "reachable" not in ollama.detail
    assert "← AI__PROVIDER" in provider_row(report, "mock").detail
    bedrock = provider_row(report, "bedrock")
    assert "configured ✓" in bedrock.detail and "invalid" not in bedrock.detail
    assert report.chosen == "mock"
    # load_settings() fails while the URL is invalid, so no notebook would start: not ready.
    assert not report.chosen_ok and "AI__PROVIDER=mock: NOT ready" in str(report)


def test_an_invalid_provider_name_marks_no_provider_as_chosen(configured):
    configured(AI__PROVIDER="olama", AI__OLLAMA_BASE_URL="http://127.0.0.1:9")
    report = run_checks(quick=True)
    assert report.chosen is None and not report.chosen_ok
    assert not any("← AI__PROVIDER" in r.detail for r in report)
    assert "did you mean 'ollama'" in str(report)
    assert "AI__PROVIDER (invalid, see settings): NOT ready" in str(report)
    assert "invalid" not in provider_row(report, "ollama").detail  # its own URL is fine


def test_valid_settings_report_no_invalid_rows(configured, emu):
    configured(**emu.env("ollama"))
    report = run_checks(quick=True)
    assert report.chosen == "ollama" and report.chosen_ok, str(report)
    assert not any("invalid" in r.detail for r in report if r.section == "providers")


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


def test_rows_show_the_home_folder_as_tilde_and_wrap_under_their_column():
    from workbook.doctor import LINE_WIDTH, DoctorReport

    home = os.path.expanduser("~")
    long = f"installed in {home}/.cache/workbook/vllm, " + "a detail that goes on and on " * 6
    text = str(DoctorReport([Row("packages", "vLLM (real engine)", "✓", long)]))
    assert f"{home}/" not in text and "~/.cache/workbook/vllm" in text
    assert all(len(line) <= LINE_WIDTH for line in text.splitlines()), text
    column = text.splitlines()[1].index("installed")
    assert all(line.startswith(" " * column) for line in text.splitlines()[2:-2] if line.strip()), text
