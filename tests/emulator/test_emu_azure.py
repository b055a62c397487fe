"""Azure OpenAI through the real ``openai.AsyncAzureOpenAI`` client."""

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion

from workbook.ai.scripted import scripted_answer

PROMPT = [{"role": "user", "content": "Name three primary colours."}]


@pytest.fixture
async def azure(emu):
    async with openai.AsyncAzureOpenAI(azure_endpoint=emu.url, api_key="emulator-key",
                                       api_version="2024-10-21", max_retries=0) as c:
        yield c


async def test_round_trip_through_deployment_route(emu, azure):
    reply = await azure.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    assert reply.choices[0].message.content == scripted_answer(PROMPT, 4096, source="emulator").text
    record = emu.requests[-1]
    assert record.path == "/openai/deployments/gpt-5.4-nano/chat/completions"
    assert record.query == {"api-version": "2024-10-21"}
    assert record.protocol == "azure_openai"
    assert record.headers["api-key"] == "***redacted***"


async def test_stream_starts_with_empty_choices_like_azure(azure):
    stream = await azure.chat.completions.create(
        model="gpt-6-luna", messages=PROMPT, stream=True, stream_options={"include_usage": True})
    chunks = [c async for c in stream]
    assert chunks[0].choices == []  # the content-filter preamble
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == scripted_answer(PROMPT, 4096, source="emulator").text
    assert chunks[-1].usage.prompt_tokens == scripted_answer(PROMPT, 4096, source="emulator").input_tokens


async def test_json_validates_against_openai_types(emu):
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{emu.url}/openai/deployments/gpt-6-luna/chat/completions?api-version=2024-10-21",
            json={"messages": PROMPT}, headers={"api-key": "emulator-key"})
    ChatCompletion.model_validate(response.json())


async def test_v1_route_without_api_version(emu):
    async with openai.AsyncOpenAI(base_url=f"{emu.url}/openai/v1", api_key="emulator-key") as c:
        reply = await c.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    assert reply.choices[0].finish_reason == "stop"
    assert emu.requests[-1].path == "/openai/v1/chat/completions"


async def test_wrong_key_is_401_in_azure_shape(emu):
    async with openai.AsyncAzureOpenAI(azure_endpoint=emu.url, api_key="wrong",
                                       api_version="2024-10-21", max_retries=0) as c:
        with pytest.raises(openai.AuthenticationError) as caught:
            await c.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    assert caught.value.body["code"] == "401"
    assert caught.value.body["message"].startswith("Access denied due to invalid subscription key")


async def test_missing_api_version_is_404(emu):
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{emu.url}/openai/deployments/gpt-6-luna/chat/completions",
                                   json={"messages": PROMPT}, headers={"api-key": "emulator-key"})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}


async def test_unknown_deployment_is_deployment_not_found(azure):
    with pytest.raises(openai.NotFoundError) as caught:
        await azure.chat.completions.create(model="my-gpt", messages=PROMPT)
    assert caught.value.code == "DeploymentNotFound"


async def test_rate_limit_fault_in_azure_shape(emu, azure):
    emu.inject("rate_limit", protocol="azure_openai")
    with pytest.raises(openai.RateLimitError) as caught:
        await azure.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    assert caught.value.body["code"] == "429"
    assert caught.value.response.headers["retry-after"] == "1"


async def test_protocol_restricted_fault_skips_other_protocols(emu, azure):
    emu.inject("server_error", protocol="azure_openai")
    async with openai.AsyncOpenAI(base_url=f"{emu.url}/v1", api_key="k", max_retries=0) as c:
        await c.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)  # untouched
    with pytest.raises(openai.InternalServerError):
        await azure.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)


async def test_auth_and_model_faults(emu, azure):
    emu.inject("auth")
    with pytest.raises(openai.AuthenticationError):
        await azure.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    emu.inject("model_not_found")
    with pytest.raises(openai.NotFoundError) as caught:
        await azure.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    assert caught.value.code == "DeploymentNotFound"


async def test_cut_stream_ends_without_finish(emu, azure):
    emu.inject("cut_stream", after_chunks=3)
    stream = await azure.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT, stream=True)
    chunks = [c async for c in stream]
    assert not any(c.choices and c.choices[0].finish_reason for c in chunks)
