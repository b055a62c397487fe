"""Two small bridges between sync and async code, each written once.

``run_sync`` runs a coroutine from sync code (a CLI, a widget callback), also when the
calling thread already runs an event loop, as a Jupyter kernel does. ``aclose_quietly``
closes a provider or stream that is being dropped anyway.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run ``make()`` to completion and return its result.

    ``asyncio.run`` cannot nest, so inside a running loop the coroutine runs on a fresh
    loop in a worker thread. ``make`` builds the coroutine inside the loop that runs it
    (clients bound to a loop must be created there)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(make))
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workbook-sync") as pool:
        return pool.submit(lambda: asyncio.run(_awaited(make))).result()


async def _awaited(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


async def aclose_quietly(thing: Any, timeout_s: float | None = None) -> None:
    """``await thing.aclose()`` (or ``close()``) if it has one; failures are ignored,
    because whatever is being closed is dropped either way."""
    for name in ("aclose", "close"):
        method = getattr(thing, name, None)
        if not callable(method):
            continue
        try:
            outcome = method()
            if inspect.isawaitable(outcome):
                await asyncio.wait_for(outcome, timeout_s)
        except Exception:  # noqa: BLE001 -- closing is tidying up
            pass
        return
