"""Shared fixtures: every test starts as its worker did (environment, folder, providers), with
no AI__* configuration of the developer's."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from workbook.ai.registry import get_spec, provider_names, unregister_provider
from workbook.emulator import Emulator

from scheduling import (  # noqa: F401 -- pytest finds hooks by name in conftest
    _longest_first, _notebook_metadata, pytest_addoption, pytest_configure, pytest_configure_node,
    pytest_runtest_logreport, pytest_sessionfinish, pytest_xdist_make_scheduler)


def pytest_collection_modifyitems(config, items):
    """A notebook whose metadata says ``"measures_speed": true`` compares two engines' speed in
    one run: marked ``solo``, ``make test`` runs it after the parallel phase, on an otherwise
    quiet machine. Then the longest units go first (``_longest_first``)."""
    for item in items:
        notebook = getattr(item, "callspec", None) and item.callspec.params.get("path")
        if isinstance(notebook, Path) and _notebook_metadata(notebook).get("measures_speed"):
            item.add_marker(pytest.mark.solo)
        # On a new machine the first test that needs llama-server waits for the build that
        # ``make test`` started (minutes, bounded by the build's own wait limit): its timeout
        # counts from the test itself, not from that wait.
        if "llama_server_binary" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(300, func_only=True))
        # A notebook that may wait for a background job (08: make test's fine-tune) says how long.
        if isinstance(notebook, Path) and _notebook_metadata(notebook).get("timeout_s"):
            item.add_marker(pytest.mark.timeout(int(_notebook_metadata(notebook)["timeout_s"]) + 120))
    _longest_first(config, items)


# This worker's environment and folder before any test ran. Every test starts from them: a
# variable or a chdir another test left behind (in this worker, in whatever order xdist gave
# it) never reaches the next test, nor the notebook kernels and servers that test starts.
_START_ENVIRONMENT = dict(os.environ)
_START_FOLDER = os.getcwd()
_START_SIGINT = signal.getsignal(signal.SIGINT)  # an ignored SIGINT reaches every process started


def _as_the_worker_started(monkeypatch) -> None:
    for name in set(os.environ) - set(_START_ENVIRONMENT):
        if not name.startswith("PYTEST_"):  # pytest's own, per test
            monkeypatch.delenv(name)
    for name, value in _START_ENVIRONMENT.items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    if os.getcwd() != _START_FOLDER:
        monkeypatch.chdir(_START_FOLDER)
    if signal.getsignal(signal.SIGINT) != _START_SIGINT:
        signal.signal(signal.SIGINT, _START_SIGINT)


@pytest.fixture(scope="module", autouse=True)
def module_starts_as_the_worker_did():
    """The same for a module's own fixtures: a JupyterLab, a classroom, a llama-server they start
    inherits this worker's starting environment, not what an earlier module left."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _as_the_worker_started(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def clean_ai_environment(request, monkeypatch):
    _as_the_worker_started(monkeypatch)
    # botocore refuses a plain-HTTP endpoint when a Bedrock bearer token is configured, and
    # the SDKs would quietly read their own *_API_KEY variables.
    for name in list(os.environ):
        if name.startswith("AI__") or name in ("AWS_BEARER_TOKEN_BEDROCK", "AZURE_OPENAI_API_KEY",
                                               "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").reset()  # no fault or log left over from another test
    registered = {name: get_spec(name) for name in provider_names()}
    yield
    # A provider a test registered (or a built-in it replaced) and did not undo -- it failed
    # half-way -- must not answer for the next test.
    for name in provider_names():
        if registered.get(name) is not get_spec(name):
            unregister_provider(name)


@pytest.fixture(scope="module")
def emu():
    """The scripted emulator on a free port of 127.0.0.1, shared by a test module."""
    with Emulator(backend="scripted") as emulator:
        yield emulator


@pytest.fixture(scope="module")
def llama_server_binary():
    """llama.cpp's llama-server, built once per machine (or found in the cache)."""
    from workbook.serving.build import BuildUnavailable, ensure_llama_server

    try:
        return ensure_llama_server(progress=print)
    except BuildUnavailable as unavailable:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(unavailable))
