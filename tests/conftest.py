"""Shared fixtures: every test starts with no AI__* configuration of the developer's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workbook.emulator import Emulator


def _notebook_metadata(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("workbook", {})
    except (OSError, ValueError):
        return {}


def pytest_collection_modifyitems(config, items):
    """A notebook whose metadata says ``"measures_speed": true`` compares two engines' speed
    in one run: marked ``solo``, ``make test`` runs it after the parallel phase, on an
    otherwise quiet machine (its nbval cells and its papermill runs alike)."""
    for item in items:
        path = Path(str(item.fspath))
        notebook = path if path.suffix == ".ipynb" else None
        if notebook is None and hasattr(item, "callspec") and isinstance(item.callspec.params.get("path"), Path):
            notebook = item.callspec.params["path"]  # a papermill run of a notebook
        if notebook is not None and _notebook_metadata(notebook).get("measures_speed"):
            item.add_marker(pytest.mark.solo)


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
