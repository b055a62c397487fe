"""``BACKEND = "live"`` without an account: the notebooks say what to configure and go on
against the emulator (``account_for``); with the account there, they use it."""

from __future__ import annotations

import pytest

from workbook.course.backends import account_for
from workbook.course.memory import Memory, memory_now
from workbook.ports import free_port


@pytest.fixture
def no_accounts(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env above the working directory
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_offline_backends_are_the_emulator_and_skip_nothing(no_accounts):
    account = account_for("emulator", "azure_openai")
    assert account.offline and account.skipped is None
    assert account.settings.azure_openai_endpoint.startswith("http://127.0.0.1:")


def test_live_without_the_azure_block_names_the_variables_and_uses_the_emulator(no_accounts, capsys):
    account = account_for("live", "azure_openai")
    assert account.offline, "with no Azure account the run must go on offline"
    assert account.settings.provider == "azure_openai"
    assert account.settings.azure_openai_endpoint.startswith("http://127.0.0.1:"), "not the emulator"
    for variable in ("AI__AZURE_OPENAI_ENDPOINT", "AI__AZURE_OPENAI_API_KEY", "AI__AZURE_OPENAI_DEPLOYMENT"):
        assert variable in account.skipped
    banner = capsys.readouterr().out
    assert "skipped live azure_openai: configure" in banner, "the student is not told"
    assert "its dummy key for AI__AZURE_OPENAI_API_KEY" in banner and account.settings.secret(
        "azure_openai_api_key") not in banner, "the banner names the stand-in key, never its value"


def test_live_bedrock_without_credentials_says_so(no_accounts, monkeypatch):
    monkeypatch.setenv("AI__AWS_REGION", "eu-west-1")
    account = account_for("live", "bedrock")
    assert account.offline and "AWS credentials" in account.skipped


def test_live_bedrock_with_nothing_names_the_region_and_the_credentials_at_once(no_accounts, monkeypatch, capsys):
    monkeypatch.delenv("AI__AWS_REGION", raising=False)
    account = account_for("live", "bedrock")
    assert "AI__AWS_REGION" in account.skipped and "AWS credentials" in account.skipped, account.skipped
    # The output below the banner shows the emulator's region: the banner says whose it is.
    banner = capsys.readouterr().out
    assert f"its AI__AWS_REGION={account.settings.aws_region}" in banner and "dummy AWS keys" in banner, banner


def test_live_bedrock_with_credentials_is_live(no_accounts, monkeypatch):
    monkeypatch.setenv("AI__AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA" + "X" * 16)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    account = account_for("live", "bedrock")
    assert not account.offline and account.skipped is None and account.settings.aws_region == "eu-west-1"


def test_live_ollama_is_used_only_when_a_server_answers(no_accounts, monkeypatch, emu):
    monkeypatch.setenv("AI__OLLAMA_BASE_URL", f"http://127.0.0.1:{free_port()}")
    silent = account_for("live", "ollama")
    assert silent.offline and "a server answering at http://127.0.0.1:" in silent.skipped
    assert "AI__OLLAMA_BASE_URL" in silent.skipped

    monkeypatch.setenv("AI__OLLAMA_BASE_URL", emu.url)   # something listening: that is the account
    answering = account_for("live", "ollama")
    assert not answering.offline and answering.settings.ollama_base_url == emu.url


def test_memory_is_read_without_proc_and_never_guessed():
    now = memory_now()
    assert now.rss_mib is not None and now.rss_mib > 1, "psutil reads the resident size on every OS"
    assert now.peak_mib is None or now.peak_mib >= now.rss_mib, "the peak is at least what is held now"
    assert Memory(rss_mib=None, peak_mib=12.4).describe() == "now not available on this OS, peak 12 MiB"
