"""Structured output, the parts no protocol owns: the schema, the check, the error, the helper.

``chat(messages, response_format=X)`` takes ``X`` as a pydantic model class or a JSON-schema
dict. ``output_schema(X)`` turns it into one ``OutputSchema`` -- its name, its JSON schema, and
how to validate an answer against it -- once per model class (cached), so a call pays for a
dictionary lookup, not a schema build. Each provider then only places ``OutputSchema.schema``
in its protocol's own field and calls ``OutputSchema.parse`` on the answer: an answer that
does not fit raises ``StructuredOutputError`` with the raw text kept on the error but out of
its message.

``ask_structured(provider, messages, X)`` asks *any* provider for a structured answer: the
provider's own enforcement where its ``chat`` takes ``response_format``, otherwise the schema
in the instructions, validation, and one retry that quotes what did not fit.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import InvalidRequestError, StructuredOutputError
from .types import ChatResponse, Message, Usage, coerce_messages

# OpenAI's rule for json_schema.name (verified 2026-12-01, OpenAI API reference, ResponseFormatJSONSchema:
# "a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64").
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_NAME = "answer"


@dataclass(frozen=True, eq=False)
class OutputSchema:
    """One response format, normalised: what every provider sends and how answers are checked.

    ``schema`` is a JSON schema (draft 2020-12) whose root is an object; ``model`` is the
    pydantic class it came from, or ``None`` for a schema given as a dict (answers are then
    checked with ``jsonschema`` and returned as dicts). Treat ``schema`` as read-only: it is
    shared by every call that uses the same format.
    """

    name: str
    schema: dict
    model: type[BaseModel] | None = None

    @functools.cached_property
    def text(self) -> str:
        """The schema as compact JSON text (Bedrock carries it as a string; prompts quote it)."""
        return json.dumps(self.schema, separators=(",", ":"), ensure_ascii=False)

    @functools.cached_property
    def strict_problems(self) -> tuple[str, ...]:
        """What OpenAI's strict mode refuses in this schema (empty when it is fine)."""
        return tuple(_strict_problems(self.schema))

    @functools.cached_property
    def _validator(self):
        from jsonschema import Draft202012Validator  # only dict schemas need it

        return Draft202012Validator(self.schema)

    def problems(self, data: Any) -> tuple[str, ...]:
        """What in ``data`` does not fit the schema, as paths and rules, never values."""
        if self.model is not None:
            try:
                self.model.model_validate(data)
            except ValidationError as error:
                return _pydantic_problems(error)
            return ()
        return tuple(_describe_schema_error(e) for e in
                     sorted(self._validator.iter_errors(data), key=lambda e: list(e.path)))

    def parse(self, text: str, *, provider: str = "", finish_reason: str | None = None):
        """The answer as the model instance (or dict); ``StructuredOutputError`` if it does not fit."""
        if self.model is not None:
            try:
                # pydantic reads the JSON text itself, as a program on the raw SDK would: the
                # answer that fits (nearly every one) is parsed once, not decoded then validated.
                return self.model.model_validate_json(text)
            except ValidationError:
                pass  # said below, from the text: not JSON, or which fields do not fit
        try:
            data = json.loads(text)
        except ValueError as error:
            message = getattr(error, "msg", "not JSON")
            where = f" at character {error.pos} of {len(text)}" if hasattr(error, "pos") else ""
            raise StructuredOutputError(
                f"the answer for {self.name!r} is not JSON ({message}{where})",
                provider=provider, raw=text, problems=(f"not JSON: {message}",),
                hint=self._hint(finish_reason, not_json=True)) from None
        if self.model is not None:
            try:
                return self.model.model_validate(data)
            except ValidationError as error:
                problems = _pydantic_problems(error)
        else:
            problems = self.problems(data)
            if not problems:
                return data
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        raise StructuredOutputError(
            f"the answer is JSON but does not fit {self.name!r}: {shown}",
            provider=provider, raw=text, problems=problems, hint=self._hint(finish_reason, not_json=False))

    def _hint(self, finish_reason: str | None, *, not_json: bool) -> str:
        if finish_reason == "length":
            return "The answer was cut at max_tokens before it was complete: raise max_tokens."
        if not_json:
            return ("The model did not answer in JSON: pass response_format= to a provider that enforces it, "
                    "or use ask_structured (instructions, validation and one retry).")
        return ("Read error.problems; enforcement fixes the format, not the content: "
                "tighten the schema (enums, required fields) or the instructions.")


# -- building an OutputSchema ------------------------------------------------------------

