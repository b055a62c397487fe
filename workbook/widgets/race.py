"""``Race``: one prompt to several providers at once, side by side.

Every column streams concurrently (one asyncio task each, on the kernel's loop); each
shows its text growing, then time to first token and tokens/s. ``race.state`` keeps the
first- and last-chunk times of every column: the evidence that they ran at the same time.
"""

from __future__ import annotations

import asyncio
import html
import time
from dataclasses import dataclass, field

import ipywidgets as w

from ..course.backends import pace_note, provider_caption
from ._common import StaticView, StreamTiming, as_messages, error_html, spawn, stats_html, stream_into, text_html


@dataclass
class RaceColumn(StreamTiming):
    label: str = ""


@dataclass
class RaceState:
    prompt: str = ""
    columns: dict[str, RaceColumn] = field(default_factory=dict)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def wall_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def overlapped(self) -> bool:
        """Were all columns in flight at the same time (every one started before any
        finished)? The proof that the race is concurrent, not one after another."""
        spans = [(c.started_at, c.started_at + c.latency_s) for c in self.columns.values()
                 if c.started_at is not None and c.latency_s is not None]
        if len(spans) < 2:
            return False
        return max(start for start, _ in spans) < min(end for _, end in spans)

    def summary(self):
        import pandas as pd

        return pd.DataFrame([{
            "provider": label, "ttft_s": c.ttft_s, "latency_s": c.latency_s, "tokens": c.tokens,
            "tokens_estimated": c.tokens_estimated, "tokens_per_s": c.tokens_per_s,
            "error": c.error} for label, c in self.columns.items()]).set_index("provider")


class Race(StaticView):
    """``Race({"mock": p1, "ollama": p2})``; ``await race.run("prompt")``."""

    def __init__(self, providers: dict, *, max_tokens: int = 128, temperature: float = 0.7,
                 system: str | None = None, prompt: str = "Explain time to first token in two sentences."):
        if not providers:
            raise ValueError("Race needs at least one provider: Race({'label': provider, ...})")
        self.providers = dict(providers)
        self.max_tokens, self.temperature, self.system = max_tokens, temperature, system
        self.state = RaceState(columns={label: RaceColumn(label=label) for label in self.providers})
        self.task = None
        self.prompt = w.Textarea(value=prompt, layout=w.Layout(width="100%", height="60px"))
        self.button = w.Button(description="Race", button_style="primary", icon="flag-checkered")
        self.button.on_click(lambda _: self.start(self.prompt.value))
        self._text, self._stats = {}, {}
        columns = []
        width = f"{max(20, 100 // len(self.providers) - 1)}%"
        for label in self.providers:
            self._text[label] = w.HTML(text_html("", height="6em"))
            self._stats[label] = w.HTML()
            columns.append(w.VBox([w.HTML(f"<b>{html.escape(label)}</b>"), self._text[label],
                                   self._stats[label]],
                                  layout=w.Layout(width=width, border="1px solid #d0d7de",
                                                  padding="4px")))
        self.columns = w.HBox(columns)
        self.widget = w.VBox([self.prompt, self.button, self.columns])

    def start(self, prompt: str):
        self.task = spawn(self.run(prompt))
        return self.task

    async def run(self, prompt: str) -> dict[str, RaceColumn]:
        """Stream ``prompt`` to every provider at once; returns each column's result."""
        self.button.disabled = True
        self.prompt.value = prompt          # run from code too: the box shows what was asked
        self.state.prompt = prompt
        self.state.started_at, self.state.finished_at = time.perf_counter(), None
        messages = as_messages(prompt, self.system)
        try:
            await asyncio.gather(*(self._one(label, provider, messages)
                                   for label, provider in self.providers.items()))
        finally:
            self.state.finished_at = time.perf_counter()
            self.button.disabled = False
            self._record_view()
        return dict(self.state.columns)

    async def _one(self, label: str, provider, messages) -> None:
        column = self.state.columns[label]
        self._stats[label].value = stats_html("waiting…")

        def show():
            text = column.shown_text() if column.done else column.text
            self._text[label].value = text_html(text, height="6em")

        await stream_into(column, provider, messages, max_tokens=self.max_tokens,
                          temperature=self.temperature, on_piece=show)
        column.label = label
        show()
        if column.error:
            self._stats[label].value = error_html(column.error, column.hint)
        else:
            caption = provider_caption(provider)  # the answer above says what it is, in a snapshot too
            pace = pace_note(provider)   # and a scripted reply's figures, that they time canned text
            self._stats[label].value = stats_html(column.stats() + (f" ({pace})" if pace else "")
                                                  + (f" · {caption}" if caption else ""))
