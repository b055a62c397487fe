"""The Responses API's translation for the OpenAI-style providers (``AI__OPENAI_API=responses``).

Same provider, same ``chat``/``chat_stream``, same deadline, retries and bounds: only the
request and the answer's shape change. Where chat completions send ``messages`` and
``max_tokens`` and answer with ``choices``, the Responses API takes ``input`` and
``max_output_tokens`` and answers with a ``response`` whose ``output`` holds the message;
streamed, it sends typed events, and ``response.completed`` is the end marker.

Read in the vendors' docs on 2026-12-07: OpenAI, "Migrate to the Responses API": "While Chat
Completions remains supported, Responses is recommended for all new projects." Microsoft, "Upgrade
your Azure OpenAI app from Chat Completions to the Responses API": from ``AzureOpenAI()``, a dated
``api_version`` and ``chat.completions.create`` to ``OpenAI()`` on ``{endpoint}/openai/v1/`` and
``responses.create``. AWS, "Responses API" (Bedrock user guide): served on bedrock-runtime
(``https://bedrock-runtime.{region}.amazonaws.com/openai/v1``, "Use bedrock-runtime for new
applications") and bedrock-mantle. vLLM (0.32 docs, "Online Serving") and LM Studio ("OpenAI
Compatible Endpoints") serve ``/v1/responses``; Ollama's OpenAI compatibility takes stateless
Responses requests (the ``ollama`` provider here speaks Ollama's native API instead).
"""

from __future__ import annotations

import functools
import inspect

import openai

from ..structured import OutputSchema
from ..types import Message, Usage
from ._openai_sdk import create_response, ended_early, stream_error, text_of, translate
from .base import Answer, StreamInfo

# A response's status (and incomplete_details.reason) as the finish_reason chat completions use.
_FINISH = {"completed": "stop", "max_output_tokens": "length", "content_filter": "content_filter"}


def or_responses_api(attempt):
    """``attempt`` (a provider's chat-completions ``chat`` or ``chat_stream``), or, when the
    provider's settings say ``AI__OPENAI_API=responses``, this module's ``answer`` or ``stream``
    in its place: one switch for every OpenAI-style provider, outside their translations."""
    instead = stream if inspect.isasyncgenfunction(attempt) else answer

    @functools.wraps(attempt)
    def call(provider, messages: list[Message], *, max_tokens: int, temperature: float, **schema):
        chosen = instead if provider.settings.openai_api == "responses" else attempt
        return chosen(provider, messages, max_tokens=max_tokens, temperature=temperature, **schema)

    return call


async def answer(provider, messages: list[Message], *, max_tokens: int, temperature: float,
                 schema: OutputSchema | None = None) -> Answer:
    request = _request(provider, messages, max_tokens, temperature, schema)
    try:
        response = await create_response(provider, **request)
        content = text_of(provider, response.output_text, '"output_text" is a {}, not text')
    except Exception as error:  # every SDK failure becomes a typed workbook error
        raise translate(provider, error) from None
    usage = response.usage
    return Answer(content or "", response.model,
                  Usage(usage.input_tokens, usage.output_tokens) if usage else Usage(),
                  _finish_reason(response))


async def stream(provider, messages: list[Message], *, max_tokens: int, temperature: float):
    request = _request(provider, messages, max_tokens, temperature, None)
    try:
        events = await create_response(provider, **request, stream=True)
    except Exception as error:
        raise translate(provider, error) from None
    parsed = received = 0  # events read / those carrying text
    ended = False
    try:
        async for event in events:
            parsed += 1
            if event.type == "response.output_text.delta":
                text = text_of(provider, event.delta, f'a "delta" that is a {{}}, not text, after {received} chunks')
                if text:
                    received += 1
                    yield text
            elif event.type in ("response.completed", "response.incomplete"):
                ended = True
                done = event.response
                usage = done.usage and Usage(done.usage.input_tokens, done.usage.output_tokens)
                yield StreamInfo(_finish_reason(done), usage=usage, model=done.model)
            elif event.type in ("error", "response.failed"):
                # The SDK hands an error event over as an event, not an exception: raise
                # what the same error inside a chat-completions stream raises.
                reported = event if event.type == "error" else event.response.error
                raise openai.APIError(reported.message, events.response.request,
                                      body={"code": reported.code, "message": reported.message})
    except Exception as error:
        raise stream_error(provider, error, received) from None
    finally:
        await events.close()
    if not ended:  # the SDK ends silently when the server closes the stream early
        raise ended_early(provider, parsed, received, end="response.completed")


def _request(provider, messages: list[Message], max_tokens: int, temperature: float,
             schema: OutputSchema | None) -> dict:
    # Built from the provider's own chat-completions request, renaming only what the Responses
    # API names differently: a subclass's ``_request`` (exercise 12's extra_body) then reaches
    # the server under either API.
    request = dict(provider._request(messages, max_tokens, temperature))
    request["input"] = request.pop("messages")
    for limit_field in ("max_tokens", "max_completion_tokens"):
        if limit_field in request:
            request["max_output_tokens"] = request.pop(limit_field)
    if "reasoning_effort" in request:
        # A reasoning model: thinking off, as chat completions' reasoning_effort="none" does.
        request["reasoning"] = {"effort": request.pop("reasoning_effort")}
    if schema is not None:
        # The same JSON schema as response_format's, under text.format and one level flatter.
        request["text"] = {"format": {"type": "json_schema", "name": schema.name, "schema": schema.schema,
                                      "strict": provider.strict_schema}}
    return request


def _finish_reason(response) -> str | None:
    details = response.incomplete_details
    return _FINISH.get(details.reason if details else response.status, response.status)