def output_schema(response_format) -> OutputSchema | None:
    """``response_format`` (a pydantic model class, a JSON-schema dict, or an ``OutputSchema``)
    normalised; ``None`` stays ``None``. Raises ``InvalidRequestError`` before anything is sent."""
    if response_format is None or isinstance(response_format, OutputSchema):
        return response_format
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        return _from_model(response_format)
    if isinstance(response_format, dict):
        try:
            key = json.dumps(response_format, sort_keys=True)
        except (TypeError, ValueError) as error:
            raise InvalidRequestError(
                f"response_format is a dict that is not JSON: {error}",
                hint="A schema dict holds only JSON values (str, int, float, bool, None, list, dict).") from None
        return _from_dict(key)
    raise InvalidRequestError(
        f"response_format must be a pydantic model class or a JSON-schema dict, not {type(response_format).__name__}",
        hint="Pass the class itself (response_format=Ticket), not an instance, or a dict like "
             '{"type": "object", "properties": {...}}.')


def provider_schema(response_format, provider: str, check=None) -> OutputSchema | None:
    """``output_schema`` for a provider's ``chat``: errors name the provider, and ``check``
    (the provider's own rules, e.g. strict mode's) runs before anything is sent."""
    try:
        schema = output_schema(response_format)
        if schema is not None and check is not None:
            check(schema)
    except InvalidRequestError as error:
        error.provider = error.provider or provider
        raise
    return schema


def refuse_unless_strict(schema: OutputSchema, provider: str) -> None:
    """Strict mode's rules (OpenAI, Azure OpenAI) checked here, so a schema the service would
    answer 400 for fails before it is sent, saying what to change."""
    if schema.strict_problems:
        raise InvalidRequestError(
            f"{provider} enforces response_format in strict mode, which refuses {schema.name!r}: "
            + "; ".join(schema.strict_problems),
            provider=provider,
            hint="Strict mode needs every property required and additionalProperties false on each object: "
                 "for a pydantic class, give every field no default (use `X | None` for an optional value).")


@functools.lru_cache(maxsize=256)
def _from_model(model: type[BaseModel]) -> OutputSchema:
    schema = model.model_json_schema()
    # pydantic ignores extra keys by default, so forbidding them in the schema asks the model
    # for nothing the class would not accept, and lets strict mode (which requires it) take it.
    _close_objects(schema)
    return _checked(OutputSchema(_safe_name(model.__name__), schema, model))


@functools.lru_cache(maxsize=256)
def _from_dict(key: str) -> OutputSchema:
    given = json.loads(key)
    name = None
    if given.get("type") == "json_schema" and isinstance(given.get("json_schema"), dict):
        # OpenAI's whole response_format object, as a student may copy it from its docs.
        name = given["json_schema"].get("name")
        given = given["json_schema"].get("schema")
        if not isinstance(given, dict):
            raise InvalidRequestError("response_format's json_schema has no schema object",
                                      hint='Put the JSON schema under json_schema["schema"].')
    name = name or given.get("title") or DEFAULT_NAME
    return _checked(OutputSchema(_safe_name(str(name)), given, None))


