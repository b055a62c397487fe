"""``doctor --live`` checks the model before class, offline against the emulator:
Bedrock's lifecycle and inference types (GetFoundationModel through boto3's ``bedrock``
client), an OpenAI-compatible server's ``GET /models``, Ollama's ``/api/tags``; and every
run says how old the model catalogue is."""

import datetime
import os
import subprocess
import sys

import pytest

from workbook.ai import catalog
from workbook.doctor import FAIL, OK, WARN, _catalogue_row, run_checks
from workbook.emulator import Emulator


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret")


def model_row(settings):
    """The model row of the chosen provider (others configured alongside get rows too)."""
    rows = [row for row in run_checks(settings, quick=True, live=True)
            if row.section == "models" and row.check.split()[0] == settings.provider]
    assert len(rows) == 1, rows
    return rows[0]


def test_the_catalogue_default_is_active(emu):
    row = model_row(emu.settings("bedrock"))
    assert row.status == OK and "active in us-east-1" in row.detail


def test_a_retired_model_fails_and_names_the_current_one(emu):
    row = model_row(emu.settings("bedrock").with_(model="anthropic.claude-3-haiku-20240307-v1:0"))
    assert row.status == FAIL
    assert "end of life" in row.detail and catalog.default_model("bedrock") in row.detail


def test_a_legacy_model_warns_with_the_fix():
    with Emulator(lifecycle={"amazon.nova-micro-v1:0": "LEGACY"}) as emulator:
        row = model_row(emulator.settings("bedrock"))
    assert row.status == WARN and "Legacy" in row.detail and "AI__MODEL" in row.detail


def test_a_base_id_that_needs_a_profile_fails_with_the_regions_profile_id(emu):
    settings = emu.settings("bedrock").with_(model="anthropic.claude-haiku-4-5-20251001-v1:0",
                                             aws_region="eu-west-1")
    row = model_row(settings)
    assert row.status == FAIL and "AI__MODEL=eu.anthropic.claude-haiku-4-5-20251001-v1:0" in row.detail
    fixed = model_row(settings.with_(model="eu.anthropic.claude-haiku-4-5-20251001-v1:0"))
    assert fixed.status == OK


def test_an_unknown_bedrock_model_fails(emu):
    row = model_row(emu.settings("bedrock").with_(model="amazon.no-such-model-v1:0"))
    assert row.status == FAIL and "has no model" in row.detail


@pytest.mark.parametrize(("model", "status"), [("smollm2", OK), ("not-served", FAIL)])
def test_an_openai_compatible_server_must_list_the_model(emu, model, status):
    row = model_row(emu.settings("vllm").with_(model=model))
    assert row.status == status, row
    if status == FAIL:
        assert "smollm2" in row.detail  # what the server does list


@pytest.mark.parametrize(("model", "status"), [("llama3.2", OK), ("mistral", FAIL)])
def test_ollama_must_have_pulled_the_model(emu, model, status):
    row = model_row(emu.settings("ollama").with_(model=model))
    assert row.status == status, row
    if status == FAIL:
        assert "ollama pull mistral" in row.detail


def test_a_catalogue_older_than_six_months_warns_with_the_fix():
    fresh = _catalogue_row(catalog.verified_on() + datetime.timedelta(days=10))
    assert fresh.status == OK and catalog.verified_on().isoformat() in fresh.detail
    stale = _catalogue_row(catalog.verified_on() + datetime.timedelta(days=200))
    assert stale.status == WARN and "cloud_models.json" in stale.detail


def test_the_command_line_reports_a_retired_model_and_fails(tmp_path, emu):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AI__")}
    environment.update(emu.env("bedrock"), AI__MODEL="anthropic.claude-3-haiku-20240307-v1:0")
    result = subprocess.run([sys.executable, "-m", "workbook", "doctor", "--quick", "--live"],
                            cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout
    assert "end of life" in result.stdout and "verified on" in result.stdout
