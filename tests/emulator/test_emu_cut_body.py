"""``cut_stream`` on a non-streaming request: the client must get a broken 200 body.

Never a 500 (that would teach "the server failed" instead of "the body was cut") and never
a traceback from the emulator's thread (it would land in a student's notebook).

What each real client does with a cut body, measured here:

* ``mode="close"``: a complete HTTP response whose JSON stops halfway. openai (OpenAI and
  Azure) and httpx's ``response.json()`` raise ``json.JSONDecodeError``. boto3 does *not*
  raise: botocore parses an unparseable body as ``{"message": <text>}``, so ``converse``
  returns a dict without ``output`` or ``stopReason`` (only ``ResponseMetadata``).
* ``mode="abort"``: the headers promise the full Content-Length, half is sent, the
  connection drops. openai raises ``APIConnectionError``; httpx ``RemoteProtocolError``.
  botocore again returns the empty result: it reads the short body without checking its
  length. Detecting the missing ``output`` is the Bedrock provider's job either way.
"""

import json

import boto3
import httpx
import openai
import pytest
from botocore.config import Config

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]
BEDROCK_MODEL = "amazon.nova-micro-v1:0"
MODES = ["close", "abort"]


def _served_200(emu, path: str) -> None:
    record = emu.requests[-1]
    assert record.path == path and record.fault["fault"] == "cut_stream"
    assert record.status == 200, f"a cut body must not be an error status: {record.status}"


@pytest.mark.parametrize("mode", MODES)
async def test_openai_client_gets_a_broken_body(fresh_emu, noise, mode):
    fresh_emu.inject("cut_stream", mode=mode)
    expected = json.JSONDecodeError if mode == "close" else openai.APIConnectionError
    async with openai.AsyncOpenAI(base_url=f"{fresh_emu.url}/v1", api_key="k", max_retries=0) as c:
        with pytest.raises(expected):
            await c.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    _served_200(fresh_emu, "/v1/chat/completions")
    assert noise() == []


@pytest.mark.parametrize("mode", MODES)
async def test_azure_client_gets_a_broken_body(fresh_emu, noise, mode):
    fresh_emu.inject("cut_stream", mode=mode)
    expected = json.JSONDecodeError if mode == "close" else openai.APIConnectionError
    async with openai.AsyncAzureOpenAI(azure_endpoint=fresh_emu.url, api_key="emulator-key",
                                       api_version="2024-10-21", max_retries=0) as c:
        with pytest.raises(expected):
            await c.chat.completions.create(model="gpt-5.4-nano", messages=PROMPT)
    _served_200(fresh_emu, "/openai/deployments/gpt-5.4-nano/chat/completions")
    assert noise() == []


async def test_ollama_close_sends_half_a_json_body(fresh_emu, noise):
    fresh_emu.inject("cut_stream", mode="close")
    async with httpx.AsyncClient(base_url=fresh_emu.url) as http:
        response = await http.post("/api/chat", json={"model": "llama3.2", "messages": PROMPT,
                                                      "stream": False})
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content.startswith(b'{"model":"llama3.2"')
    with pytest.raises(json.JSONDecodeError):
        response.json()
    _served_200(fresh_emu, "/api/chat")
    assert noise() == []


async def test_ollama_abort_drops_the_connection_mid_body(fresh_emu, noise):
    fresh_emu.inject("cut_stream", mode="abort")
    async with httpx.AsyncClient(base_url=fresh_emu.url) as http:
        async with http.stream("POST", "/api/chat", json={
                "model": "llama3.2", "messages": PROMPT, "stream": False}) as response:
            assert response.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message"):
                await response.aread()
    _served_200(fresh_emu, "/api/chat")
    assert noise() == []


@pytest.mark.parametrize("mode", MODES)
def test_bedrock_converse_returns_botocores_empty_result(fresh_emu, noise, mode):
    # Used to be KeyError: None at STOP_REASONS[reply.finish_reason], answered as a 500.
    bedrock = boto3.client(
        "bedrock-runtime", endpoint_url=fresh_emu.url, region_name="us-east-1",
        aws_access_key_id="emulator", aws_secret_access_key="emulator-secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    fresh_emu.inject("cut_stream", mode=mode)
    reply = bedrock.converse(modelId=BEDROCK_MODEL,
                             messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert set(reply) == {"ResponseMetadata"}, "a cut body must not parse into a reply"
    _served_200(fresh_emu, f"/model/{BEDROCK_MODEL}/converse")
    assert noise() == []


async def test_the_cut_is_half_of_the_body_the_request_would_have_had(fresh_emu):
    body = {"model": "llama3.2", "messages": PROMPT, "stream": False}
    async with httpx.AsyncClient(base_url=fresh_emu.url) as http:
        whole = await http.post("/api/chat", json=body)
        fresh_emu.inject("cut_stream", mode="close")
        cut = await http.post("/api/chat", json=body)
    # The answer runs to its end (done_reason set) before the body is cut.
    assert whole.json()["done_reason"] == "stop"
    assert abs(len(cut.content) - len(whole.content) // 2) <= 2