def _checked(schema: OutputSchema) -> OutputSchema:
    """A schema every backend could take: valid draft 2020-12, with an object at its root."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema.schema)
    except SchemaError as error:
        raise InvalidRequestError(
            f"response_format {schema.name!r} is not a valid JSON schema: at {_dotted(error.path) or 'its root'}, "
            f"{error.message}", hint="Fix the schema (see json-schema.org); nothing was sent.") from None
    if schema.schema.get("type") != "object":
        raise InvalidRequestError(
            f"response_format {schema.name!r} must describe an object at its root "
            f"(\"type\": \"object\"), not {schema.schema.get('type', 'anything')!r}",
            hint="Wrap the value in an object: {\"type\": \"object\", \"properties\": {\"value\": ...}}.")
    return schema


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
    return cleaned if NAME_PATTERN.match(cleaned) else DEFAULT_NAME


def _subschemas(node: Any):
    """Every schema object inside ``node`` (itself included)."""
    if isinstance(node, dict):
        yield node
        for key in ("properties", "$defs", "definitions", "patternProperties"):
            for child in (node.get(key) or {}).values():
                yield from _subschemas(child)
        for key in ("items", "additionalProperties", "not", "contains"):
            if isinstance(node.get(key), dict):
                yield from _subschemas(node[key])
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for child in node.get(key) or []:
                yield from _subschemas(child)


def _is_object(node: dict) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


def _close_objects(schema: dict) -> None:
    for node in _subschemas(schema):
        if _is_object(node):
            node.setdefault("additionalProperties", False)


def _strict_problems(schema: dict):
    """OpenAI's strict mode: every object lists all its properties as required and sets
    additionalProperties to false (verified 2026-12-01: OpenAI Structured Outputs guide,
    "Supported schemas"; its 400 reads "'additionalProperties' is required to be supplied and
    to be false" -- public issue threads quoting the API, e.g. dottxt-ai/outlines#844)."""
    for node in _subschemas(schema):
        if not _is_object(node):
            continue
        title = node.get("title") or "the root object"
        if node.get("additionalProperties") is not False:
            yield f"{title}: 'additionalProperties' must be false"
        missing = [name for name in (node.get("properties") or {}) if name not in (node.get("required") or [])]
        if missing:
            yield f"{title}: every property must be required (not required: {', '.join(missing)})"


def _dotted(path) -> str:
    return ".".join(str(part) for part in path)


def _pydantic_problems(error: ValidationError) -> tuple[str, ...]:
    """pydantic's errors as path + rule, without the input values its str() would show."""
    return tuple(f"{_dotted(e['loc']) or 'the answer'}: {e['msg']}" for e in error.errors(include_input=False))


def _describe_schema_error(error) -> str:
    """A jsonschema error as path + rule, from the schema's side only (its message quotes the answer)."""
    where = _dotted(error.absolute_path) or "the answer"
    rule, expected = error.validator, error.validator_value
    if rule == "required":
        missing = [name for name in expected if isinstance(error.instance, dict) and name not in error.instance]
        return f"{where}: missing required {', '.join(map(repr, missing)) or 'properties'}"
    if rule == "additionalProperties":
        return f"{where}: has properties the schema does not allow"
    if rule == "enum":
        return f"{where}: must be one of {', '.join(map(repr, expected))}"
    if rule == "type":
        return f"{where}: must be of type {expected}"
    if rule == "const":
        return f"{where}: must be {expected!r}"
    return f"{where}: fails {rule!r} ({str(expected)[:60]})"


# -- a valid instance (the mock provider and the emulator's scripted backend) -------------

def example_instance(schema: dict, seed: str = "") -> Any:
    """A deterministic value that fits ``schema``, varied by ``seed`` (same seed, same value).

    Covers what schemas for extraction use: objects, arrays, enums, const, strings with
    lengths and common formats, bounded numbers, booleans, null, $ref into $defs, anyOf/oneOf.
    """
    root = schema

    def pick(options: list, path: str):
        digest = hashlib.sha256(f"{seed}\x1e{path}".encode()).digest()
        return options[digest[0] % len(options)]

    def resolve(node: dict) -> dict:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 32:
            target: Any = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target.get(part, {}) if part else target
            node, seen = target, seen + 1
        return node

    def build(node: Any, path: str, depth: int):
        node = resolve(node) if isinstance(node, dict) else {}
        if "const" in node:
            return node["const"]
        if node.get("enum"):
            return pick(node["enum"], path)
        for key in ("anyOf", "oneOf"):
            if node.get(key):
                # The first option a value can be made for: a free value first, null next,
                # a patterned string (which only a regex engine could fill) last.
                options = sorted(node[key], key=lambda o: (resolve(o).get("type") == "null",
                                                           "pattern" in resolve(o)))
                return build(options[0], path, depth)
        if node.get("allOf"):
            merged: dict = {}
            for part in node["allOf"]:
                merged.update(resolve(part))
            return build(merged, path, depth)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object" or (kind is None and "properties" in node):
            return {name: build(child, f"{path}.{name}", depth + 1)
                    for name, child in (node.get("properties") or {}).items()}
        if kind == "array":
            count = max(int(node.get("minItems", 1)), 0)
            if "maxItems" in node:
                count = min(count, int(node["maxItems"]))
            if depth > 8:
                count = int(node.get("minItems", 0))
            return [build(node.get("items", {}), f"{path}[{i}]", depth + 1) for i in range(count)]
        if kind == "string":
            return _example_string(node, path, pick)
        if kind in ("integer", "number"):
            return _example_number(node, kind, path, pick)
        if kind == "boolean":
            return pick([True, False], path)
        if kind == "null":
            return None
        return "scripted"

    return build(schema, "", 0)


_FORMATS = {"date": "2026-12-01", "date-time": "2026-12-01T12:00:00Z", "time": "12:00:00Z",
            "email": "student@example.com", "uri": "https://example.com/", "uuid": "00000000-0000-4000-8000-000000000000"}


def _example_string(node: dict, path: str, pick) -> str:
    if node.get("format") in _FORMATS:
        return _FORMATS[node["format"]]
    if "pattern" in node:
        # No regex-to-text engine here: try a few shapes patterns for ids and codes accept.
        for candidate in ("12345", "A1", "ABC-123", "scripted", "0"):
            if re.search(node["pattern"], candidate):
                return candidate
    words = path.rsplit(".", 1)[-1].replace("_", " ").strip() or "value"
    text = f"scripted {words}"
    low, high = int(node.get("minLength", 0)), node.get("maxLength")
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None:
        text = text[: int(high)]
    return text


def _example_number(node: dict, kind: str, path: str, pick):
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    low = 0 if low is None else low + (1 if "exclusiveMinimum" in node and "minimum" not in node else 0)
    high = low + 9 if high is None else high - (1 if "exclusiveMaximum" in node and "maximum" not in node else 0)
    value = pick(list(range(int(low), int(high) + 1)) or [int(low)], path) if high >= low else low
    return int(value) if kind == "integer" else float(value)


# -- any provider: ask_structured ---------------------------------------------------------

def takes_response_format(provider) -> bool:
    """Does ``provider.chat`` take ``response_format=`` (a built-in, or a class that adds it)?"""
    chat = getattr(provider, "chat", None)
    if chat is None:
        return False
    try:
        return "response_format" in inspect.signature(chat).parameters
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class StructuredAnswer:
    """What ``ask_structured`` got: the validated value and how it was obtained.

    ``method`` is ``"native"`` (the provider enforced the schema itself), ``"prompted"``
    (the schema was in the instructions and the first answer fitted) or ``"prompted+retry"``
    (the second answer, after the first one's problems were quoted back, fitted).
    ``responses`` holds every ``ChatResponse`` the provider returned, in order.
    """

    parsed: Any
    method: str
    responses: tuple[ChatResponse, ...]

    @property
    def content(self) -> str:
        return self.responses[-1].content

    @property
    def usage(self) -> Usage:
        """Tokens over every call (``None`` where any call reported none)."""
        inputs = [r.usage.input_tokens for r in self.responses]
        outputs = [r.usage.output_tokens for r in self.responses]
        return Usage(None if None in inputs else sum(inputs), None if None in outputs else sum(outputs))

    @property
    def latency_s(self) -> float:
        return sum(r.latency_s for r in self.responses)


def instructions(schema: OutputSchema) -> str:
    """The system instruction the prompted path adds: the schema, and nothing but JSON."""
    return ("Answer with one JSON object and nothing else: no prose, no code fence. "
            f"It must match this JSON schema: {schema.text}")


def _json_part(text: str) -> str:
    """The JSON object inside a prompted answer: a model may wrap it in a code fence or a sentence."""
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.DOTALL)
    if fenced:
        return fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


