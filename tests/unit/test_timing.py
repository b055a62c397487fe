"""workbook.timing: the one way compare, the widgets and the doctor time a streamed reply."""

from __future__ import annotations

import asyncio
import math

import pytest

from workbook.ai import AISettings, Message, Usage
from workbook.ai.errors import RateLimitError
from workbook.ai.providers.mock import MockProvider
from workbook.compare import Case
from workbook.compare.runner import measure_call
from workbook.timing import decode_rate, estimate_tokens, open_stream, reported_or_estimated, time_reply
from workbook.widgets import ChatPanel

HELLO = [Message("user", "hello")]


class Pieces:
    """A student's provider: a plain async generator, no usage, maybe an empty piece."""

    def __init__(self, *pieces, fail_after: int | None = None):
        self.pieces, self.fail_after = pieces, fail_after

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        for index, piece in enumerate(self.pieces):
            if index == self.fail_after:
                raise RateLimitError("429", provider="pieces")
            await asyncio.sleep(0.005)
            yield piece


class ReturnsIterator:
    """``async def chat_stream`` that returns an async iterator instead of yielding."""

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        return Pieces("a", "b").chat_stream(messages)


class ReturnsText:
    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        return "the whole answer"


class SyncGenerator:
    def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        yield "no"


async def test_an_async_def_returning_an_iterator_is_awaited_once():
    reply = await time_reply(ReturnsIterator(), HELLO, max_tokens=8, temperature=0.0)
    assert reply.error is None and reply.text == "ab" and reply.chunks == 2


@pytest.mark.parametrize("provider, says", [
    (ReturnsText(), "chat_stream is an `async def` that returned str, not an async iterator"),
    (SyncGenerator(), "chat_stream returned generator, not an async iterator"),
])
async def test_something_that_is_not_an_async_iterator_is_a_clear_type_error(provider, says):
    with pytest.raises(TypeError, match="`yield` each piece") as caught:
        await open_stream(provider, HELLO, max_tokens=8, temperature=0.0)
    assert says in str(caught.value)
    reply = await time_reply(provider, HELLO, max_tokens=8, temperature=0.0)
    assert isinstance(reply.error, TypeError) and reply.chunks == 0


async def test_the_first_non_empty_piece_is_the_first_token():
    seen = []
    reply = await time_reply(Pieces("", "one", "", " two"), HELLO, max_tokens=8, temperature=0.0,
                             on_piece=lambda r: seen.append(r.text))
    assert seen == ["one", "one two"]  # live, once per non-empty piece
    assert reply.chunks == 2 and reply.first_chunk_at == reply.chunk_times[0]
    assert 0.009 < reply.ttft_s < reply.latency_s  # two sleeps before "one"
    assert reply.output_tokens() == (2, True)  # 7 characters, estimated


async def test_an_error_is_handed_back_with_what_arrived_before_it():
    reply = await time_reply(Pieces("one", " two", " three", fail_after=2), HELLO,
                             max_tokens=8, temperature=0.0)
    assert isinstance(reply.error, RateLimitError) and reply.text == "one two"
    assert reply.latency_s > 0 and reply.reported_usage() == (None, None)


async def test_a_timeout_is_an_error_not_an_exception():
    slow = MockProvider(AISettings(provider="mock", mock_ttft_s=5.0))
    reply = await time_reply(slow, HELLO, max_tokens=8, temperature=0.0, timeout_s=0.05)
    assert isinstance(reply.error, TimeoutError) and reply.ttft_s is None
    assert reply.latency_s < slow.pace.ttft_s  # cut off before the first token was even due


async def test_reported_usage_wins_over_the_estimate():
    mock = MockProvider(AISettings(provider="mock", mock_ttft_s=0.0, mock_tokens_per_s=10_000))
    reply = await time_reply(mock, HELLO, max_tokens=6, temperature=0.0)
    assert reply.error is None and reply.output_tokens() == (6, False)
    assert isinstance(reply.stream.usage, Usage) and reply.finish_reason == "length"


def test_reported_or_estimated():
    assert reported_or_estimated(7, "abcd") == (7, False)
    assert reported_or_estimated(None, "abcdefgh") == (2, True)
    assert reported_or_estimated(0, "abcdefgh") == (2, True)  # 0 beside text: not a count
    assert reported_or_estimated(0, "") == (0, False)


def test_decode_rate_takes_any_two_readings_of_one_clock():
    assert decode_rate(11, 100.2, 100.7) == pytest.approx(20.0)
    assert math.isnan(decode_rate(11, None, 100.7))


async def test_compare_and_the_chat_panel_estimate_the_same_reply_alike():
    words = ("Paris", " is", " the", " capital", " of", " France", ".")
    text = "".join(words)
    record = await measure_call(Pieces(*words), Case("Capital of France?", "contains", "Paris"),
                                label="student")
    state = await ChatPanel(Pieces(*words)).send("Capital of France?")
    assert record.answer == state.text == text
    assert record.output_tokens == state.tokens == estimate_tokens(text)
    assert record.tokens_estimated and state.tokens_estimated


class EndlessStream:
    """A stream that keeps producing until it is closed, and records that it was."""

    def __init__(self, close_takes_s: float = 0.0):
        self.pieces, self.close_takes_s = 0, close_takes_s
        self.closed = asyncio.Event()

    def __aiter__(self):
        return self

    async def __anext__(self):
        await asyncio.sleep(0.005)
        self.pieces += 1
        return "tok "

    async def aclose(self):
        await asyncio.sleep(self.close_takes_s)  # a close that awaits, as an HTTP response's does
        self.closed.set()


class Endless:
    def __init__(self, close_takes_s: float = 0.0):
        self.stream = EndlessStream(close_takes_s)

    def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        return self.stream


async def test_a_cancelled_reply_still_closes_its_stream_and_stays_cancelled():
    # An interrupted widget task is cancelled mid-stream: the stream must be closed (the
    # `local` model stops generating), and the cancellation must not be swallowed.
    provider = Endless()
    task = asyncio.create_task(time_reply(provider, HELLO, max_tokens=8, temperature=0.0))
    while provider.stream.pieces < 3:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert provider.stream.closed.is_set()


async def test_cancelling_again_while_the_stream_closes_lets_the_close_finish():
    provider = Endless(close_takes_s=0.05)
    task = asyncio.create_task(time_reply(provider, HELLO, max_tokens=8, temperature=0.0))
    while provider.stream.pieces < 1:
        await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.sleep(0.01)  # now inside the close
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(provider.stream.closed.wait(), 1.0)


class PausesBeforeTheEnd(Pieces):
    """Every piece at once, then a pause before the stream ends (a server sending usage)."""

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        async for piece in super().chat_stream(messages):
            yield piece
        await asyncio.sleep(0.3)


async def test_the_chat_panel_and_compare_define_tokens_per_s_alike():
    # timing.py's one definition: first token to the END of the stream. Measured to the
    # last chunk instead, the panel's rate would skip the 0.3 s pause and be several times higher.
    words = ("Paris", " is", " the", " capital", " of", " France", ".") * 4
    state = await ChatPanel(PausesBeforeTheEnd(*words)).send("Capital of France?")
    record = await measure_call(PausesBeforeTheEnd(*words), Case("Capital of France?", "contains", "Paris"),
                                label="student")
    assert state.tokens_per_s == pytest.approx(decode_rate(state.tokens, state.ttft_s, state.latency_s))
    assert record.tokens_per_s == pytest.approx(
        decode_rate(record.output_tokens, record.ttft_s, record.latency_s))
    assert state.latency_s - (state.last_chunk_at - state.started_at) > 0.25  # the pause counted
