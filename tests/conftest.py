"""Shared fixtures: every test starts as its worker did (environment, folder, providers), with
no AI__* configuration of the developer's."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from workbook.ai.registry import get_spec, provider_names, unregister_provider
from workbook.cache import cache_home
from workbook.emulator import Emulator


def _notebook_metadata(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("workbook", {})
    except (OSError, ValueError):
        return {}


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


def _scope(nodeid: str) -> str:
    """What a worker runs as one unit: a test file (its expensive module fixtures -- a
    JupyterLab, an emulator, a graded class -- start once), except that each notebook run is a
    unit of its own, so the notebooks spread over every core."""
    if "::test_notebook_runs[" in nodeid:
        return nodeid
    return nodeid.split("::", 1)[0]


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile``, refined to the units of ``_scope``. (xdist's ``loadgroup`` marks
    would say the same, but xdist 3.8 cannot rename pytest 9's test ids, so they are ignored.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesWholeNotebookRunsApart(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    return FilesWholeNotebookRunsApart(config, log)


# Longest first: xdist hands out units in collection order, so a long unit handed out last
# keeps one core busy while the other waits. The units' times from the previous run on this
# machine (kept outside the checkout) put the long ones first; a first run keeps file order.
# On a new machine, units that would wait for a build `make test` started in the background
# go last, so the workers run everything else meanwhile instead of waiting on its lock.
# Only the order changes, never what runs: no test may depend on it.
_DURATIONS = cache_home() / "test-durations.json"
_measured: dict[str, float] = {}


def _builds_pending() -> dict[str, bool]:
    from workbook.finetune.train import cached, default_request
    from workbook.serving.build import cached_binary

    return {"llama-server": cached_binary() is None, "fine-tune": cached(default_request()) is None}


def _waits_for(item, pending: dict[str, bool]) -> bool:
    if pending["llama-server"] and "llama_server_binary" in getattr(item, "fixturenames", ()):
        return True
    notebook = getattr(item, "callspec", None) and item.callspec.params.get("path")
    # A notebook that says how long it may wait for a background job waits for the fine-tune.
    return (pending["fine-tune"] and isinstance(notebook, Path)
            and bool(_notebook_metadata(notebook).get("timeout_s")))


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        config.builds_pending = _builds_pending()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """Every worker must collect the same order: they are told what was pending when the run
    began, not each asked (a build may finish between two workers' collections)."""
    node.workerinput["builds_pending"] = node.config.builds_pending


def _longest_first(config, items: list) -> None:
    try:
        known = json.loads(_DURATIONS.read_text())
    except (OSError, ValueError):
        known = {}
    pending = (config.workerinput["builds_pending"] if hasattr(config, "workerinput")
               else config.builds_pending)
    waiting = {_scope(item.nodeid) for item in items if _waits_for(item, pending)}
    # Whole units move, never a test within one: a file's tests keep their order.
    items.sort(key=lambda item: (_scope(item.nodeid) in waiting,
                                 -float(known.get(_scope(item.nodeid), 0.0))))  # stable


def pytest_runtest_logreport(report):
    _measured[_scope(report.nodeid)] = _measured.get(_scope(report.nodeid), 0.0) + report.duration


def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput") or not _measured:
        return  # a worker: the controller sees every report and writes once
    try:
        known = json.loads(_DURATIONS.read_text())
    except (OSError, ValueError):
        known = {}
    known.update({scope: round(seconds, 2) for scope, seconds in _measured.items()})
    _DURATIONS.parent.mkdir(parents=True, exist_ok=True)
    partial = _DURATIONS.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(known, indent=0, sort_keys=True))
    partial.replace(_DURATIONS)


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
