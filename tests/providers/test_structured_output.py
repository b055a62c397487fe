"""Structured output at the wire: every network provider, through its real SDK, against the emulator.

The schema must arrive in the protocol's own field, the emulator's answer come back parsed,
an answer that ignores the schema raise StructuredOutputError, and a schema the service
would refuse fail -- before sending where the workbook can tell, or with the service's 400.
"""

from __future__ import annotations

import json
from typing import Literal

import boto3
import httpx
import openai
import pytest
from pydantic import BaseModel

from workbook.ai import InvalidRequestError, Message, ProviderError, StructuredOutputError
from workbook.ai.structured import output_schema

NETWORK_PROVIDERS = ("openai", "azure_openai", "vllm", "lmstudio", "ollama", "bedrock")
# Each provider on its default API, and the Responses API (AI__OPENAI_API=responses) once per
# wire it travels on (vllm and lmstudio are the openai wire's class with other settings).
providers = pytest.mark.parametrize("name, api", [(name, "chat_completions") for name in NETWORK_PROVIDERS]
                                    + [("openai", "responses"), ("azure_openai", "responses")])
QUESTION = [Message("system", "Route the ticket."), Message("user", "I was charged twice.")]


class Route(BaseModel):
    team: Literal["billing", "technical", "account"]
    urgent: bool


ROUTE_DICT = {"type": "object", "title": "route_dict",
              "properties": {"team": {"type": "string", "enum": ["billing", "technical"]},
                             "count": {"type": "integer", "minimum": 1, "maximum": 3}},
              "required": ["team", "count"], "additionalProperties": False}


def model_requests(emu):
    return [r for r in emu.requests if r.method == "POST"]


def schema_on_the_wire(name: str, api: str, body: dict) -> dict:
    """The schema as the request carried it, read from the protocol's own field."""
    if name == "bedrock":
        text_format = body["outputConfig"]["textFormat"]
        assert text_format["type"] == "json_schema"
        return json.loads(text_format["structure"]["jsonSchema"]["schema"])  # a JSON *string*
    if name == "ollama":
        return body["format"]
    if api == "responses":
        text_format = body["text"]["format"]
        assert text_format["type"] == "json_schema" and text_format["strict"] is True
        return text_format["schema"]
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is (name in ("openai", "azure_openai"))
    return response_format["json_schema"]["schema"]


@providers
async def test_pydantic_schema_travels_in_the_protocols_field_and_comes_back_parsed(build, emu, name, api):
    response = await build(name, openai_api=api).chat(QUESTION, max_tokens=64, response_format=Route)
    assert isinstance(response.parsed, Route)
    assert response.parsed == Route.model_validate_json(response.content)
    assert schema_on_the_wire(name, api, model_requests(emu)[-1].body) == output_schema(Route).schema


@providers
async def test_dict_schema_comes_back_as_a_dict(build, emu, name, api):
    response = await build(name, openai_api=api).chat(QUESTION, max_tokens=64, response_format=ROUTE_DICT)
    assert isinstance(response.parsed, dict)
    assert response.parsed["team"] in ("billing", "technical") and 1 <= response.parsed["count"] <= 3
    assert schema_on_the_wire(name, api, model_requests(emu)[-1].body) == ROUTE_DICT


@providers
async def test_without_response_format_nothing_is_sent_and_parsed_is_none(build, emu, name, api):
    response = await build(name, openai_api=api).chat(QUESTION, max_tokens=64)
    assert response.parsed is None
    body = model_requests(emu)[-1].body
    assert not {"response_format", "format", "outputConfig", "text"} & set(body)


@providers
async def test_an_answer_off_the_schema_is_a_structured_output_error(build, emu, name, api):
    emu.inject("off_schema")  # the emulator answers prose, as a model that ignores the schema would
    with pytest.raises(StructuredOutputError) as caught:
        await build(name, openai_api=api).chat(QUESTION, max_tokens=64, response_format=Route)
    error = caught.value
    assert error.provider == name and error.hint
    assert error.raw.startswith("Scripted reply from the emulator")  # the raw text is kept on the error...
    assert error.raw not in str(error) and "Scripted reply" not in repr(error)  # ...but never shown
    assert len(model_requests(emu)) == 1  # a wrong answer is not retried as a failure


