"""The bridges between sync and async code, each written once.

``run_sync`` runs a coroutine from sync code (a CLI, a widget callback), also when the
calling thread already runs an event loop, as a Jupyter kernel does. ``aclose_quietly``
closes a provider or stream that is being dropped anyway. ``ThreadRelay`` (and its short
form ``iterate_in_thread``) reads a blocking iterator -- boto3's event stream, llama.cpp's
tokens -- on a worker thread and hands its items to the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, TypeVar

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


_ITEM, _ERROR, _END = "item", "error", "end"


class ThreadRelay:
    """A blocking iterator read on a worker thread, its items consumed with ``async for``.

    ``make_iterable()`` runs on the thread too, so a blocking request that opens the
    iterator does not block the loop either. Pass a generator to send nothing until the
    thread starts on it: the thread checks ``stopped`` before every item it asks for.

    A consumer that stops early (``break``, an error, a cancelled task) sets ``stopped``
    and calls ``on_stop`` (from the loop: e.g. shut a socket a read is blocked on), so the
    thread stops after the item it is reading and closes the iterator. An exception raised
    while reading reaches the consumer as it was raised. ``backlog`` is how many items were
    handed over and not read yet; ``result`` what a generator returned.
    """

    def __init__(self, make_iterable: Callable[[], Iterable[Any]], *, executor=None,
                 on_stop: Callable[[], None] | None = None):
        self._make = make_iterable
        self._executor = executor  # None: a daemon thread of its own
        self._on_stop = on_stop
        self.stopped = threading.Event()
        self.handed = 0
        self.taken = 0
        self.result: Any = None

    @property
    def backlog(self) -> int:
        return self.handed - self.taken

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._items()

    def _pump(self, hand_over: Callable[[tuple], None]) -> None:
        try:
            iterator = iter(self._make())
            try:
                while not self.stopped.is_set():
                    try:
                        item = next(iterator)
                    except StopIteration as end:
                        self.result = end.value
                        break
                    self.handed += 1
                    hand_over((_ITEM, item))
            finally:
                close = getattr(iterator, "close", None)
                if callable(close):
                    close()
            hand_over((_END, None))
        except BaseException as error:  # raised again in the consumer, on the loop
            hand_over((_ERROR, error))

    async def _items(self) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def hand_over(message: tuple) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, message)
            except RuntimeError:  # the loop closed: nobody is reading any more
                pass

        if self._executor is not None:
            self._executor.submit(self._pump, hand_over)
        else:
            threading.Thread(target=self._pump, args=(hand_over,), name="thread-relay", daemon=True).start()
        try:
            while True:
                kind, item = await queue.get()
                if kind == _END:
                    return
                if kind == _ERROR:
                    raise item
                self.taken += 1
                yield item
        finally:
            self.stopped.set()
            if self._on_stop is not None:
                self._on_stop()


def iterate_in_thread(make_iterable: Callable[[], Iterable[Any]]) -> AsyncIterator[Any]:
    """Call ``make_iterable()`` on a thread and yield its items on the event loop:
    ``async for event in iterate_in_thread(lambda: client.converse_stream(**request)["stream"])``."""
    return ThreadRelay(make_iterable).__aiter__()
