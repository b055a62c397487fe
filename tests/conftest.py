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
    """Two things about where and when tests run.

    * A notebook whose metadata says ``"measures_speed": true`` compares two engines' speed in
      one run: marked ``solo``, ``make test`` runs it after the parallel phase, on an otherwise
      quiet machine.
    * Parallel runs (``make test``: ``-n 2 --dist loadgroup``) keep a test file's tests on one
      worker, so a module's expensive fixtures (a JupyterLab, an emulator) start once, except the
      notebook runs: each (notebook, backend) is a group of its own, spread over every core.
    """
    for item in items:
        notebook = None
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("path"), Path):
            notebook = item.callspec.params["path"]  # a papermill run of a notebook
        if notebook is not None and _notebook_metadata(notebook).get("measures_speed"):
            item.add_marker(pytest.mark.solo)
        if item.get_closest_marker("xdist_group") is None:
            group = item.nodeid if notebook is not None else item.nodeid.split("::")[0]
            item.add_marker(pytest.mark.xdist_group(group))


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
