"""Structured output's protocol-independent parts: schemas, validation, the error, the mock,
and ask_structured's fallback for a class that has only chat and chat_stream."""

from __future__ import annotations

import json
import pickle
from typing import Literal

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from workbook.ai import (ChatResponse, InvalidRequestError, Message, StructuredOutputError, Usage,
                         ask_structured)
from workbook.ai.providers.mock import MockProvider
from workbook.ai.structured import example_instance, output_schema, takes_response_format
from workbook.course.extraction import TicketFields


class Route(BaseModel):
    team: Literal["billing", "technical"]
    priority: int = Field(ge=1, le=3)


class WithDefault(BaseModel):
    team: str
    note: str = ""


def test_a_model_class_is_converted_once_and_closed_for_strict_mode():
    first = output_schema(Route)
    assert output_schema(Route) is first  # cached per class: no rebuild per call
    assert first.name == "Route" and first.model is Route
    assert first.schema["additionalProperties"] is False
    assert first.strict_problems == ()


def test_strict_problems_name_what_to_change():
    problems = output_schema(WithDefault).strict_problems
    assert problems == ("WithDefault: every property must be required (not required: note)",)
    loose = output_schema({"type": "object", "properties": {"a": {"type": "string"}}})
    assert any("additionalProperties" in p for p in loose.strict_problems)


def test_openais_whole_response_format_object_is_accepted():
    schema = output_schema({"type": "json_schema", "json_schema": {
        "name": "route", "schema": {"type": "object", "properties": {}}}})
    assert schema.name == "route" and schema.schema == {"type": "object", "properties": {}}


@pytest.mark.parametrize("bad, words", [
    ({"type": "objekt"}, "not a valid JSON schema"),
    ({"type": "string"}, "object at its root"),
    ({"type": "object", "x": object()}, "not JSON"),
    (Route(team="billing", priority=1), "not Route"),
    ("json", "not str"),
])
def test_a_response_format_that_cannot_be_used_is_refused_before_sending(bad, words):
    with pytest.raises(InvalidRequestError) as caught:
        output_schema(bad)
    assert words in str(caught.value) or words in caught.value.message + type(bad).__name__


def test_parse_returns_the_model_or_the_dict():
    assert output_schema(Route).parse('{"team": "billing", "priority": 2}') == Route(team="billing", priority=2)
    schema = output_schema({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    assert schema.parse('{"n": 4}') == {"n": 4}


@pytest.mark.parametrize("text, problem", [
    ("Sure! The team is billing.", "not JSON"),
    ('{"team": "billing", "priority": 7}', "priority"),
    ('{"team": "sales", "priority": 1}', "team"),
    ('{"team": "billing"}', "priority"),
])
def test_an_answer_that_does_not_fit_is_a_structured_output_error(text, problem):
    with pytest.raises(StructuredOutputError) as caught:
        output_schema(Route).parse(text, provider="mock")
    error = caught.value
    assert error.raw == text and any(problem in p for p in error.problems)
    assert error.provider == "mock" and error.hint


def test_the_error_never_shows_the_answers_values():
    secret = "sk-proj-ABCDEF0123456789"
    closed = {"type": "object", "properties": {"team": {"enum": ["billing"]}}, "additionalProperties": False}
    wrong_value, prose = f'{{"team": "{secret}", "priority": 1}}', f"my key is {secret}"
    extra_key = f'{{"team": "billing", "{secret}": 1}}'  # a pydantic class ignores extra keys; a dict schema not
    for text, schema in ((wrong_value, Route), (prose, Route), (wrong_value, closed), (prose, closed),
                         (extra_key, closed)):
        with pytest.raises(StructuredOutputError) as caught:
            output_schema(schema).parse(text)
        error = caught.value
        assert secret not in str(error) and secret not in repr(error)
        assert secret not in " ".join(error.problems)
        assert error.raw == text
        assert pickle.loads(pickle.dumps(error)).raw == text


def test_a_cut_answer_hints_at_max_tokens():
    with pytest.raises(StructuredOutputError) as caught:
        output_schema(Route).parse('{"team": "bil', finish_reason="length")
    assert "max_tokens" in caught.value.hint


@pytest.mark.parametrize("schema", [
    output_schema(Route).schema,
    output_schema(TicketFields).schema,
    {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "minItems": 2},
        "when": {"type": "string", "format": "date"}, "score": {"type": "number", "exclusiveMinimum": 0,
                                                                 "maximum": 1},
        "kind": {"const": "ticket"}, "nested": {"$ref": "#/$defs/Inner"}, "maybe": {"type": ["null", "boolean"]}},
     "$defs": {"Inner": {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z][0-9]$"}},
                         "required": ["code"]}},
     "required": ["tags", "when", "score", "kind", "nested", "maybe"]},
])
@pytest.mark.parametrize("seed", ["a", "b", "c"])
def test_example_instances_fit_their_schema(schema, seed):
    instance = example_instance(schema, seed)
    assert list(Draft202012Validator(schema).iter_errors(instance)) == []


