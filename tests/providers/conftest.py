import pytest

from workbook.ai import create_ai_provider


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch):
    # boto3 signs with the normal credentials chain: give it a dummy pair, as the emulator's env() does.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret")


@pytest.fixture
def build(emu):
    """build(name, **changes) -> that provider, pointed at the emulator."""

    def _build(name, **changes):
        return create_ai_provider(emu.settings(name).with_(**changes))

    return _build
