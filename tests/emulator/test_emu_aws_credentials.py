"""Dummy AWS keys for the emulator never replace a student's real AWS setup."""

import os

from workbook.emulator.aws import emulator_credentials, use_emulator_credentials, restore_environment

EMULATOR_ENV = {"AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator-secret",
                "AI__PROVIDER": "bedrock"}


def _no_aws(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def test_dummy_keys_only_when_nothing_is_configured(monkeypatch, tmp_path):
    _no_aws(monkeypatch, tmp_path)
    with emulator_credentials(EMULATOR_ENV):
        assert os.environ["AWS_ACCESS_KEY_ID"] == "emulator"
        assert "AI__PROVIDER" not in os.environ  # only the AWS_* part
    assert "AWS_ACCESS_KEY_ID" not in os.environ


def test_a_real_profile_is_left_alone(monkeypatch, tmp_path):
    _no_aws(monkeypatch, tmp_path)
    (tmp_path / "config").write_text("[profile course]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_PROFILE", "course")
    previous = use_emulator_credentials(EMULATOR_ENV)
    assert "AWS_ACCESS_KEY_ID" not in os.environ and os.environ["AWS_PROFILE"] == "course"
    restore_environment(previous)


def test_a_bearer_token_is_set_aside_and_restored(monkeypatch, tmp_path):
    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "token-value")
    with emulator_credentials(EMULATOR_ENV):
        assert "AWS_BEARER_TOKEN_BEDROCK" not in os.environ
    assert os.environ["AWS_BEARER_TOKEN_BEDROCK"] == "token-value"


def test_emulator_settings_for_bedrock_work_alone_and_are_undone_at_stop(monkeypatch, tmp_path):
    import asyncio

    from workbook.ai import Message, create_ai_provider
    from workbook.emulator import Emulator

    _no_aws(monkeypatch, tmp_path)
    with Emulator() as emulator:
        provider = create_ai_provider(emulator.settings("bedrock"))  # no environment patched
        reply = asyncio.run(provider.chat([Message("user", "hello")], max_tokens=8))
        assert reply.content and emulator.requests[-1].protocol == "bedrock"
    assert "AWS_ACCESS_KEY_ID" not in os.environ  # the dummy keys left with the emulator
