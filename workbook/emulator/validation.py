"""Is a request body the shape its protocol accepts? The first problem found, or None.

A real service answers a body of the wrong shape (``"model": 5``, a content part that is a
number, ``"options": "x"``) with a 400 in its own error format. The emulator must do the
same and never let such a body reach code that assumes the right shape: that gave a 500
and a traceback in a student's notebook. Each check here returns a ``Problem``; each
protocol module renders it in its own words and error shape.

Only the fields the emulator reads are checked; unknown fields are ignored, as the real
services mostly do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
OLLAMA_ROLES = ("system", "user", "assistant", "tool")
BEDROCK_ROLES = ("user", "assistant")


@dataclass(frozen=True)
class Problem:
    """``path`` is where (``messages[0].content``), ``expected`` what was wanted there."""

    path: str
    expected: str
    value: Any
    missing: bool = False

    @property
    def got(self) -> str:
        return "nothing" if self.missing else describe(self.value)


def describe(value: Any) -> str:
    """A JSON value's kind, in the words error messages use."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string" if _encodable(value) else "a string with a lone surrogate"
    if isinstance(value, list):
        return "an array"
    return "an object"


class _Invalid(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


def _fail(path: str, expected: str, value: Any, *, missing: bool = False):
    raise _Invalid(Problem(path, expected, value, missing))


def _field(body: dict, name: str, path: str, check: Callable[[Any, str], None], *,
           required: bool = False, nullable: bool = True) -> None:
    """Check ``body[name]`` when present (or fail when ``required`` and absent)."""
    where = f"{path}.{name}" if path else name
    if name not in body:
        if required:
            _fail(where, _EXPECTED.get(check, "a value"), None, missing=True)
        return
    value = body[name]
    if value is None and nullable and not required:
        return
    check(value, where)


def _object(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _fail(path, "an object", value)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # JSON's "\ud800" escape decodes to a lone surrogate
        return False
    return True


def _string(value: Any, path: str) -> None:
    if not isinstance(value, str) or not _encodable(value):
        _fail(path, "a string of Unicode text", value)


def _boolean(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        _fail(path, "a boolean", value)


def _array(value: Any, path: str) -> None:
    if not isinstance(value, list):
        _fail(path, "an array", value)


def _string_array(value: Any, path: str) -> None:
    _array(value, path)
    for index, item in enumerate(value):
        _string(item, f"{path}[{index}]")


def _positive_integer(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(path, "an integer of at least 1", value)


def _integer_from(low: int) -> Callable[[Any, str], None]:
    def check(value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            _fail(path, f"an integer of at least {low}", value)
    return check


def _number_between(low: float, high: float) -> Callable[[Any, str], None]:
    def check(value: Any, path: str) -> None:
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or not low <= value <= high):
            _fail(path, f"a number from {low:g} to {high:g}", value)
    return check


def _one_of(*allowed: str) -> Callable[[Any, str], None]:
    def check(value: Any, path: str) -> None:
        if value not in allowed:
            _fail(path, "one of " + ", ".join(repr(a) for a in allowed), value)
    return check


_EXPECTED = {_object: "an object", _string: "a string", _array: "an array",
             _boolean: "a boolean", _positive_integer: "an integer of at least 1"}


def _run(check: Callable[[], None]) -> Problem | None:
    try:
        check()
    except _Invalid as invalid:
        return invalid.problem
    return None


# -- OpenAI and Azure OpenAI chat completions ----------------------------------------------

def _openai_content(value: Any, path: str) -> None:
    if isinstance(value, str):
        _string(value, path)
        return
    if not isinstance(value, list):
        _fail(path, "a string or an array of content parts", value)
    for index, part in enumerate(value):
        where = f"{path}[{index}]"
        _object(part, where)
        _field(part, "type", where, _string, required=True)
        if part["type"] == "text":
            _field(part, "text", where, _string, required=True)


def _openai_message(value: Any, path: str) -> None:
    _object(value, path)
    _field(value, "role", path, _string, required=True)
    _one_of(*OPENAI_ROLES)(value["role"], f"{path}.role")
    # Only an assistant turn (one that called tools) may have no content.
    _field(value, "content", path, _openai_content, required=value["role"] != "assistant")


def openai_chat(body: Any, *, model_in_body: bool) -> Problem | None:
    """A chat-completions body; Azure's deployment route names the model in its path."""
    def check() -> None:
        _object(body, "body")
        _field(body, "model", "", _string, required=model_in_body)
        _field(body, "messages", "", _array, required=True)
        if not body["messages"]:
            _fail("messages", "an array of at least one message", body["messages"])
        for index, message in enumerate(body["messages"]):
            _openai_message(message, f"messages[{index}]")
        _field(body, "max_tokens", "", _positive_integer)
        _field(body, "max_completion_tokens", "", _positive_integer)
        _field(body, "temperature", "", _number_between(0, 2))
        _field(body, "stream", "", _boolean)
        _field(body, "stream_options", "", _object)
        if isinstance(body.get("stream_options"), dict):
            _field(body["stream_options"], "include_usage", "stream_options", _boolean)
        _field(body, "response_format", "", _openai_response_format)
    return _run(check)


def _openai_response_format(value: Any, path: str) -> None:
    _object(value, path)
    _field(value, "type", path, _string, required=True)
    _one_of("text", "json_object", "json_schema")(value["type"], f"{path}.type")
    if value["type"] == "json_schema":
        _field(value, "json_schema", path, _object, required=True)
        inner, where = value["json_schema"], f"{path}.json_schema"
        _field(inner, "name", where, _string, required=True)
        _field(inner, "schema", where, _object)
        _field(inner, "strict", where, _boolean)


def openai_responses(body: Any) -> Problem | None:
    """A Responses API body: ``input`` is a string or a list of messages, the limit is
    ``max_output_tokens`` and structured output is ``text.format``."""
    def check() -> None:
        _object(body, "body")
        _field(body, "model", "", _string, required=True)
        if "input" not in body:
            _fail("input", "a string or an array of messages", None, missing=True)
        if not isinstance(body["input"], str):
            _field(body, "input", "", _array)
            for index, message in enumerate(body["input"]):
                _openai_message(message, f"input[{index}]")
        _field(body, "instructions", "", _string)
        _field(body, "max_output_tokens", "", _positive_integer)
        _field(body, "temperature", "", _number_between(0, 2))
        _field(body, "stream", "", _boolean)
        _field(body, "text", "", _object)
        if isinstance(body.get("text"), dict) and "format" in body["text"]:
            _responses_format(body["text"]["format"], "text.format")
    return _run(check)


def _responses_format(value: Any, path: str) -> None:
    _object(value, path)
    _field(value, "type", path, _string, required=True)
    _one_of("text", "json_object", "json_schema")(value["type"], f"{path}.type")
    if value["type"] == "json_schema":
        _field(value, "name", path, _string, required=True)
        _field(value, "schema", path, _object)
        _field(value, "strict", path, _boolean)


# -- Ollama /api/chat ----------------------------------------------------------------------

def _ollama_message(value: Any, path: str) -> None:
    _object(value, path)
    _field(value, "role", path, _string, required=True)
    _one_of(*OLLAMA_ROLES)(value["role"], f"{path}.role")
    _field(value, "content", path, _string)
    _field(value, "images", path, _string_array)


def ollama_chat(body: Any) -> Problem | None:
    """An ``/api/chat`` body. ``messages`` may be missing: that only loads the model."""
    def check() -> None:
        _object(body, "body")
        _field(body, "model", "", _string, required=True)
        _field(body, "messages", "", _array)
        for index, message in enumerate(body.get("messages") or []):
            _ollama_message(message, f"messages[{index}]")
        _field(body, "stream", "", _boolean)
        _field(body, "options", "", _object)
        options = body.get("options")
        if isinstance(options, dict):
            # Ollama reads num_predict -1 as "no limit"; the emulator then uses its default.
            _field(options, "num_predict", "options", _integer_from(-1))
            _field(options, "temperature", "options", _number_between(0, 2))
        _field(body, "format", "", _ollama_format)
    return _run(check)


def _ollama_format(value: Any, path: str) -> None:
    if value != "json" and value != "" and not isinstance(value, dict):
        _fail(path, '"json" or a JSON schema object', value)


# -- Bedrock Converse / ConverseStream -----------------------------------------------------

def _bedrock_blocks(value: Any, path: str) -> None:
    _array(value, path)
    for index, block in enumerate(value):
        where = f"{path}[{index}]"
        _object(block, where)
        _field(block, "text", where, _string, nullable=False)


def _bedrock_message(value: Any, path: str) -> None:
    _object(value, path)
    _field(value, "role", path, _string, required=True)
    _one_of(*BEDROCK_ROLES)(value["role"], f"{path}.role")
    _field(value, "content", path, _bedrock_blocks, required=True)


def bedrock_converse(body: Any) -> Problem | None:
    def check() -> None:
        _object(body, "body")
        _field(body, "messages", "", _array, required=True)
        for index, message in enumerate(body["messages"]):
            _bedrock_message(message, f"messages[{index}]")
        _field(body, "system", "", _bedrock_blocks)
        _field(body, "inferenceConfig", "", _object)
        config = body.get("inferenceConfig")
        if isinstance(config, dict):
            _field(config, "maxTokens", "inferenceConfig", _positive_integer)
            _field(config, "temperature", "inferenceConfig", _number_between(0, 1))
            _field(config, "topP", "inferenceConfig", _number_between(0, 1))
            _field(config, "stopSequences", "inferenceConfig", _string_array)
        _field(body, "outputConfig", "", _bedrock_output_config)
    return _run(check)


def _bedrock_output_config(value: Any, path: str) -> None:
    _object(value, path)
    _field(value, "textFormat", path, _object)
    text_format = value.get("textFormat")
    if isinstance(text_format, dict):
        where = f"{path}.textFormat"
        _field(text_format, "type", where, _string, required=True)
        _one_of("json_schema")(text_format["type"], f"{where}.type")
        _field(text_format, "structure", where, _object, required=True)
        _field(text_format["structure"], "jsonSchema", f"{where}.structure", _object, required=True)
        definition, inner = text_format["structure"]["jsonSchema"], f"{where}.structure.jsonSchema"
        _field(definition, "schema", inner, _string, required=True)
        _field(definition, "name", inner, _string)
        _field(definition, "description", inner, _string)
