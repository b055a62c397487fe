"""The call path every network provider shares, written once, worn as two decorators.

A provider writes its own ``chat`` and ``chat_stream`` -- one attempt each, in its protocol,
raising typed workbook errors (``workbook.ai.errormap``) -- and decorates them::

    @answer_call
    async def chat(self, messages, *, max_tokens, temperature, schema=None) -> Answer: ...

    @stream_call
    async def chat_stream(self, messages, *, max_tokens, temperature):
        ...  # yields text pieces; yields StreamInfo(finish_reason=...) at the protocol's end marker

The decorators give them the public signatures of ``AIProvider`` and do the rest:
validation before any I/O, ``response_format`` (``schema``: the ``OutputSchema`` the provider
puts in its protocol's own field), retries (429, 5xx, connection failures) honouring
``Retry-After``, timing, and the deadline. ``AI__TIMEOUT_S`` bounds a whole ``chat``
(retries and waits included) and, for a stream, the time to the first piece (retries
included) and every gap after it; a whole stream ends within ``AI__TIMEOUT_S + max_tokens x
1 s`` (``_bounds.stream_deadline_s``), so a server that drips one piece per gap cannot hold
it for hours. A stream running far past ``max_tokens`` is stopped as the server's fault.
Once the end marker arrived the answer is whole: what follows (usage, ``[DONE]``) is read
for ``_bounds.AFTER_END_S`` at most, its text ignored, a failure in it harmless. SDK clients
are bound to an event loop, so a provider used under a new loop (a script's second
``asyncio.run``) gets a new client (``_renew_client``).

A student's provider needs none of this: any class with ``chat`` and ``chat_stream`` works.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from dataclasses import dataclass
from typing import AsyncIterator

from .. import errors
from ..settings import AISettings
from ..structured import OutputSchema, provider_schema, refuse_unless_strict
from ..types import ChatResponse, ChatStream, Message, Usage, validate_request
from ._bounds import AFTER_END_S, SLOWEST_TOKEN_S, stream_deadline_s
from ._closing import Closeable

_MAX_BACKOFF_S = 8.0


def runaway_limit(max_tokens: int) -> int:
    """How many pieces a stream may send for ``max_tokens``: a piece is at least a token,
    so four times as many (plus slack for empty keep-alive pieces) is a server ignoring it."""
    return 4 * max_tokens + 64


@dataclass
class Answer:
    """What one successful non-streaming attempt returned."""

    content: str
    model: str | None = None
    usage: Usage = Usage()
    finish_reason: str | None = None


@dataclass(frozen=True)
class StreamInfo:
    """What a stream reports besides text; one with a ``finish_reason`` is its end marker."""

    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None


def retryable(error: errors.ProviderError) -> bool:
    """Worth sending again: throttled, or the server failed or could not be reached."""
    return (isinstance(error, (errors.RateLimitError, errors.ProviderUnavailableError))
            and not getattr(error, "final", False))


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(0.5 * 2 ** (attempt - 1), _MAX_BACKOFF_S) * (0.5 + random.random() / 2)


def _requests(count: int) -> str:
    return f"{count} request{'s' if count != 1 else ''} sent"


def _retries_out_of_time(failed: errors.ProviderError) -> str:
    """The hint when retrying ``failed`` ran out of AI__TIMEOUT_S: the failure is the news and its
    hint (is the server running?) what the reader acts on, whichever way the clock ran out."""
    return f"{failed.hint} (Retries ran out of time: or raise AI__TIMEOUT_S.)"


def answer_call(attempt):
    """``chat`` from one attempt at an answer (see the module's docstring)."""

    @functools.wraps(attempt)
    async def chat(self, messages: list[Message], *, max_tokens: int | None = None,
                   temperature: float | None = None, response_format=None) -> ChatResponse:
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)
        schema = provider_schema(response_format, self.name, self._check_schema)
        await self._bind_loop()
        started = time.perf_counter()
        timeout_s = self.settings.timeout_s
        deadline = time.monotonic() + timeout_s
        sent, failed = 0, None
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    sent += 1
                    try:
                        answer = await attempt(self, messages, max_tokens=max_tokens,
                                               temperature=temperature, schema=schema)
                        break
                    except errors.ProviderError as error:
                        failed = error
                        await self._before_retry(error, sent, deadline)
        except TimeoutError:
            raise self._out_of_time(f"no complete answer from {self._where()}", sent, failed) from None
        parsed = (schema.parse(answer.content, provider=self.name, finish_reason=answer.finish_reason)
                  if schema is not None else None)
        return ChatResponse(
            content=answer.content, model=answer.model or self.model, provider=self.name,
            usage=answer.usage, finish_reason=answer.finish_reason,
            latency_s=time.perf_counter() - started, parsed=parsed)

    del chat.__wrapped__  # its signature is the public one, not the attempt's
    return chat


