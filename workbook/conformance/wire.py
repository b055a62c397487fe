"""What the conformance suite knows about each wire protocol.

The provider types the emulator can stand in for (``PROTOCOLS``), the emulator's name for
each one's wire protocol (``WIRE``), the settings field holding its URL (``URL_FIELD``), and
what a correct request looks like on each wire: the "request fields" check sends
``max_tokens=7, temperature=0.3`` and ``SYSTEM_PROMPT`` and ``_field_problems`` reads them
back out of the body the emulator received.
"""

from __future__ import annotations

from typing import Any

PROTOCOLS = ("openai", "azure_openai", "vllm", "lmstudio", "ollama", "bedrock")
# provider type -> the emulator's name for its wire protocol (fault targeting, log)
WIRE = {"openai": "openai", "vllm": "openai", "lmstudio": "openai", "azure_openai": "azure",
        "ollama": "ollama", "bedrock": "bedrock"}
URL_FIELD = {"openai": "openai_base_url", "vllm": "openai_base_url", "lmstudio": "openai_base_url",
             "azure_openai": "azure_openai_endpoint", "ollama": "ollama_base_url",
             "bedrock": "bedrock_endpoint_url"}

SYSTEM_PROMPT = "You are a conformance check."

_FIELD_OK = {
    "ollama": "options.num_predict=7, options.temperature=0.3, messages[0] is the system prompt",
    "openai": "max_tokens=7, temperature=0.3, messages[0] is the system prompt",
    "azure": "max_tokens=7, temperature=0.3, messages[0] is the system prompt",
    "bedrock": "inferenceConfig.maxTokens=7, temperature=0.3, top-level system prompt",
}
# Where each wire carries the request's limits: (label, path into the JSON body).
_LIMITS = {
    "openai": (("max_tokens", ("max_tokens",)), ("temperature", ("temperature",))),
    "azure": (("max_tokens", ("max_tokens",)), ("temperature", ("temperature",))),
    "ollama": (("options.num_predict", ("options", "num_predict")),
               ("options.temperature", ("options", "temperature"))),
    "bedrock": (("inferenceConfig.maxTokens", ("inferenceConfig", "maxTokens")),
                ("inferenceConfig.temperature", ("inferenceConfig", "temperature"))),
}


def _lookup(body: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        body = body.get(key) if isinstance(body, dict) else None
    return body


def _field_problems(wire: str, body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the request body is not a JSON object"]
    (tokens_label, tokens_path), (temperature_label, temperature_path) = _LIMITS[wire]
    tokens = _lookup(body, tokens_path)
    if tokens is None and wire in ("openai", "azure"):  # the newer name for the same limit
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
        messages = body.get("messages") or [{}]
        if messages[0].get("role") != "system" or messages[0].get("content") != SYSTEM_PROMPT:
            problems.append("messages[0] is not the system prompt")
    return problems
