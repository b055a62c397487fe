"""The emulator answers as vLLM does on ``/vllm/v1`` (where the ``vllm`` entry points it):
the same error shapes the real vLLM answered (``tests/serving/vllm_answers.json``), and the
workbook's ``vllm`` provider turns them into the same typed errors through the openai SDK."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from workbook.ai import Message, create_ai_provider
from workbook.ai.errors import AuthenticationError, ModelNotFoundError, ProviderError
from workbook.emulator import Emulator

RECORDED = json.loads((Path(__file__).parents[1] / "serving" / "vllm_answers.json").read_text())
# The requests tests/serving/test_vllm_engine.py sends the real vLLM; the emulator has no
# context window, so the too-long prompt is the one recorded answer it cannot give.
REQUESTS = {
    "unknown_model": {"model": "no-such-model", "messages": [{"role": "user", "content": "Hi"}],
                      "max_tokens": 4},
    "bad_schema": {"model": "smollm2", "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}],
                   "response_format": {"type": "json_schema", "json_schema": {
                       "name": "broken", "schema": {"type": "no-such-type"}}}},
}


def shape(status: int, body: dict) -> dict:
    error = body["error"]
    return {"status": status, "keys": sorted(error), "type": error["type"], "code": error["code"]}


@pytest.fixture(scope="module")
def vllm_emulator():
    with Emulator() as emulator:
        yield emulator, emulator.env("vllm")


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_its_errors_have_the_shape_the_real_vllm_answered(vllm_emulator, case):
    _, env = vllm_emulator
    answer = httpx.post(f"{env['AI__VLLM_BASE_URL']}/chat/completions", json=REQUESTS[case],
                        headers={"authorization": f"Bearer {env['AI__VLLM_API_KEY']}"})
    recorded = RECORDED["answers"][case]
    assert shape(answer.status_code, answer.json()) == shape(recorded["status"], recorded["body"])


def test_an_unknown_model_lists_the_models_served_as_vllm_does(vllm_emulator):
    _, env = vllm_emulator
    answer = httpx.post(f"{env['AI__VLLM_BASE_URL']}/chat/completions", json=REQUESTS["unknown_model"],
                        headers={"authorization": f"Bearer {env['AI__VLLM_API_KEY']}"}).json()
    assert answer["error"]["message"].startswith("The model `no-such-model` does not exist. Valid aliases: ")
    assert "smollm2" in answer["error"]["message"] and answer["error"]["param"] == "model"


def test_a_missing_key_is_a_bare_unauthorized_and_openais_route_still_answers_as_openai(vllm_emulator):
    emulator, env = vllm_emulator
    body = REQUESTS["unknown_model"]
    assert httpx.post(f"{env['AI__VLLM_BASE_URL']}/chat/completions", json=body).json() == \
        {"error": "Unauthorized"}
    openai_shape = httpx.post(f"{emulator.url}/v1/chat/completions", json=body,
                              headers={"authorization": "Bearer k"}).json()["error"]
    assert openai_shape["type"] == "invalid_request_error" and openai_shape["code"] == "model_not_found"


class Route(BaseModel):
    team: str


async def test_the_provider_turns_vllms_shapes_into_typed_errors_with_its_hints(vllm_emulator):
    emulator, _ = vllm_emulator
    unknown = create_ai_provider(emulator.settings("vllm").with_(model="no-such-model", max_retries=0))
    try:
        with pytest.raises(ModelNotFoundError) as raised:
            await unknown.chat([Message.user("Hi")], max_tokens=4)
    finally:
        await unknown.aclose()
    assert "Valid aliases" in str(raised.value) and "GET /v1/models" in raised.value.hint

    provider = create_ai_provider(emulator.settings("vllm").with_(max_retries=0))
    try:
        emulator.inject("auth", status=401)
        with pytest.raises(AuthenticationError) as raised:
            await provider.chat([Message.user("Hi")], max_tokens=4)
        assert "--api-key" in raised.value.hint, "the vllm entry's own hint"
        emulator.inject("validation", message="Grammar error: Invalid type: no-such-type")
        with pytest.raises(ProviderError) as raised:   # as the recorded answer does (test_vllm_recorded_errors)
            await provider.chat([Message.user("Hi")], max_tokens=4)
        assert "Grammar error" in str(raised.value) and raised.value.hint, "vLLM's own message, and what to do"
    finally:
        await provider.aclose()
