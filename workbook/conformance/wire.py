"""What the conformance suite knows about each wire protocol.

The providers the emulator can stand in for, each one's wire protocol (``WIRE``, one of
the registry's ``PROTOCOLS``) and the settings field holding its URL (``URL_FIELD``) --
all read from the provider registry -- and
what a correct request looks like on each wire: the "request fields" check sends
``max_tokens=7, temperature=0.3`` and ``SYSTEM_PROMPT`` and ``_field_problems`` reads them
back out of the body the emulator received.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping



class _FromRegistry(Mapping[str, str]):
    """provider name -> one fact of its registry entry, for the providers that have a wire:
    read at each lookup, so a provider registered later is checked like a built-in one."""

    def __init__(self, fact: str):
        self._fact = fact

    def _table(self) -> dict[str, str]:
        from ..ai.registry import specs

        return {spec.name: getattr(spec, self._fact) for spec in specs()
                if spec.protocol is not None and spec.url_field is not None}

    def __getitem__(self, name: str) -> str:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return repr(self._table())


# provider type -> its wire protocol (the emulator's fault targeting and log use the same names)
WIRE: Mapping[str, str] = _FromRegistry("protocol")
# provider type -> the settings field holding its URL
URL_FIELD: Mapping[str, str] = _FromRegistry("url_field")

SYSTEM_PROMPT = "You are a conformance check."

# A wire's other way of saying "no such model", which the model check injects as well: Bedrock
# refuses a model it serves only through an inference profile (notebook 02).
MODEL_FAULT_TOO: Mapping[str, str] = {"bedrock": "needs_inference_profile"}

# The Responses API (AI__OPENAI_API=responses) on the openai and azure_openai wires: its own
# names for the same things (max_output_tokens, input, text.format), read by ``responses_view``.
RESPONSES_WIRES = ("openai", "azure_openai")

_FIELD_OK = {
    "responses": "POST .../responses, max_output_tokens=7, temperature=0.3, input[0] is the system prompt",
    "ollama": "options.num_predict=7, options.temperature=0.3, messages[0] is the system prompt",
    "openai": "max_tokens=7, temperature=0.3, messages[0] is the system prompt",
    "azure_openai": "max_tokens=7, temperature=0.3, messages[0] is the system prompt",
    "bedrock": "inferenceConfig.maxTokens=7, temperature=0.3, top-level system prompt",
}
# Where each wire carries the request's limits: (label, path into the JSON body).
_LIMITS = {
    "responses": (("max_output_tokens", ("max_output_tokens",)), ("temperature", ("temperature",))),
    "openai": (("max_tokens", ("max_tokens",)), ("temperature", ("temperature",))),
    "azure_openai": (("max_tokens", ("max_tokens",)), ("temperature", ("temperature",))),
    "ollama": (("options.num_predict", ("options", "num_predict")),
               ("options.temperature", ("options", "temperature"))),
    "bedrock": (("inferenceConfig.maxTokens", ("inferenceConfig", "maxTokens")),
                ("inferenceConfig.temperature", ("inferenceConfig", "temperature"))),
}


def _lookup(body: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        body = body.get(key) if isinstance(body, dict) else None
    return body


def responses_view(wire: str | None, openai_api: str | None) -> str | None:
    """The key of the tables here for a wire: "responses" for an OpenAI wire set to the
    Responses API, else the wire itself."""
    return "responses" if openai_api == "responses" and wire in RESPONSES_WIRES else wire


def _field_problems(wire: str, body: Any, path: str = "") -> list[str]:
    """What is wrong with a request body on ``wire`` (a key of these tables: "responses" too)."""
    if not isinstance(body, dict):
        return ["the request body is not a JSON object"]
    if wire == "responses" and not path.endswith("/responses"):
        return [f"the request went to {path}, not to the Responses API's .../responses"]
    (tokens_label, tokens_path), (temperature_label, temperature_path) = _LIMITS[wire]
    tokens = _lookup(body, tokens_path)
    if tokens is None and wire in ("openai", "azure_openai"):  # the newer name for the same limit
        tokens = body.get("max_completion_tokens")
    problems = []
    if tokens != 7:
        problems.append(f"{tokens_label} is {tokens!r}, not 7")
    temperature = _lookup(body, temperature_path)
    if temperature != 0.3:
        problems.append(f"{temperature_label} is {temperature!r}, not 0.3")
    if wire == "bedrock":
        system = body.get("system") or []
        if not any(isinstance(s, dict) and s.get("text") == SYSTEM_PROMPT for s in system):
            problems.append("the system prompt is not in the top-level system field")
        if any(m.get("role") == "system" for m in body.get("messages") or []):
            problems.append("a message has role 'system' (Bedrock has no such role)")
    else:
        messages = body.get("input" if wire == "responses" else "messages") or [{}]
        messages = messages if isinstance(messages, list) and isinstance(messages[0], dict) else [{}]
        if messages[0].get("role") != "system" or messages[0].get("content") != SYSTEM_PROMPT:
            problems.append("messages[0] is not the system prompt")
    return problems


# Where each wire carries the schema of chat(..., response_format=): the field's name, and a
# function giving the schema out of a request body (None when it is not there).
def _json_text(value):
    import json

    try:
        return json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None


SCHEMA_FIELD = {
    "openai": ("response_format.json_schema.schema",
               lambda body: ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")),
    "azure_openai": ("response_format.json_schema.schema",
                     lambda body: ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")),
    "responses": ("text.format.schema",
                  lambda body: ((body.get("text") or {}).get("format") or {}).get("schema")),
    "ollama": ("format", lambda body: body.get("format") if isinstance(body.get("format"), dict) else None),
    "bedrock": ("outputConfig.textFormat.structure.jsonSchema.schema (a JSON string)",
                lambda body: _json_text(((((body.get("outputConfig") or {}).get("textFormat") or {})
                                          .get("structure") or {}).get("jsonSchema") or {}).get("schema"))),
}
