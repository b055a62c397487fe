"""Where the emulator's answers come from.

Every backend returns a ``workbook.ai.ChatStream``: text pieces while iterating, then
``usage`` and ``finish_reason`` ("stop" or "length") once exhausted. Each protocol module
renders that one shape into its own wire format, so none of them knows which backend runs.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..ai.scripted import Pace, paced, scripted_answer
from ..ai.structured import example_instance
from ..ai.types import ChatStream, Message, Usage

RESPONDERS = ("scripted", "local")


class ScriptedBackend:
    """The mock provider's deterministic responder and latency model, served over HTTP."""

    name = "scripted"

    def __init__(self, *, ttft_s: float = 0.0, tokens_per_s: float = 2000.0):
        self.pace = Pace(ttft_s, tokens_per_s)

    def generate(self, messages: list[dict[str, str]], *, max_tokens: int,
                 temperature: float, schema: dict | None = None) -> ChatStream:
        """With ``schema``, the reply is a valid instance of it (as JSON), varied by the prompt."""
        reply = None
        if schema is not None:
            reply = json.dumps(example_instance(schema, seed="\x1e".join(m["content"] for m in messages)))
        answer = scripted_answer(messages, max_tokens, reply, source="emulator")

        async def produce(stream: ChatStream):
            async for token in paced(answer.tokens, self.pace):
                yield token
            stream.usage = Usage(answer.input_tokens, answer.output_tokens)
            stream.finish_reason = answer.finish_reason

        return ChatStream(produce, provider=self.name)


class LocalBackend:
    """The bundled SmolLM2 through the workbook's own ``local`` provider.

    The model is loaded on first use, not at startup, so an emulator that never gets a
    request never pays for it. One lock: llama.cpp serves one request at a time anyway.
    """

    name = "local"

    def __init__(self, **settings: Any):
        self._settings = settings
        self._provider = None
        self._lock = asyncio.Lock()

    def _load(self):
        if self._provider is None:
            from ..ai import create_ai_provider

            self._provider = create_ai_provider(provider="local", **self._settings)
        return self._provider

    def generate(self, messages: list[dict[str, str]], *, max_tokens: int,
                 temperature: float, schema: dict | None = None) -> ChatStream:
        """With ``schema``, decoding follows llama.cpp's grammar for it."""
        chat = [Message(_role(m["role"]), m["content"]) for m in messages]
        temperature = min(max(float(temperature), 0.0), 2.0)

        async def produce(stream: ChatStream):
            async with self._lock:
                provider = await asyncio.to_thread(self._load)
                inner = provider.chat_stream(chat, max_tokens=max_tokens, temperature=temperature,
                                             response_format=schema)
                async for piece in inner:
                    yield piece
                stream.usage = getattr(inner, "usage", Usage())
                finish = getattr(inner, "finish_reason", None)
                stream.finish_reason = "length" if finish == "length" else "stop"

        return ChatStream(produce, provider=self.name)


def _role(role: str) -> str:
    # Clients send roles our Message type does not have ("developer", "tool"): fold them in.
    return role if role in ("system", "user", "assistant") else (
        "system" if role == "developer" else "user")


def generate(backend, messages: list[dict[str, str]], *, max_tokens: int, temperature: float,
             schema: dict | None) -> ChatStream:
    """``backend.generate``, given ``schema`` only when the request asked for one: a backend
    written before structured output (a test's own) still answers every plain request."""
    extra = {"schema": schema} if schema is not None else {}
    return backend.generate(messages, max_tokens=max_tokens, temperature=temperature, **extra)


def make_responder(name: str, *, ttft_s: float, tokens_per_s: float):
    if name == "scripted":
        return ScriptedBackend(ttft_s=ttft_s, tokens_per_s=tokens_per_s)
    if name == "local":
        return LocalBackend()
    raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(RESPONDERS)}")
