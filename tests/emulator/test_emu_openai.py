"""The OpenAI protocol through the real ``openai.AsyncOpenAI`` client."""

import json

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from workbook.ai.scripted import scripted_answer

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
async def client(emu):
    async with openai.AsyncOpenAI(base_url=f"{emu.url}/v1", api_key="any-key", max_retries=0) as c:
        yield c


async def test_round_trip_matches_scripted_reply_and_usage(client):
    expected = scripted_answer(PROMPT, 512, source="emulator")
    reply = await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT, max_tokens=512)
    assert reply.choices[0].message.content == expected.text
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens == expected.input_tokens
    assert reply.usage.completion_tokens == expected.output_tokens
    assert reply.model == "gpt-5.4-nano"


async def test_max_tokens_gives_finish_reason_length(client):
    reply = await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT, max_tokens=3)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 3


async def test_stream_with_usage_chunk(client):
    stream = await client.chat.completions.create(
        model="gpt-5.4-nano", messages=PROMPT, stream=True, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == scripted_answer(PROMPT, 4096, source="emulator").text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(chunks) - 3
    assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_include_usage_has_no_usage_field(emu):
    body = {"model": "gpt-5.4-nano", "messages": PROMPT, "stream": True}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emu.url}/v1/chat/completions", json=body,
                                   headers={"authorization": "Bearer k"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    for raw in events[:-1]:
        chunk = ChatCompletionChunk.model_validate_json(raw)
        assert chunk.object == "chat.completion.chunk" and chunk.id.startswith("chatcmpl-")
        assert "usage" not in raw


async def test_json_body_validates_against_openai_types(emu):
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emu.url}/v1/chat/completions",
                                   json={"model": "gpt-6-luna", "messages": PROMPT},
                                   headers={"authorization": "Bearer k"})
    completion = ChatCompletion.model_validate(response.json())  # strict types, not construct()
    assert completion.object == "chat.completion"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


async def test_list_models(client):
    models = [m.id async for m in client.models.list()]
    assert "gpt-5.4-nano" in models and "smollm2" in models


async def test_missing_authorization_is_401_in_openai_shape(emu):
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emu.url}/v1/chat/completions",
                                   json={"model": "gpt-5.4-nano", "messages": PROMPT})
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_unknown_model_is_404_model_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="gpt-9", messages=PROMPT)
    assert caught.value.code == "model_not_found"


async def test_rate_limit_fault(emu, client):
    emu.inject("rate_limit", retry_after=2)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.code == "rate_limit_exceeded"
    # times=1: the next request succeeds
    assert (await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)).choices


async def test_sdk_retries_through_a_rate_limit(emu):
    emu.inject("rate_limit", retry_after=0)
    async with openai.AsyncOpenAI(base_url=f"{emu.url}/v1", api_key="k", max_retries=1) as c:
        reply = await c.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    assert reply.choices[0].message.content
    assert [r.status for r in emu.requests] == [429, 200]


@pytest.mark.parametrize("status, error", [(500, openai.InternalServerError),
                                           (503, openai.InternalServerError)])
async def test_server_error_fault(emu, client, status, error):
    emu.inject("server_error", status=status)
    with pytest.raises(error) as caught:
        await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    assert caught.value.status_code == status


@pytest.mark.parametrize("status, error", [(401, openai.AuthenticationError),
                                           (403, openai.PermissionDeniedError)])
async def test_auth_fault(emu, client, status, error):
    emu.inject("auth", status=status)
    with pytest.raises(error):
        await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)


async def test_model_not_found_fault(emu, client):
    emu.inject("model_not_found")
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)


async def test_in_stream_error(emu, client):
    emu.inject("rate_limit", in_stream=True)
    stream = await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT, stream=True)
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass


async def test_cut_stream_ends_silently_without_finish_reason(emu, client):
    emu.inject("cut_stream", after_chunks=2)
    stream = await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT, stream=True)
    chunks = [c async for c in stream]
    assert [c.choices[0].delta.content for c in chunks][1:] == ["Scripted", " reply"]
    assert all(c.choices[0].finish_reason is None for c in chunks)


async def test_cut_stream_abort_raises_connection_error(emu, client):
    emu.inject("cut_stream", after_chunks=2, mode="abort")
    stream = await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT, stream=True)
    with pytest.raises(openai.APIConnectionError):
        async for _ in stream:
            pass


async def test_cut_non_streaming_body(emu, client):
    # mode="close" (the default): a complete 200 response whose JSON stops halfway; "abort"
    # drops the connection instead (APIConnectionError). Both: test_emu_cut_body.py.
    emu.inject("cut_stream")
    with pytest.raises(json.JSONDecodeError):
        await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)


async def test_malformed_stream_raises(emu, client):
    emu.inject("malformed")
    stream = await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT, stream=True)
    with pytest.raises(Exception):
        async for _ in stream:
            pass


async def test_malformed_json_body_raises(emu, client):
    emu.inject("malformed")
    with pytest.raises(Exception):
        await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)


async def test_slow_first_token(emu, client):
    import time

    emu.inject("slow_first_token", seconds=0.3)
    started = time.perf_counter()
    stream = await client.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT, stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    assert time.perf_counter() - started >= 0.3
    await stream.close()