def stream_call(attempt):
    """``chat_stream`` from one attempt at a stream (see the module's docstring)."""

    @functools.wraps(attempt)
    def chat_stream(self, messages: list[Message], *, max_tokens: int | None = None,
                    temperature: float | None = None) -> AsyncIterator[str]:
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)
        return ChatStream(lambda stream: self._guarded_stream(
            stream, lambda: attempt(self, messages, max_tokens=max_tokens, temperature=temperature),
            max_tokens), provider=self.name)

    del chat_stream.__wrapped__  # its signature is the public one, not the attempt's
    return chat_stream


class RemoteProvider(Closeable):
    name: str = "remote"
    settings: AISettings
    model: str
    _loop: asyncio.AbstractEventLoop | None = None

    async def _renew_client(self) -> None:
        """Replace the SDK client, whose connections belong to an event loop now closed."""

    def _where(self) -> str:
        return self.name

    def _check_schema(self, schema: OutputSchema) -> None:
        """Refuse, before sending, a schema a service enforcing strict mode would refuse."""
        if getattr(self, "strict_schema", False):  # OpenAI and Azure OpenAI: see providers/openai.py
            refuse_unless_strict(schema, self.name)

    async def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and self._loop.is_closed():
                await self._renew_client()
            self._loop = loop

    def _stalled(self, pieces: int) -> errors.IncompleteResponseError:
        """A stream that went quiet for AI__TIMEOUT_S mid-answer. Two clocks can notice it -- the
        gap deadline here and the client's own read timeout, set to the same AI__TIMEOUT_S -- and a
        busy machine decides which fires first: both give this one error."""
        return errors.IncompleteResponseError(
            f"{self._where()} sent nothing for AI__TIMEOUT_S={self.settings.timeout_s:g} s after "
            f"{pieces} pieces: the answer is incomplete",
            provider=self.name, hint="The server stalled mid-answer; retry, or raise AI__TIMEOUT_S.")

    def _out_of_time(self, what: str, sent: int, failed: errors.ProviderError | None) -> errors.ProviderError:
        """AI__TIMEOUT_S ran out during attempt ``sent``; ``failed`` is the earlier attempt's
        error, if one failed and was being retried: that failure is the news, not the clock."""
        message = f"{what} within {self.settings.timeout_s:g} s (AI__TIMEOUT_S; {_requests(sent)})"
        hint = "Raise AI__TIMEOUT_S, or check that the server is not overloaded or stuck."
        if failed is not None:
            message = f"{message}; the attempt before failed: {failed.message}"
            hint = _retries_out_of_time(failed)
        return errors.ProviderUnavailableError(message, provider=self.name, hint=hint)

    async def _before_retry(self, error: errors.ProviderError, sent: int, deadline: float) -> None:
        """Wait before attempt ``sent + 1``, or raise ``error`` saying why not."""
        if not retryable(error) or sent > self.settings.max_retries:
            if retryable(error):
                _amend(error, f"({_requests(sent)}; AI__MAX_RETRIES={self.settings.max_retries})")
            raise error
        retry_after = getattr(error, "retry_after", None)
        wait = _backoff(sent, retry_after)
        left = deadline - time.monotonic()
        if wait >= left and retry_after is None:  # our own back-off would run past the deadline
            _amend(error, f"({_requests(sent)}; no time left of AI__TIMEOUT_S={self.settings.timeout_s:g} "
                          "for another attempt)")
            error.hint = _retries_out_of_time(error)
            raise error
        if wait >= left:
            _amend(error, f"({_requests(sent)}; the server asked to wait {wait:g} s, more than the "
                          f"{max(left, 0):.1f} s left of AI__TIMEOUT_S={self.settings.timeout_s:g})")
            error.hint = f"Set AI__TIMEOUT_S above {wait:g} s so the retry can wait, or call again in {wait:g} s."
            raise error
        await asyncio.sleep(wait)

    async def _guarded_stream(self, stream: ChatStream, open_attempt, max_tokens: int) -> AsyncIterator[str]:
        await self._bind_loop()
        timeout_s = self.settings.timeout_s
        deadline = time.monotonic() + timeout_s
        whole_s = stream_deadline_s(timeout_s, max_tokens)
        stream_end = deadline - timeout_s + whole_s
        sent, failed = 0, None
        pieces = None
        try:
            # Open the stream and wait for its first piece, retrying as chat does.
            while True:
                sent += 1
                pieces = open_attempt()
                try:
                    async with asyncio.timeout_at(_loop_time(deadline)):
                        first = await _next_text(pieces, stream)
                    break
                except StopAsyncIteration:
                    return  # a complete, empty answer
                except TimeoutError:
                    raise self._out_of_time(f"no answer from {self._where()} began", sent, failed) from None
                except errors.ProviderError as error:
                    failed = error
                    await pieces.aclose()
                    await self._before_retry(error, sent, deadline)
            if first is None:  # the end marker came before any text
                await _read_after_end(pieces, stream)
                return
            yield first
            count, limit = 1, runaway_limit(max_tokens)
            while True:
                # Each gap is bounded by AI__TIMEOUT_S, the whole stream by stream_end.
                gap_s = min(timeout_s, stream_end - time.monotonic())
                try:
                    async with asyncio.timeout(max(gap_s, 0.0)):
                        piece = await _next_text(pieces, stream)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    if gap_s < timeout_s:
                        raise errors.IncompleteResponseError(
                            f"{self._where()} was still streaming after {whole_s:g} s, the most a stream "
                            f"of max_tokens={max_tokens} may take (AI__TIMEOUT_S={timeout_s:g} s + "
                            f"{SLOWEST_TOKEN_S:g} s per token), {count} pieces in: the answer is incomplete",
                            provider=self.name,
                            hint="The server sends slower than one token a second; raise AI__TIMEOUT_S "
                                 "if it is only slow, else check the server.") from None
                    raise self._stalled(count) from None
                if piece is None:
                    await _read_after_end(pieces, stream)
                    return
                count += 1
                if count > limit:
                    raise errors.ProviderError(
                        f"{self._where()} kept streaming past max_tokens={max_tokens}: more than {limit} "
                        "pieces, so the server is ignoring the limit; the stream was stopped",
                        provider=self.name,
                        hint="The server misbehaves (it ignores max_tokens); check its version and settings.")
                yield piece
        finally:
            if pieces is not None:
                await pieces.aclose()