def test_example_instances_vary_with_the_prompt_and_repeat_for_the_same_one():
    schema = output_schema(TicketFields).schema
    values = {json.dumps(example_instance(schema, f"ticket {i}")) for i in range(12)}
    assert len(values) > 1
    assert example_instance(schema, "same") == example_instance(schema, "same")


async def test_mock_returns_a_valid_instance_and_parsed_none_without_a_format():
    mock = MockProvider()
    response = await mock.chat([Message.user("Route my ticket.")], response_format=TicketFields)
    assert isinstance(response.parsed, TicketFields)
    assert response.parsed == TicketFields.model_validate_json(response.content)
    assert (await mock.chat([Message.user("Route my ticket.")])).parsed is None


async def test_mock_validates_a_reply_function_too():
    mock = MockProvider(reply=lambda messages: '{"team": "sales", "priority": 1}')
    with pytest.raises(StructuredOutputError):
        await mock.chat([Message.user("x")], response_format=Route)


class TwoMethods:
    """A student's provider: only chat and chat_stream, no response_format."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.seen: list[list[Message]] = []

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        self.seen.append(list(messages))
        text = self.answers.pop(0)
        return ChatResponse(content=text, model="two", provider="two", usage=Usage(5, 7),
                            finish_reason="stop", latency_s=0.01)

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        yield (await self.chat(messages)).content


async def test_ask_structured_uses_native_enforcement_where_chat_takes_it():
    mock = MockProvider()
    assert takes_response_format(mock) and not takes_response_format(TwoMethods([]))
    answer = await ask_structured(mock, [Message.user("Route my ticket.")], Route)
    assert answer.method == "native" and isinstance(answer.parsed, Route) and len(answer.responses) == 1


async def test_ask_structured_prompts_a_two_method_class_with_the_schema():
    student = TwoMethods(['Here you go: ```json\n{"team": "technical", "priority": 3}\n```'])
    answer = await ask_structured(student, [Message.user("The app crashes.")], Route)
    assert answer.method == "prompted" and answer.parsed == Route(team="technical", priority=3)
    system = student.seen[0][0]
    assert system.role == "system" and output_schema(Route).text in system.content


async def test_ask_structured_retries_once_with_the_validation_error_in_the_prompt():
    student = TwoMethods(['{"team": "sales", "priority": 9}', '{"team": "billing", "priority": 2}'])
    answer = await ask_structured(student, [Message.user("Charged twice.")], Route)
    assert answer.method == "prompted+retry" and answer.parsed == Route(team="billing", priority=2)
    retry = student.seen[1]
    assert retry[-2] == Message("assistant", '{"team": "sales", "priority": 9}')
    assert "team" in retry[-1].content and "priority" in retry[-1].content  # the problems, quoted back
    assert answer.usage == Usage(10, 14) and len(answer.responses) == 2


async def test_ask_structured_gives_up_after_the_retry_with_the_last_answer_kept():
    student = TwoMethods(["no idea", "still no idea"])
    with pytest.raises(StructuredOutputError) as caught:
        await ask_structured(student, [Message.user("?")], Route)
    assert caught.value.raw == "still no idea" and "2 prompted attempts" in str(caught.value)


def test_import_of_workbook_ai_does_not_import_jsonschema():
    import subprocess
    import sys

    code = "import sys, workbook.ai; print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "jsonschema is only needed once a dict schema is used"