async def ask_structured(provider, messages, response_format, *, max_tokens: int | None = None,
                         temperature: float | None = None, retries: int = 1) -> StructuredAnswer:
    """A structured answer from any provider -- a built-in or a class with only ``chat`` and
    ``chat_stream`` -- validated against ``response_format`` (a pydantic class or a schema dict).

    Native where ``provider.chat`` takes ``response_format``; otherwise the schema goes into a
    system instruction, the answer is validated, and up to ``retries`` more calls quote the
    problems back. Raises ``StructuredOutputError`` (the last answer's) when none fits.
    """
    schema = output_schema(response_format)
    if schema is None:
        raise InvalidRequestError("ask_structured needs a response_format",
                                  hint="Pass a pydantic model class or a JSON-schema dict.")
    messages = coerce_messages(messages)
    limits = {key: value for key, value in (("max_tokens", max_tokens), ("temperature", temperature))
              if value is not None}
    if takes_response_format(provider):
        response = await provider.chat(messages, response_format=schema, **limits)
        parsed = getattr(response, "parsed", None)
        if parsed is None:  # a class that takes the argument but leaves parsing to us
            parsed = schema.parse(response.content, provider=getattr(response, "provider", ""),
                                  finish_reason=getattr(response, "finish_reason", None))
        return StructuredAnswer(parsed, "native", (response,))
    conversation = [Message("system", instructions(schema)), *messages]
    responses: list[ChatResponse] = []
    for attempt in range(retries + 1):
        response = await provider.chat(conversation, **limits)
        responses.append(response)
        try:
            parsed = schema.parse(_json_part(response.content), provider=getattr(response, "provider", ""),
                                  finish_reason=getattr(response, "finish_reason", None))
        except StructuredOutputError as error:
            if attempt == retries:
                error.message = f"{error.message} (after {len(responses)} prompted attempts)"
                error.args = (error.message,)
                raise
            conversation = [*conversation, Message("assistant", response.content), Message(
                "user", "That answer does not fit the schema: " + "; ".join(error.problems)
                        + ". Answer again with only the corrected JSON object.")]
            continue
        return StructuredAnswer(parsed, "prompted" if attempt == 0 else "prompted+retry", tuple(responses))
    raise AssertionError("unreachable")  # the loop returns or raises


__all__ = ["OutputSchema", "output_schema", "example_instance", "ask_structured", "StructuredAnswer",
           "takes_response_format", "instructions"]
