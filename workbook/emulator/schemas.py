"""The JSON schema a request asks its answer to follow, read from its protocol's own field and
checked the way that service checks it, before any answer is generated.

Each function returns the schema (``None`` when the request asks for free text) or raises
``SchemaRefused`` with the message the protocol module renders in its own 400 shape. The
*shape* of each field (types, required members) is checked earlier, in ``validation``; this
module checks what is inside: a valid JSON schema, and OpenAI's strict-mode rules.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from ..ai.structured import NAME_PATTERN

# JSON mode (OpenAI's "json_object", Ollama's "json"): any JSON object will do.
ANY_OBJECT = {"type": "object"}


class SchemaRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _draft_problem(schema: Any) -> str | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return error.message
    return None


def _objects(node: Any, context: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """Every object schema in ``node`` with its context, as OpenAI's messages name it."""
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node:
        yield context, node
    for key in ("properties", "$defs", "definitions"):
        for name, child in (node.get(key) or {}).items():
            yield from _objects(child, (*context, key, name))
    if isinstance(node.get("items"), dict):
        yield from _objects(node["items"], (*context, "items"))
    for key in ("anyOf", "allOf", "oneOf"):
        for index, child in enumerate(node.get(key) or []):
            yield from _objects(child, (*context, key, str(index)))


def openai_schema(body: dict) -> dict | None:
    """``response_format`` of a chat-completions body (OpenAI, Azure OpenAI, vLLM, LM Studio).

    The messages follow OpenAI's 400s for these cases as public issue threads quote them
    (2024-2026), e.g. "Invalid schema for response_format 'X': In context=(),
    'additionalProperties' is required to be supplied and to be false."."""
    response_format = body.get("response_format")
    if not response_format or response_format["type"] == "text":
        return None
    if response_format["type"] == "json_object":
        return ANY_OBJECT
    definition = response_format["json_schema"]
    name = definition["name"]
    if not NAME_PATTERN.match(name):
        raise SchemaRefused("Invalid 'response_format.json_schema.name': string does not match pattern. "
                            "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.")
    schema = definition.get("schema") or ANY_OBJECT
    problem = _draft_problem(schema)
    if problem is not None:
        raise SchemaRefused(f"Invalid schema for response_format '{name}': {problem}")
    if definition.get("strict"):
        if schema.get("type") != "object":
            raise SchemaRefused(f"Invalid schema for response_format '{name}': schema must be a JSON Schema "
                                "of 'type: \"object\"', got 'type: \"" + str(schema.get("type")) + "\"'.")
        for context, node in _objects(schema):
            if node.get("additionalProperties") is not False:
                raise SchemaRefused(f"Invalid schema for response_format '{name}': In context={context!r}, "
                                    "'additionalProperties' is required to be supplied and to be false.")
            missing = [key for key in (node.get("properties") or {}) if key not in (node.get("required") or [])]
            if missing:
                raise SchemaRefused(f"Invalid schema for response_format '{name}': In context={context!r}, "
                                    "'required' is required to be supplied and to be an array including "
                                    f"every key in properties. Missing '{missing[0]}'.")
    return schema


def bedrock_schema(body: dict) -> dict | None:
    """``outputConfig.textFormat`` of a Converse body: the schema travels as a JSON string.

    Bedrock validates it against its supported subset of draft 2020-12 and answers 400 at once
    when it fails (verified 2026-12-01, Bedrock user guide "Get validated JSON results from
    models"); the wording of the message here is the emulator's own."""
    text_format = (body.get("outputConfig") or {}).get("textFormat")
    if not text_format:
        return None
    text = text_format["structure"]["jsonSchema"]["schema"]
    try:
        schema = json.loads(text)
    except ValueError:
        raise SchemaRefused("The JSON schema in outputConfig.textFormat is not valid JSON.") from None
    problem = _draft_problem(schema) if isinstance(schema, dict) else "the schema must be a JSON object"
    if problem is not None:
        raise SchemaRefused(f"The JSON schema in outputConfig.textFormat is invalid: {problem}")
    return schema


def ollama_schema(body: dict) -> dict | None:
    """``format`` of an ``/api/chat`` body: ``"json"`` or a JSON schema object (the message of
    its 400 is the emulator's own wording)."""
    given = body.get("format")
    if not given:
        return None
    if given == "json":
        return ANY_OBJECT
    problem = _draft_problem(given)
    if problem is not None:
        raise SchemaRefused(f"invalid JSON schema in format: {problem}")
    return given
