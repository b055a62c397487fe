"""What the widgets share: running a coroutine without blocking the kernel, following a
stream timed by ``workbook.timing``, and turning an exception into a message and a hint."""

from __future__ import annotations

import asyncio
import html
import math
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ..ai.errors import ProviderError
from ..ai.types import Message
from ..course.backends import cut_note
from ..timing import CHARS_PER_TOKEN, TimedReply, time_reply


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
    finish_reason: str | None = None  # the stream's own, when it reported one: "length" = cut by max_tokens
    max_tokens: int | None = None     # what the request asked for: the figures above are read against it
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
        """The reply's figures in one line, each saying where it came from: a token count the
        provider reported, or an estimate from the text (and then what it cannot tell)."""
        if self.error is not None:
            return ""
        parts = []
        if self.ttft_s is not None:
            parts.append(f"first token {self.ttft_s * 1000:.0f} ms")
        if self.latency_s is not None:
            parts.append(f"total {self.latency_s:.2f} s")
        if self.tokens is not None and not self.tokens_estimated:
            parts.append(f"{self.tokens} tokens (reported)")
        elif self.tokens is not None:
            estimate = (f"~{self.tokens} tokens (estimated at ~{CHARS_PER_TOKEN} characters a token: "
                        "the provider reported no count")
            if self.max_tokens is not None and self.tokens > self.max_tokens:
                # A provider keeps to max_tokens in its own tokenizer's tokens; the rule of thumb overshoots.
                estimate += f"; above max_tokens={self.max_tokens}, so the estimate overshoots"
            parts.append(estimate + ")")
        if self.tokens_per_s is not None:
            parts.append(f"{'~' if self.tokens_estimated else ''}{self.tokens_per_s:.0f} tokens/s")
        if self.done and self.finish_reason is None:
            # A student's plain generator ends without one: a cut would then look like a whole answer.
            parts.append("no finish reason reported: a cut at max_tokens would not show")
        return " · ".join(parts)

    def shown_text(self) -> str:
        """The reply as a view shows it: the text, and ``cut_note`` when max_tokens cut it."""
        return self.text + cut_note(self.finish_reason)


async def stream_into(state: StreamTiming, provider, messages: list[Message], *, max_tokens: int,
                      temperature: float, on_piece: Callable[[], None] | None = None) -> StreamTiming:
    """Stream ``provider``'s reply into ``state``, timed by ``workbook.timing`` (the figures
    ``workbook.compare`` reports too); errors land in the state as message and hint."""
    state.reset()
    state.running, state.max_tokens = True, max_tokens

    def follow(reply: TimedReply) -> None:
        _copy_progress(state, reply)
        if on_piece is not None:
            on_piece()

    try:
        reply = await time_reply(provider, messages, max_tokens=max_tokens,
                                 temperature=temperature, on_piece=follow)
        _copy_progress(state, reply)
        state.latency_s = reply.latency_s
        if reply.error is not None:
            state.error, state.hint = explain(reply.error)
        else:
            state.tokens, state.tokens_estimated = reply.output_tokens()
            rate = reply.tokens_per_s()  # as workbook.compare reports it
            state.tokens_per_s = None if math.isnan(rate) else rate
            state.finish_reason = reply.finish_reason
    finally:
        state.running = False
        state.done = True
    return state


def _copy_progress(state: StreamTiming, reply: TimedReply) -> None:
    """What has arrived so far, for a view that redraws on every piece."""
    state.started_at = reply.started_at
    state.text, state.pieces, state.chunk_times = reply.text, reply.chunks, reply.chunk_times
    state.first_chunk_at, state.last_chunk_at = reply.first_chunk_at, reply.last_chunk_at
    state.ttft_s = reply.ttft_s


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


# -- the static view: what a widget shows, for a reader without a kernel ------------------------------
STATIC_NOTE = "A snapshot of the widget as the notebook ran: run the notebook in JupyterLab to use it."


