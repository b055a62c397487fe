"""AI__OPENAI_API=responses: the OpenAI-style providers through the real openai SDK's
``responses.create`` against the emulator's /v1/responses -- the same ``chat`` and
``chat_stream``, the same typed errors, retries and deadline as over chat completions."""

from __future__ import annotations

import pytest

from workbook.ai import (AuthenticationError, ConfigurationError, IncompleteResponseError, Message,
                         ModelNotFoundError, ProviderError, RateLimitError)
from workbook.ai.scripted import scripted_answer

QUESTION = [Message("system", "Be brief."), Message("user", "What is the capital of France?")]
WIRE_DICTS = [{"role": m.role, "content": m.content} for m in QUESTION]
OPENAI_STYLE = ("openai", "azure_openai", "vllm", "lmstudio")


@pytest.fixture
def responses(build):
    """responses(name, **changes): that provider on the Responses API, pointed at the emulator."""
    return lambda name, **changes: build(name, openai_api="responses", **changes)


def posted(emu):
    return [r for r in emu.requests if r.method == "POST"]


@pytest.mark.parametrize("name", OPENAI_STYLE)
async def test_chat_and_chat_stream_go_to_the_responses_route(responses, emu, name):
    provider = responses(name)
    expected = scripted_answer(WIRE_DICTS, 64, source="emulator")
    answer = await provider.chat(QUESTION, max_tokens=64)
    stream = provider.chat_stream(QUESTION, max_tokens=64)
    pieces = [piece async for piece in stream]
    assert answer.content == "".join(pieces) == expected.text
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (expected.input_tokens,
                                                                      expected.output_tokens)
    assert answer.finish_reason == stream.finish_reason == "stop" and stream.usage == answer.usage
    assert len(pieces) > 1  # streamed in pieces, not one block
    sent = posted(emu)
    assert [r.path.rsplit("/", 1)[-1] for r in sent] == ["responses", "responses"]
    assert sent[0].body["input"] == WIRE_DICTS and sent[0].body["max_output_tokens"] == 64
    assert "messages" not in sent[0].body and sent[1].body["stream"] is True


async def test_an_answer_cut_at_max_tokens_finishes_with_length(responses):
    provider = responses("openai")
    assert (await provider.chat(QUESTION, max_tokens=3)).finish_reason == "length"
    stream = provider.chat_stream(QUESTION, max_tokens=3)
    assert len([piece async for piece in stream]) == 3 and stream.finish_reason == "length"


async def test_a_stream_without_response_completed_is_incomplete(responses, emu):
    emu.inject("cut_stream", after_chunks=3)
    received = []
    with pytest.raises(IncompleteResponseError) as caught:
        async for piece in responses("openai", max_retries=0).chat_stream(QUESTION):
            received.append(piece)
    assert len(received) == 3
    assert "without response.completed" in caught.value.message


@pytest.mark.parametrize("name", ["openai", "azure_openai"])
async def test_an_error_event_before_any_text_is_the_error_it_names(responses, emu, name):
    emu.inject("rate_limit", in_stream=True)
    with pytest.raises(RateLimitError) as caught:
        [piece async for piece in responses(name, max_retries=0).chat_stream(QUESTION)]
    assert caught.value.provider == name and caught.value.hint


async def test_a_429_is_retried_by_the_shared_retries_then_answers(responses, emu):
    emu.inject("rate_limit", retry_after=0)
    answer = await responses("openai", max_retries=1).chat(QUESTION, max_tokens=64)
    assert answer.content == scripted_answer(WIRE_DICTS, 64, source="emulator").text
    assert [r.status for r in posted(emu)] == [429, 200]


async def test_a_429_left_after_the_retries_is_a_rate_limit_error(responses, emu):
    emu.inject("rate_limit", retry_after=0, times=2)
    with pytest.raises(RateLimitError):
        await responses("openai", max_retries=1).chat(QUESTION)
    assert len(posted(emu)) == 2


@pytest.mark.parametrize("fault, error", [("auth", AuthenticationError),
                                          ("model_not_found", ModelNotFoundError)])
@pytest.mark.parametrize("name", ["openai", "azure_openai"])
async def test_status_errors_are_typed_with_the_providers_hint(responses, emu, name, fault, error):
    emu.inject(fault)
    with pytest.raises(error) as caught:
        await responses(name, max_retries=0).chat(QUESTION)
    assert caught.value.provider == name and caught.value.hint


async def test_a_malformed_stream_is_not_the_openai_format(responses, emu):
    emu.inject("malformed")
    with pytest.raises(ProviderError) as caught:
        [piece async for piece in responses("openai", max_retries=0).chat_stream(QUESTION)]
    assert "not in the OpenAI format" in caught.value.message


def test_azure_responses_need_the_v1_api(emu):
    from workbook.ai import create_ai_provider

    settings = emu.settings("azure_openai").with_(openai_api="responses",
                                                  azure_openai_api_version="2024-10-21")
    with pytest.raises(ConfigurationError) as caught:
        create_ai_provider(settings)
    assert "AI__AZURE_OPENAI_API_VERSION=v1" in caught.value.hint
