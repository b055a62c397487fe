"""``ChatPanel``: type a prompt, watch the reply stream in, see what it cost in time.

The Send button starts an asyncio task on the kernel's running loop and returns at
once: the kernel stays free while tokens arrive. ``await panel.send("...")`` does the
same from a cell (and from tests); ``panel.state`` holds what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as w

from ..course.backends import pace_note, provider_caption
from .picker import ProviderPicker
from ._common import StaticView, StreamTiming, as_messages, error_html, spawn, stats_html, stream_into, text_html


@dataclass
class ChatState(StreamTiming):
    prompt: str = ""
    provider: str = ""


class ChatPanel(StaticView):
    """A prompt box, a Send button, the streamed reply and its timings."""

    def __init__(self, provider_or_picker, *, max_tokens: int = 256, temperature: float = 0.7,
                 system: str | None = None, prompt: str = "What is a provider abstraction, in one sentence?"):
        self.source = provider_or_picker
        self.max_tokens, self.temperature, self.system = max_tokens, temperature, system
        self.state = ChatState()
        self.task = None
        self.prompt = w.Textarea(value=prompt, placeholder="Ask something…",
                                 layout=w.Layout(width="640px", height="70px"))
        self.button = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.reply = w.HTML(text_html("", height="3em"), layout=w.Layout(width="640px"))
        self.stats = w.HTML()
        self.button.on_click(lambda _: self.start(self.prompt.value))
        self.widget = w.VBox([self.prompt, self.button, self.reply, self.stats])

    @property
    def provider(self):
        """The provider to send to: a picker's current choice, or the one given."""
        if isinstance(self.source, ProviderPicker):
            return self.source.provider
        return self.source

    def start(self, prompt: str):
        """Send without waiting (the button does this); returns the asyncio task."""
        self.task = spawn(self.send(prompt))
        return self.task

    async def send(self, prompt: str) -> ChatState:
        provider = self.provider
        self.prompt.value = prompt          # sent from code too: the box shows what was asked
        self.button.disabled = True
        self.stats.value = stats_html("waiting for the first token…")
        try:
            if provider is None:
                self.state.reset()
                self.state.prompt, self.state.done = prompt, True
                self.state.error = "no provider chosen"
                self.state.hint = getattr(getattr(self.source, "status", None), "hint", "") or \
                    "Pick a provider in the picker above (or fix the error it shows)."
            else:
                await stream_into(self.state, provider, as_messages(prompt, self.system),
                                  max_tokens=self.max_tokens, temperature=self.temperature,
                                  on_piece=self._show)
                self.state.prompt = prompt
                self.state.provider = type(provider).__name__
        finally:
            self.button.disabled = False
        self._show()
        if self.state.error:
            self.reply.value = text_html(self.state.text) + error_html(self.state.error, self.state.hint)
            self.stats.value = ""
        else:
            self.reply.value = text_html(self.state.shown_text(), height="3em")
            # Every answer says where it came from, in the saved snapshot too, and a scripted reply's
            # figures say beside them that they time canned text.
            pace = pace_note(provider)
            self.stats.value = stats_html(f"answered by {_who(provider)} · {self.state.stats()}"
                                          + (f" ({pace})" if pace else ""))
        self._record_view()
        return self.state

    def _show(self) -> None:
        self.reply.value = text_html(self.state.text, height="3em")
        if self.state.ttft_s is not None and not self.state.done:
            self.stats.value = stats_html(f"streaming… (the answer began after {self.state.ttft_s * 1000:.0f} ms)")


def _who(provider) -> str:
    name = getattr(provider, "name", None) or type(provider).__name__
    model = getattr(provider, "model", None)
    caption = provider_caption(provider)  # a widget's answer stands alone in a snapshot: it says what it is
    return (f"{name} / {model}" if model else name) + (f" ({caption})" if caption else "")
