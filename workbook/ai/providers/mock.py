"""``mock``: scripted replies with a configurable latency model, no network at all."""

from __future__ import annotations

import json
import time
from typing import AsyncIterator, Callable

from ..scripted import Pace, paced, scripted_answer
from ..settings import AISettings
from ..structured import OutputSchema, example_instance, provider_schema
from ..types import ChatResponse, ChatStream, Message, Usage, validate_request
from ._closing import Closeable

ReplyFunction = Callable[[list[Message]], str]


class MockProvider(Closeable):
    """Deterministic replies streamed word by word.

    ``AI__MOCK_TTFT_S`` and ``AI__MOCK_TOKENS_PER_S`` set the pace. ``reply`` replaces the
    scripted reply with your own function of the messages (like pydantic-ai's FunctionModel).
    """

    name = "mock"

    def __init__(self, settings: AISettings | None = None, *, reply: ReplyFunction | None = None):
        settings = settings or AISettings(provider="mock")
        self.settings = settings
        self.model = settings.model or "mock-1"
        self.pace = Pace(settings.mock_ttft_s, settings.mock_tokens_per_s)
        self._reply = reply

    def __repr__(self) -> str:
        return f"MockProvider(model={self.model!r}, ttft_s={self.pace.ttft_s}, tokens_per_s={self.pace.tokens_per_s})"

    def _answer(self, messages, max_tokens, schema: OutputSchema | None = None):
        reply = self._reply(list(messages)) if self._reply else None
        if reply is None and schema is not None:
            # A schema-valid instance, varied by the prompt as the scripted text is.
            reply = json.dumps(example_instance(schema.schema, seed="\x1e".join(m.content for m in messages)))
        return scripted_answer(messages, max_tokens, reply, source="mock")

    async def chat(self, messages: list[Message], *, max_tokens: int | None = None,
                   temperature: float | None = None, response_format=None) -> ChatResponse:
        """``response_format`` (a pydantic class or a schema dict): the reply is a valid instance
        of it, unless a ``reply`` function answers otherwise (then it is validated like any answer)."""
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)
        schema = provider_schema(response_format, self.name)
        started = time.perf_counter()
        answer = self._answer(messages, max_tokens, schema)
        async for _ in paced(answer.tokens, self.pace):
            pass
        parsed = (schema.parse(answer.text, provider=self.name, finish_reason=answer.finish_reason)
                  if schema is not None else None)
        return ChatResponse(
            content=answer.text, model=self.model, provider=self.name,
            usage=Usage(answer.input_tokens, answer.output_tokens),
            finish_reason=answer.finish_reason, latency_s=time.perf_counter() - started, parsed=parsed,
        )

    def chat_stream(self, messages: list[Message], *, max_tokens: int | None = None,
                    temperature: float | None = None) -> AsyncIterator[str]:
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)

        async def produce(stream: ChatStream):
            answer = self._answer(messages, max_tokens)
            stream.model = self.model
            async for token in paced(answer.tokens, self.pace):
                yield token
            stream.usage = Usage(answer.input_tokens, answer.output_tokens)
            stream.finish_reason = answer.finish_reason

        return ChatStream(produce, provider=self.name)
