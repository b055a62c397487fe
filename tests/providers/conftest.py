import pytest

from workbook.ai import create_ai_provider
from workbook.emulator import Emulator

@pytest.fixture(scope="module")
def emu():
    with Emulator(backend="scripted") as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _fresh(request, monkeypatch):
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    # boto3 signs with the normal credentials chain: give it a dummy pair, as the emulator's env() does.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret")
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").reset()
    yield


@pytest.fixture
def build(emu):
    """build(name, **changes) -> that provider, pointed at the emulator."""
    made = []

    def _build(name, **changes):
        provider = create_ai_provider(emu.settings(name).with_(**changes))
        made.append(provider)
        return provider

    yield _build
