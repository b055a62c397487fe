import pytest

from workbook.emulator import Emulator


@pytest.fixture(scope="module")
def emu():
    with Emulator(backend="scripted") as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _clean(request, monkeypatch):
    # botocore refuses a plain-HTTP endpoint when a Bedrock bearer token is configured.
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").reset()
    yield
