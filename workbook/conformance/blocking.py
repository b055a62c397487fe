"""``iterate_in_thread``: a blocking iterator (boto3's event stream) consumed with ``async for``.

Exercise 10's Bedrock provider reads ConverseStream, whose events arrive from a blocking
iterator. Reading it on the event loop would stop every other call, so a worker thread
reads it and hands each item to the loop. This plumbing is not what the exercise teaches,
so the package provides it: the student writes ``async for event in iterate_in_thread(...)``.

An exception raised while reading reaches the consumer as it was raised. A consumer that
stops early (``break``, an error, a cancelled task) tells the thread to stop after the item
it is reading, and the iterator is closed if it can be.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Callable, Iterable

_END = object()


async def iterate_in_thread(make_iterable: Callable[[], Iterable[Any]]) -> AsyncIterator[Any]:
    """Call ``make_iterable()`` on a thread and yield its items on the event loop.

    ``make_iterable`` runs on the thread too, so a blocking request (``converse_stream``)
    does not block the loop either: ``iterate_in_thread(lambda: client.converse_stream(
    **request)["stream"])``.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def hand_over(item: Any) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            iterable = make_iterable()
            try:
                for item in iterable:
                    if stop.is_set():
                        break
                    hand_over(item)
            finally:
                close = getattr(iterable, "close", None)
                if callable(close):
                    close()
            hand_over(_END)
        except BaseException as error:  # raised again in the consumer, on the loop
            hand_over(error)

    threading.Thread(target=pump, name="iterate-in-thread", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


__all__ = ["iterate_in_thread"]