async def _next_text(pieces, stream: ChatStream) -> str | None:
    """The next text piece of ``pieces``, noting its ``StreamInfo`` on ``stream`` on the way;
    ``None`` once the end marker arrived."""
    while True:
        item = await pieces.__anext__()
        if isinstance(item, StreamInfo):
            _note(stream, item)
            if item.finish_reason is not None:
                return None
        elif item:
            return item


async def _read_after_end(pieces, stream: ChatStream) -> None:
    """After the end marker: read on (so the connection can be reused) for AFTER_END_S at
    most, keeping only what the stream reports (usage); text and failures no longer matter."""
    try:
        async with asyncio.timeout(AFTER_END_S):
            async for item in pieces:
                if isinstance(item, StreamInfo):
                    _note(stream, item, finish=False)
    except Exception:  # noqa: BLE001 - the answer was whole; what broke after it does not matter
        pass


def _note(stream: ChatStream, info: StreamInfo, *, finish: bool = True) -> None:
    if info.usage is not None:
        stream.usage = info.usage
    if info.model:
        stream.model = info.model
    if finish and info.finish_reason is not None:
        stream.finish_reason = info.finish_reason


def reported_text(value) -> str | None:
    """A name the server reported (model, finish reason), or ``None`` if it is not text."""
    return value if isinstance(value, str) and value else None


def reported_count(value) -> int | None:
    """A token count as reported, or ``None`` where the value is missing or not a count."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _loop_time(deadline: float) -> float:
    """A ``time.monotonic`` deadline on the running loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())


def _amend(error: errors.ProviderError, note: str) -> None:
    error.message = f"{error.message} {note}"
    error.args = (error.message,)
