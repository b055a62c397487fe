"""How ``make test`` hands test units to its workers: a unit is a test file, or one notebook run;
the longest units go first, and on a new machine those that would wait for a background build go
last. Only the order changes, never what runs. (Its hooks are imported by ``conftest.py``.)"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from workbook.cache import cache_home


def _notebook_metadata(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("workbook", {})
    except (OSError, ValueError):
        return {}


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

    from workbook.serving import vllm_env

    return {"llama-server": cached_binary() is None, "fine-tune": cached(default_request()) is None,
            "vllm": not vllm_env.installed()}


def _waits_for(item, pending: dict[str, bool]) -> bool:
    if pending["llama-server"] and "llama_server_binary" in getattr(item, "fixturenames", ()):
        return True
    if pending["vllm"] and item.get_closest_marker("vllm"):
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


def pytest_addoption(parser):
    parser.addoption(
        "--unit-order", default="longest-first",
        help="the order units are handed out: longest-first (make test's), reversed (the units "
             "in reverse file order) or shuffled:SEED. The other two prove that no test depends on "
             "what ran before it in its worker: run the parallel phase with each, both must pass.")


def _longest_first(config, items: list) -> None:
    order = config.getoption("unit_order")
    if order != "longest-first":
        _other_order(order, items)
        return
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


def _other_order(order: str, items: list) -> None:
    units = list(dict.fromkeys(_scope(item.nodeid) for item in items))
    if order == "reversed":
        units.reverse()
    elif order.startswith("shuffled:"):
        random.Random(order.removeprefix("shuffled:")).shuffle(units)  # the same on every worker
    else:
        raise pytest.UsageError(f"--unit-order={order}: say longest-first, reversed or shuffled:SEED")
    rank = {unit: position for position, unit in enumerate(units)}
    items.sort(key=lambda item: rank[_scope(item.nodeid)])  # stable: a unit's tests keep their order


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
