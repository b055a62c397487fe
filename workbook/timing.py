"""Timing one streamed reply: the one mechanism the comparison, the widgets and the doctor share.

A student meets the same reply in several tools (``workbook.compare``, the chat panel and
the race, ``python -m workbook doctor``); they should see the same figures for it, so the
figures are defined once, here:

* The clock is ``time.perf_counter``. It starts just before ``chat_stream`` is called, so a
  provider's own validation and connection set-up count.
* Time to first token: to the first *non-empty* piece (an empty piece carries no token).
* Latency: to the end of the stream.
* Tokens: what the provider reported (a ``ChatStream``'s ``.usage``, set once the stream is
  exhausted); where it reported nothing -- a student's plain async generator, a server that
  omits stream usage -- an estimate of ~4 characters per token, flagged as estimated.
* Decode rate (tokens/s): ``(tokens - 1) / (latency - TTFT)``, from the first token to the
  end of the stream -- the first token's time is already TTFT; the other ``n - 1`` arrive
  after it. ``TimedReply.tokens_per_s`` computes it for the widgets and the comparison alike.

What an error *means* is each caller's business (compare records it, a widget shows a
hint, the doctor reports a row), so ``time_reply`` never raises for one: it hands back the
exception beside what arrived before it.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from .aio import aclose_quietly

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About 4 characters per token: the usual rule of thumb for English BPE tokenizers.

    Characters rather than words, because a tokenizer splits long and rare words into
    several tokens, and punctuation and code into many."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def reported_or_estimated(reported: int | None, text: str) -> tuple[int, bool]:
    """``(tokens, estimated)``: the provider's count for ``text`` if it gave one, else the
    estimate. A reported 0 beside text that did arrive cannot be right, so it is estimated
    too."""
    if reported is not None and (reported > 0 or not text):
        return int(reported), False
    return estimate_tokens(text), True


def decode_rate(output_tokens: float | None, ttft_s: float | None,
                latency_s: float | None) -> float:
    """Output tokens per second after the first token: ``(n - 1) / (latency - ttft)``.

    ``1 / TPOT`` in vLLM's terms. Any two readings of one clock bound the decoding span:
    the call's TTFT and latency, or the first and last chunk's ``perf_counter``. ``NaN``
    when the reply has fewer than two tokens or the span is unknown or empty.
    """
    if output_tokens is None or output_tokens < 2:
        return math.nan
    if any(v is None or not math.isfinite(v) for v in (ttft_s, latency_s)):
        return math.nan
    decode_s = latency_s - ttft_s
    if decode_s <= 0:
        return math.nan
    return (output_tokens - 1) / decode_s


async def open_stream(provider: Any, messages, *, max_tokens: int,
                      temperature: float) -> AsyncIterator[str]:
    """``provider.chat_stream(...)`` as an async iterator of text pieces.

    A student's ``async def chat_stream`` that *returns* an iterator (instead of yielding)
    needs one await; anything that is not an async iterator in the end is a TypeError that
    says what came back, rather than a puzzling failure inside ``async for``.
    """
    stream = provider.chat_stream(messages, max_tokens=max_tokens, temperature=temperature)
    awaited = inspect.isawaitable(stream) and not hasattr(stream, "__aiter__")
    if awaited:
        stream = await stream
    if not hasattr(stream, "__aiter__"):
        how = "is an `async def` that returned" if awaited else "returned"
        raise TypeError(f"chat_stream {how} {type(stream).__name__}, not an async iterator "
                        "of str: make it an async generator (`yield` each piece)")
    return stream


@dataclass
class TimedReply:
    """One streamed reply as the caller saw it: its text, and ``perf_counter`` readings."""

    started_at: float
    text: str = ""
    chunk_times: list[float] = field(default_factory=list, repr=False)  # one per piece
    finished_at: float | None = None
    stream: Any = field(default=None, repr=False)
    error: Exception | None = None

    @property
    def chunks(self) -> int:
        return len(self.chunk_times)

    @property
    def first_chunk_at(self) -> float | None:
        return self.chunk_times[0] if self.chunk_times else None

    @property
    def last_chunk_at(self) -> float | None:
        return self.chunk_times[-1] if self.chunk_times else None

    @property
    def ttft_s(self) -> float | None:
        """``None`` until a non-empty piece has arrived (and for good, if none did)."""
        return self.chunk_times[0] - self.started_at if self.chunk_times else None

    @property
    def latency_s(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at

    def reported_usage(self) -> tuple[int | None, int | None]:
        """``(input_tokens, output_tokens)`` the provider reported; ``None`` for each it did
        not. A stream that broke off reported nothing to rely on."""
        usage = getattr(self.stream, "usage", None) if self.error is None else None
        if usage is None:
            return None, None
        return getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)

    def output_tokens(self) -> tuple[int, bool]:
        """``(tokens, estimated)`` for the reply's text."""
        return reported_or_estimated(self.reported_usage()[1], self.text)

    def tokens_per_s(self) -> float:
        """The decode rate, as every tool shows it: ``decode_rate`` of the output tokens
        over first token to the end of the stream. ``NaN`` for a failed reply."""
        if self.error is not None or self.ttft_s is None:
            return math.nan
        return decode_rate(self.output_tokens()[0], self.ttft_s, self.latency_s)

    @property
    def finish_reason(self) -> str | None:
        return getattr(self.stream, "finish_reason", None) if self.error is None else None


async def time_reply(provider: Any, messages, *, max_tokens: int, temperature: float,
                     timeout_s: float | None = None,
                     on_piece: Callable[[TimedReply], None] | None = None) -> TimedReply:
    """Stream ``provider``'s reply to the end, timing it.

    ``on_piece(reply)`` runs after each non-empty piece is recorded, so a view can follow
    the reply live. An exception from the provider (or from ``on_piece``), or running out
    of ``timeout_s``, ends the reply with ``reply.error`` set instead of raising;
    cancellation still propagates. The stream is closed afterwards in every case --
    cancelled or interrupted too -- so an abandoned HTTP response is released and an
    in-process model stops generating.
    """
    reply = TimedReply(started_at=time.perf_counter())
    try:
        async with asyncio.timeout(timeout_s):
            reply.stream = await open_stream(provider, messages, max_tokens=max_tokens,
                                             temperature=temperature)
            async for piece in reply.stream:
                if piece:
                    reply.chunk_times.append(time.perf_counter())
                    reply.text += piece if isinstance(piece, str) else str(piece)
                    if on_piece is not None:
                        on_piece(reply)
    except Exception as error:  # noqa: BLE001 -- what it means is the caller's to say
        reply.error = error
    finally:
        # In a `finally`, not after the `except`: a cancelled task (an interrupted widget)
        # raises CancelledError, which is no Exception, and its stream must close too.
        reply.finished_at = time.perf_counter()
        await _close(reply.stream)
    return reply


_closing: set[asyncio.Task] = set()  # closes under way; the loop keeps only weak references


async def _close(stream: Any) -> None:
    """Close ``stream`` if it can be closed; shielded, so a second cancellation arriving
    while it closes still propagates but leaves the close to finish."""
    if stream is None or not hasattr(stream, "aclose"):
        return
    closing = asyncio.ensure_future(aclose_quietly(stream))
    _closing.add(closing)
    closing.add_done_callback(_closing.discard)
    await asyncio.shield(closing)


__all__ = ["CHARS_PER_TOKEN", "TimedReply", "decode_rate", "estimate_tokens", "open_stream",
           "reported_or_estimated", "time_reply"]
