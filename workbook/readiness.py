"""Waiting for a server process just started to answer, and stopping it if it never does: the
one start-up loop of every server the workbook starts (llama-server, vLLM, JupyterHub)."""

from __future__ import annotations

import subprocess
import time
from typing import Callable, Sequence

import httpx

Check = tuple[str, Callable[[httpx.Response], bool]]  # a URL, and: is this 200 answer "ready"?


def answered(response: httpx.Response) -> bool:
    """Ready as soon as the URL answers 200."""
    return True


def wait_until_ready(process: subprocess.Popen, checks: Sequence[Check], *, started: float,
                     timeout_s: float, stop: Callable[[], None], exited: Callable[[int], Exception],
                     not_ready: Callable[[str], Exception], interval_s: float = 0.1,
                     probe_timeout_s: float = 1.0, verify=True,
                     waiting: Callable[[float], None] | None = None) -> None:
    """Poll ``checks`` in order until each has passed.

    If ``process`` exits first, raise ``exited(its return code)``; if ``timeout_s`` passes after
    ``started`` (a ``time.perf_counter()``), raise ``not_ready(the URL still waited for)``.
    ``waiting(seconds so far)`` runs between polls (progress notes). Whatever ends the wait
    early -- those errors, or an interrupt -- ``stop()`` runs first: a server that did not
    start is not left running."""
    try:
        pending = list(checks)
        while pending:
            if process.poll() is not None:
                raise exited(process.returncode)
            url, ready = pending[0]
            try:
                answer = httpx.get(url, timeout=probe_timeout_s, verify=verify)
                if answer.status_code == 200 and ready(answer):
                    pending.pop(0)
                    continue
            except (httpx.HTTPError, ValueError):  # not listening yet, or half-started
                pass
            elapsed = time.perf_counter() - started
            if elapsed > timeout_s:
                raise not_ready(url)
            if waiting is not None:
                waiting(elapsed)
            time.sleep(interval_s)
    except BaseException:
        stop()
        raise
