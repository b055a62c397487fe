"""What the widgets share: running a coroutine without blocking the kernel, timing a
stream, and turning an exception into a message and a hint."""

from __future__ import annotations

import asyncio
import html
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ..ai.errors import ProviderError
from ..ai.scripted import count_tokens
from ..ai.types import Message


def spawn(coroutine: Awaitable[Any]) -> "asyncio.Future[Any]":
    """Schedule ``coroutine`` on the running loop (the kernel's) and return at once.

    A widget callback must never block the kernel: the work runs as an asyncio task,
    while the cell (or the button click) returns immediately.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    task = loop.create_task(coroutine)  # type: ignore[arg-type]
    task.add_done_callback(_quiet)
    return task


def _quiet(task: "asyncio.Future[Any]") -> None:
    # The coroutines record their own errors in their state; never print "never retrieved".
    if not task.cancelled():
        task.exception()


def explain(error: BaseException) -> tuple[str, str]:
    """A one-line message and a hint for a student, never a traceback."""
    if isinstance(error, ProviderError):
        where = f"[{error.provider}] " if error.provider else ""
        return f"{type(error).__name__}: {where}{error.message}", error.hint
    if isinstance(error, NotImplementedError):
        return (f"NotImplementedError: {error}", "That method is not written yet: fill it in, "
                "then run its cell again.")
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "timed out", "The provider did not answer in time: is the server running?"
    text = str(error).split("\n")[0]
    return (f"{type(error).__name__}: {text}" if text else type(error).__name__,
            "An error outside the workbook's typed errors: a provider should map it to a "
            "ProviderError with a hint.")


def as_messages(prompt: str | list, system: str | None = None) -> list[Message]:
    if isinstance(prompt, str):
        messages = [Message("user", prompt)]
    else:
        messages = list(prompt)
    if system:
        messages.insert(0, Message("system", system))
    return messages


@dataclass
class StreamTiming:
    """What one streamed reply looked like, measured from the caller's side."""

    text: str = ""
    pieces: int = 0
    started_at: float | None = None  # time.perf_counter() values
    first_chunk_at: float | None = None
    last_chunk_at: float | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    tokens: int | None = None
    tokens_estimated: bool = False
    tokens_per_s: float | None = None
    error: str | None = None
    hint: str | None = None
    done: bool = False
    running: bool = False
    chunk_times: list[float] = field(default_factory=list, repr=False)

    def reset(self) -> None:
        fresh = type(self)()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    @property
    def ok(self) -> bool:
        return self.done and self.error is None

    def stats(self) -> str:
        if self.error is not None:
            return ""
        parts = []
        if self.ttft_s is not None:
            parts.append(f"first token {self.ttft_s * 1000:.0f} ms")
        if self.latency_s is not None:
            parts.append(f"total {self.latency_s:.2f} s")
        if self.tokens is not None:
            kind = "estimated" if self.tokens_estimated else "reported"
            parts.append(f"{self.tokens} tokens ({kind})")
        if self.tokens_per_s is not None:
            parts.append(f"{self.tokens_per_s:.0f} tokens/s")
        return " · ".join(parts)


async def stream_into(state: StreamTiming, provider, messages: list[Message], *, max_tokens: int,
                      temperature: float, on_piece: Callable[[], None] | None = None) -> StreamTiming:
    """Stream ``provider``'s reply into ``state``, timing it; errors land in the state."""
    state.reset()
    state.running = True
    state.started_at = time.perf_counter()
    stream = None
    try:
        stream = provider.chat_stream(messages, max_tokens=max_tokens, temperature=temperature)
        if asyncio.iscoroutine(stream):
            stream.close()
            raise TypeError("chat_stream returned a coroutine: make it an async generator "
                            "(`yield` each piece)")
        async for piece in stream:
            now = time.perf_counter()
            if state.first_chunk_at is None:
                state.first_chunk_at = now
                state.ttft_s = now - state.started_at
            state.last_chunk_at = now
            state.chunk_times.append(now)
            state.text += str(piece)
            state.pieces += 1
            if on_piece is not None:
                on_piece()
        state.latency_s = time.perf_counter() - state.started_at
        usage = getattr(stream, "usage", None)
        reported = getattr(usage, "output_tokens", None)
        if isinstance(reported, int) and reported > 0:
            state.tokens, state.tokens_estimated = reported, False
        else:
            state.tokens, state.tokens_estimated = count_tokens(state.text), True
        generating = (state.last_chunk_at or 0) - (state.first_chunk_at or 0)
        if state.tokens and state.tokens > 1 and generating > 0:
            state.tokens_per_s = (state.tokens - 1) / generating
    except Exception as error:  # shown as message + hint, never a traceback
        state.latency_s = time.perf_counter() - state.started_at
        state.error, state.hint = explain(error)
    finally:
        state.running = False
        state.done = True
    return state


def text_html(text: str, *, height: str | None = None) -> str:
    style = "white-space:pre-wrap;font-family:var(--jp-content-font-family,sans-serif);"
    if height:
        style += f"min-height:{height};"
    return f"<div style='{style}'>{html.escape(text)}</div>"


def error_html(message: str, hint: str | None) -> str:
    body = f"<b style='color:#cf222e'>{html.escape(message)}</b>"
    if hint:
        body += f"<br><i>Hint: {html.escape(hint)}</i>"
    return f"<div>{body}</div>"


def stats_html(text: str) -> str:
    return f"<small style='color:#57606a'>{html.escape(text)}</small>"
