"""Shared fixtures: every test starts with no AI__* configuration of the developer's."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_ai_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("AI__") or name in ("AWS_BEARER_TOKEN_BEDROCK", "AZURE_OPENAI_API_KEY",
                                               "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    yield
