"""The deterministic responder shared by the ``mock`` provider and the emulator.

A reply is derived from the prompt alone (same prompt, same reply) and from who sends it
(``source``: ``"mock"`` or ``"emulator"``), split into word tokens, and paced by a latency model:
the first token after ``ttft_s``, then one token every ``1 / tokens_per_s`` seconds after the
first actually went out, on an absolute schedule so that measured rates match.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass
from typing import AsyncIterator, Iterable

_TOKEN = re.compile(r"\s*\S+")

# Each sender's own words: a notebook shows the mock's and the emulator's answers side by side, and
# a student must be able to tell them apart by the text alone, not only by the caption above it.
# No apostrophe or double quote in them: notebooks print some replies with repr() or as JSON,
# which would show them escaped.
_VOICES = {
    "mock": ("Scripted reply from the mock to", (
        "A scripted backend answers each prompt identically, which makes tests repeatable.",
        "Set AI__PROVIDER to a configured real service (in a notebook, BACKEND live) and the same code gets a real answer.",
        "Its pace (first token, tokens per second) is set by a scripted latency model, not measured.",
        "No server took part: the mock answered inside this Python process.",
    )),
    "emulator": ("Scripted reply from the emulator to", (
        "A scripted backend answers each prompt identically, which makes tests repeatable.",
        "Point the provider at a real service and the same code gets a real answer.",
        "Its pace (first token, tokens per second) is set by a scripted latency model, not measured.",
        "It came over HTTP, in the wire format of the protocol that asked.",
    )),
}
SOURCES = tuple(_VOICES)


def tokenize(text: str) -> list[str]:
    """Word tokens that keep their leading whitespace: ``"".join(tokenize(t)) == t.strip()``."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def scripted_reply(messages: Iterable, *, source: str) -> str:
    """A deterministic reply to the last user message (``Message`` objects or dicts), in the words
    of ``source``: ``"mock"`` or ``"emulator"``."""
    try:
        opening, sentences = _VOICES[source]
    except KeyError:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}") from None
    items = list(messages)
    last_user = ""
    for message in reversed(items):
        role = message["role"] if isinstance(message, dict) else message.role
        if role == "user":
            last_user = message["content"] if isinstance(message, dict) else message.content
            break
    digest = hashlib.sha256(
        "\x1e".join(
            (m["content"] if isinstance(m, dict) else m.content) for m in items
        ).encode()
    ).digest()
    asked = " ".join(last_user.split()[:12]) or "(nothing)"
    first, second = sentences[digest[0] % 4], sentences[digest[1] % 4]
    tail = second if second != first else sentences[(digest[1] + 1) % 4]
    return f'{opening} "{asked}". {first} {tail}'


def count_input_tokens(messages: Iterable) -> int:
    return sum(
        count_tokens(m["content"] if isinstance(m, dict) else m.content) + 1 for m in messages
    )


@dataclass(frozen=True)
class Pace:
    """The latency model: time to first token and steady tokens per second."""

    ttft_s: float = 0.05
    tokens_per_s: float = 200.0


@dataclass(frozen=True)
class ScriptedAnswer:
    tokens: list[str]
    finish_reason: str  # "stop", or "length" when max_tokens cut it
    input_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def output_tokens(self) -> int:
        return len(self.tokens)


def scripted_answer(messages: Iterable, max_tokens: int, reply: str | None = None, *,
                    source: str) -> ScriptedAnswer:
    """``reply`` (or ``source``'s scripted reply) cut to ``max_tokens``, with its counts."""
    items = list(messages)
    tokens = tokenize(reply if reply is not None else scripted_reply(items, source=source))
    finish = "stop"
    if len(tokens) > max_tokens:
        tokens, finish = tokens[:max_tokens], "length"
    return ScriptedAnswer(tokens, finish, count_input_tokens(items))


async def paced(tokens: list[str], pace: Pace, *, extra_delay_s: float = 0.0) -> AsyncIterator[str]:
    """Yield ``tokens`` on the pace's schedule (asyncio).

    The tokens after the first are timed from the moment the first one really went out: had
    they kept the schedule from the start, a first token that slept a few ms late would let the
    rest catch up, and a short reply would measure faster than its ``tokens_per_s``.
    """
    started = time.perf_counter() + extra_delay_s
    first_sent = None
    for index, token in enumerate(tokens):
        due = started + pace.ttft_s if first_sent is None else first_sent + index / pace.tokens_per_s
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        if first_sent is None:
            first_sent = time.perf_counter()
        yield token
