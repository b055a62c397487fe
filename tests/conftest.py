"""Shared fixtures: every test starts with no AI__* configuration of the developer's."""

from __future__ import annotations

import os

import pytest

from workbook.emulator import Emulator


@pytest.fixture(autouse=True)
def clean_ai_environment(request, monkeypatch):
    # botocore refuses a plain-HTTP endpoint when a Bedrock bearer token is configured, and
    # the SDKs would quietly read their own *_API_KEY variables.
    for name in list(os.environ):
        if name.startswith("AI__") or name in ("AWS_BEARER_TOKEN_BEDROCK", "AZURE_OPENAI_API_KEY",
                                               "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").reset()  # no fault or log left over from another test
    yield


@pytest.fixture(scope="module")
def emu():
    """The scripted emulator on a free port of 127.0.0.1, shared by a test module."""
    with Emulator(backend="scripted") as emulator:
        yield emulator