@providers
async def test_an_answer_cut_at_max_tokens_says_to_raise_max_tokens(build, name, api):
    with pytest.raises(StructuredOutputError) as caught:
        await build(name, openai_api=api).chat(QUESTION, max_tokens=2, response_format=Route)
    assert "max_tokens" in caught.value.hint


@providers
async def test_a_malformed_schema_fails_before_anything_is_sent(build, emu, name, api):
    with pytest.raises(InvalidRequestError) as caught:
        await build(name, openai_api=api).chat(QUESTION, response_format={"type": "object", "properties": {"team": {"type": "strng"}}})
    assert caught.value.provider == name and "properties.team.type" in str(caught.value)
    assert model_requests(emu) == []


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
@pytest.mark.parametrize("name", ["openai", "azure_openai"])
async def test_strict_mode_rules_fail_before_sending(build, emu, name, api):
    loose = {"type": "object", "properties": {"team": {"type": "string"}, "note": {"type": "string"}},
             "required": ["team"]}
    with pytest.raises(InvalidRequestError) as caught:
        await build(name, openai_api=api).chat(QUESTION, response_format=loose)
    text = str(caught.value)
    assert "strict" in text and "additionalProperties" in text and "note" in text
    assert model_requests(emu) == []


@pytest.mark.parametrize("name", ["vllm", "lmstudio"])
async def test_servers_without_strict_rules_take_a_loose_schema(build, emu, name):
    loose = {"type": "object", "properties": {"team": {"type": "string"}, "note": {"type": "string"}},
             "required": ["team"]}
    response = await build(name).chat(QUESTION, max_tokens=64, response_format=loose)
    assert isinstance(response.parsed["team"], str)


# -- the emulator refuses what the real service refuses, in the protocol's own 400 ------------

def test_openai_wire_refuses_a_strict_schema_without_additional_properties(emu):
    client = openai.OpenAI(api_key="emulator-key", base_url=f"{emu.url}/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}],
                                       response_format={"type": "json_schema", "json_schema": {
                                           "name": "route", "strict": True,
                                           "schema": {"type": "object", "properties": {"a": {"type": "string"}},
                                                      "required": ["a"]}}})
    error = caught.value.body
    assert error["param"] == "response_format" and error["type"] == "invalid_request_error"
    assert error["message"] == ("Invalid schema for response_format 'route': In context=(), "
                                "'additionalProperties' is required to be supplied and to be false.")


def test_openai_wire_refuses_a_schema_that_is_not_json_schema(emu):
    client = openai.OpenAI(api_key="emulator-key", base_url=f"{emu.url}/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}],
                                       response_format={"type": "json_schema", "json_schema": {
                                           "name": "route", "schema": {"type": "objekt"}}})
    assert caught.value.body["message"].startswith("Invalid schema for response_format 'route': ")


def test_bedrock_wire_refuses_a_schema_string_that_is_not_json(emu, monkeypatch):
    client = boto3.client("bedrock-runtime", endpoint_url=emu.url, region_name="us-east-1")
    model = emu.settings("bedrock").model
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.converse(modelId=model, messages=[{"role": "user", "content": [{"text": "hi"}]}],
                        outputConfig={"textFormat": {"type": "json_schema", "structure": {
                            "jsonSchema": {"schema": "{not json", "name": "route"}}}})
    assert "outputConfig.textFormat" in str(caught.value)


def test_ollama_wire_refuses_a_format_that_is_not_a_schema(emu):
    response = httpx.post(f"{emu.url}/api/chat", json={
        "model": "llama3.2", "stream": False, "messages": [{"role": "user", "content": "hi"}],
        "format": {"type": "objekt"}})
    assert response.status_code == 400 and "format" in response.json()["error"]


async def test_a_refused_schema_reaches_the_student_as_a_typed_error(emu, build):
    # Sent past the workbook's own checks (an OutputSchema built by hand): the service's 400 maps.
    from workbook.ai.structured import OutputSchema

    unchecked = OutputSchema("route", {"type": "object", "properties": {"a": {"type": "objekt"}},
                                       "required": ["a"], "additionalProperties": False})
    with pytest.raises(ProviderError) as caught:
        await build("openai").chat(QUESTION, response_format=unchecked)
    assert "Invalid schema for response_format" in str(caught.value)