def snapshot_html(widget) -> str:
    """The widget tree as plain HTML, as it looks right now: boxes, text, buttons, choices.

    JupyterLab draws the live widget; a page without a kernel (the course site, a notebook
    viewer) shows this instead, from the same output's ``text/html``.
    """
    import ipywidgets as w

    if isinstance(widget, w.Box):
        direction = "row" if isinstance(widget, w.HBox) else "column"
        inner = "".join(snapshot_html(child) for child in widget.children)
        return f"<div style='display:flex;flex-direction:{direction};gap:6px;flex-wrap:wrap'>{inner}</div>"
    if isinstance(widget, w.HTML):
        return f"<div>{widget.value}</div>"          # the workbook's own markup, already escaped
    if isinstance(widget, (w.Textarea, w.Text)):
        return f"<textarea readonly rows='2' style='width:100%'>{html.escape(widget.value)}</textarea>"
    if isinstance(widget, w.Button):
        return f"<button type='button' disabled>{html.escape(widget.description)}</button>"
    if isinstance(widget, (w.Dropdown, w.RadioButtons, w.Select)):
        label = f"{html.escape(widget.description)} " if widget.description else ""
        chosen = html.escape(str(widget.label)) if widget.label is not None else "(nothing chosen)"
        return f"<div>{label}<b>{chosen}</b> <small>({len(widget.options)} choices)</small></div>"
    if isinstance(widget, w.Label):
        return f"<span>{html.escape(widget.value)}</span>"
    if hasattr(widget, "value") and hasattr(widget, "description"):
        return f"<div>{html.escape(widget.description)} {html.escape(_value(widget.value))}</div>"
    return ""


def snapshot_text(widget) -> str:
    """The same snapshot as plain text, one line per box or control: what a reader that shows only
    text (a terminal, a diff, a notebook viewer without HTML) gets instead of the widget's repr."""
    import ipywidgets as w

    if isinstance(widget, w.Box):
        parts = [snapshot_text(child) for child in widget.children]
        return ("  ·  " if isinstance(widget, w.HBox) else "\n").join(part for part in parts if part)
    if isinstance(widget, w.HTML):
        return _html_to_text(widget.value)
    if isinstance(widget, (w.Textarea, w.Text)):
        return f"[{widget.value}]"
    if isinstance(widget, w.Button):
        return f"[{widget.description}]"
    if isinstance(widget, (w.Dropdown, w.RadioButtons, w.Select)):
        label = f"{widget.description}: " if widget.description else ""
        chosen = widget.label if widget.label is not None else "(nothing chosen)"
        return f"{label}{chosen} ({len(widget.options)} choices)"
    if isinstance(widget, w.Label):
        return widget.value
    if hasattr(widget, "value") and hasattr(widget, "description"):
        return f"{widget.description} {_value(widget.value)}"
    return ""


def _value(value) -> str:
    """A control's value as a reader writes it: 5,000,000 and 2, not 5000000.0 and 2.0."""
    return f"{value:,.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _html_to_text(markup: str) -> str:
    text = re.sub(r"</(p|div|tr|li|h\d)>|<br\s*/?>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _plain(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def static_bundle(widget, static_html: str | None = None, **kwargs) -> dict:
    """The widget's own output bundle plus a static view (default: its snapshot), as ``text/html``
    and as ``text/plain`` in place of the widget's repr."""
    bundle = widget._repr_mimebundle_(**kwargs)
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
    view = static_html if static_html is not None else snapshot_html(widget)
    data["text/html"] = (f"<div class='workbook-widget-static'>{view}"
                         f"<p><small><i>{html.escape(STATIC_NOTE)}</i></small></p></div>")
    text = _plain(snapshot_text(widget) if static_html is None else _html_to_text(static_html))
    data["text/plain"] = f"{text}\n({STATIC_NOTE})"
    return data


class StaticView:
    """A widget wrapper whose saved output keeps what it showed last, not what it showed first.

    It is displayed with a display id, and ``_record_view()`` (called when a reply has arrived or
    a choice was made) shows it again under that id: the notebook's saved ``text/html`` is then
    the snapshot after the work, which is what a reader without a kernel sees.
    """

    widget = None
    _display = None

    def _repr_mimebundle_(self, **kwargs):
        return static_bundle(self.widget, **kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        self._display = display(static_bundle(self.widget), raw=True, display_id=True)

    def _record_view(self) -> None:
        if self._display is not None:
            self._display.update(static_bundle(self.widget), raw=True)


def progress_lines() -> Callable[[str], None]:
    """A ``progress=`` callback for a notebook cell: messages accumulate in one output, except
    that an indented one ("  still starting (20 s)...") only stands until the next message --
    so a saved notebook keeps what happened, not every tick of a wait."""
    from IPython.display import display

    kept: list[str] = []
    handle = display({"text/plain": ""}, raw=True, display_id=True)

    def say(text: str) -> None:
        transient = text.startswith(" ")
        handle.update({"text/plain": "\n".join([*kept, text])}, raw=True)
        if not transient:
            kept.append(text)

    return say
