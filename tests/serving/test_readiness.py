"""``workbook.readiness.wait_until_ready``, the start-up loop of llama-server, vLLM and the
classroom's hub, against real processes: one that serves, one that exits, one that never answers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from workbook.ports import free_port
from workbook.readiness import answered, wait_until_ready


class Failed(Exception):
    pass


def _wait(process, checks, stopped, **options):
    wait_until_ready(process, checks, started=time.perf_counter(), stop=lambda: stopped.append(True),
                     exited=lambda code: Failed(f"exited with code {code}"),
                     not_ready=lambda url: Failed(f"not ready: {url}"), **options)


@pytest.fixture
def process():
    started = []

    def start(*argv):
        started.append(subprocess.Popen([sys.executable, *argv], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL))
        return started[-1]

    yield start
    for child in started:
        child.kill()
        child.wait(10)


def test_returns_once_every_check_answered_in_order_and_leaves_the_server_running(process):
    port = free_port()
    server = process("-m", "http.server", str(port), "--bind", "127.0.0.1")
    seen, stopped = [], []

    def ready(answer):
        seen.append(str(answer.url))
        return True

    url = f"http://127.0.0.1:{port}"
    _wait(server, [(f"{url}/", ready), (f"{url}/?second", ready)], stopped, timeout_s=60)
    assert seen == [f"{url}/", f"{url}/?second"]
    assert stopped == [] and server.poll() is None


def test_a_process_that_exits_raises_its_code_and_is_stopped(process):
    stopped = []
    dead = process("-c", "raise SystemExit(3)")
    with pytest.raises(Failed, match="exited with code 3"):
        _wait(dead, [(f"http://127.0.0.1:{free_port()}/", answered)], stopped, timeout_s=60)
    assert stopped == [True]


def test_one_that_never_answers_is_stopped_at_the_deadline_naming_the_url(process):
    stopped, notes = [], []
    silent = process("-c", "import time; time.sleep(60)")
    url = f"http://127.0.0.1:{free_port()}/health"
    with pytest.raises(Failed, match=f"not ready: {url}"):
        _wait(silent, [(url, answered)], stopped, timeout_s=0.5, waiting=notes.append)
    assert stopped == [True]
    assert notes and notes == sorted(notes)  # the progress callback saw the time go by
