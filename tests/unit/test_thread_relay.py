"""``workbook.aio.ThreadRelay``: the one bridge from a blocking iterator on a thread to the
event loop (Bedrock's event stream, llama.cpp's tokens, the exercises' iterate_in_thread)."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from workbook.aio import ThreadRelay


async def test_items_arrive_in_order_and_a_generators_return_value_is_kept():
    def counted():
        for n in range(3):
            yield n
        return "done"

    relay = ThreadRelay(counted)
    assert [item async for item in relay] == [0, 1, 2]
    assert relay.result == "done" and relay.backlog == 0


async def test_backlog_counts_items_handed_over_and_not_read_yet():
    relay = ThreadRelay(lambda: iter(range(50)))
    reading = relay.__aiter__()
    assert await reading.__anext__() == 0
    for _ in range(200):  # the thread runs ahead of a reader that waits
        if relay.handed == 50:
            break
        await asyncio.sleep(0.01)
    assert relay.handed == 50 and relay.backlog == 49
    await reading.aclose()


async def test_a_consumer_that_leaves_stops_the_thread_and_calls_on_stop_once():
    stopped_calls, closed = [], threading.Event()

    def endless():
        try:
            while True:
                time.sleep(0.01)
                yield "more"
        finally:
            closed.set()

    with ThreadPoolExecutor(1) as pool:
        relay = ThreadRelay(endless, executor=pool, on_stop=lambda: stopped_calls.append(1))
        reading = relay.__aiter__()
        assert await reading.__anext__() == "more"
        await reading.aclose()
        assert relay.stopped.is_set() and stopped_calls == [1]
        assert await asyncio.to_thread(closed.wait, 5), "the thread never stopped reading"


async def test_a_generator_that_was_never_started_sends_nothing():
    started = threading.Event()

    def request():
        started.set()  # what would send a request
        yield "answer"

    relay = ThreadRelay(request)
    relay.stopped.set()  # the consumer left before the thread began
    assert [item async for item in relay] == []
    assert not started.is_set()
