"""Odd request bodies get each protocol's own 400, never a 500 or a traceback.

A seeded fuzzer takes a valid body for each route (OpenAI, Azure's two routes, Ollama,
Bedrock's Converse and ConverseStream), changes one thing in it -- a value replaced by one
of the wrong type, a field removed, the whole body replaced, the bytes garbled -- and sends
it with plain httpx (an SDK would refuse to send most of these). Whatever comes back must
be a status below 500, in the error shape that protocol uses when it is 4xx, and nothing
may be printed on the emulator's side.
"""

from __future__ import annotations

import copy
import json
import random

import httpx
import pytest

SEED = 11
REQUESTS = 360

WEIRD_VALUES = [
    5, -1, 0, 1.5, 10**30, True, False, None, "x", "", "\ud800", "💥💥", [], {}, [5], ["x"],
    [{"x": 1}], {"a": [1]}, [[[[[]]]]], float("nan"), float("inf"), {"text": 5}, [{"text": 5}],
    [{"type": "text", "text": 5}], [{"type": 5}], {"role": "user"},
]
GARBLED_BODIES = [
    b"", b"{", b"null", b"[]", b"5", b'"text"', b"\xff\xfe{}", b'{"model": "\xff"}',
    b"[" * 5000 + b"]" * 5000, b"NaN", b"{'single': 'quotes'}",
]


def _openai_body(model: str | None = "gpt-4o-mini", stream: bool = False) -> dict:
    body = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "max_tokens": 8, "temperature": 0.5, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body if model is None else {"model": model, **body}


def _ollama_body(stream: bool) -> dict:
    return {"model": "llama3.2", "messages": [{"role": "user", "content": "Hi", "images": []}],
            "stream": stream, "options": {"num_predict": 8, "temperature": 0.1}}


def _bedrock_body() -> dict:
    return {"messages": [{"role": "user", "content": [{"text": "Hi"}]}],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 8, "temperature": 0.5, "topP": 0.9,
                                "stopSequences": ["END"]}}


def _openai_shaped(response: httpx.Response) -> bool:
    error = response.json().get("error")
    return isinstance(error, dict) and isinstance(error.get("message"), str)


def _azure_shaped(response: httpx.Response) -> bool:
    error = response.json().get("error")
    return isinstance(error, dict) and {"code", "message"} <= set(error)


def _ollama_shaped(response: httpx.Response) -> bool:
    return isinstance(response.json().get("error"), str)


def _bedrock_shaped(response: httpx.Response) -> bool:
    kind = response.headers.get("x-amzn-ErrorType", "")
    return bool(kind) and isinstance(response.json().get("message"), str)


BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1%3A0"
AWS_SIGNATURE = {"authorization": "AWS4-HMAC-SHA256 Credential=emulator/20261130/us-east-1/"
                                  "bedrock/aws4_request, SignedHeaders=host, Signature=00"}

# route name -> (path, headers, valid body, "is this error in the protocol's shape?")
ROUTES = {
    "openai": ("/v1/chat/completions", {"authorization": "Bearer k"}, _openai_body(), _openai_shaped),
    "openai-stream": ("/v1/chat/completions", {"authorization": "Bearer k"},
                      _openai_body(stream=True), _openai_shaped),
    "azure-deployment": ("/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
                         {"api-key": "emulator-key"}, _openai_body(model=None), _azure_shaped),
    "azure-v1": ("/openai/v1/chat/completions", {"api-key": "emulator-key"},
                 _openai_body(stream=True), _azure_shaped),
    "ollama": ("/api/chat", {}, _ollama_body(stream=False), _ollama_shaped),
    "ollama-stream": ("/api/chat", {}, _ollama_body(stream=True), _ollama_shaped),
    "bedrock": (f"/model/{BEDROCK_MODEL}/converse", AWS_SIGNATURE, _bedrock_body(), _bedrock_shaped),
    "bedrock-stream": (f"/model/{BEDROCK_MODEL}/converse-stream", AWS_SIGNATURE, _bedrock_body(),
                       _bedrock_shaped),
}


def _paths(value, prefix=()) -> list[tuple]:
    """Every place inside a JSON value, as a tuple of keys and indices."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


def _mutate(body: dict, rng: random.Random) -> tuple[str, bytes]:
    """One change to a valid body: what was done, and the bytes to send."""
    roll = rng.random()
    if roll < 0.08:
        garbled = rng.choice(GARBLED_BODIES)
        return f"raw {garbled[:20]!r}", garbled
    body = copy.deepcopy(body)
    path = rng.choice(_paths(body)[1:])
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if roll < 0.25 and isinstance(parent, dict):
        del parent[path[-1]]
        change = f"deleted {path}"
    elif roll < 0.3 and isinstance(parent, dict):
        parent["unexpected_" + str(rng.randrange(100))] = rng.choice(WEIRD_VALUES)
        change = f"added a field beside {path}"
    else:
        value = rng.choice(WEIRD_VALUES)
        parent[path[-1]] = value
        change = f"{path} = {value!r}"
    return change, json.dumps(body).encode()


def test_fuzzed_bodies_get_a_4xx_in_their_protocols_shape_and_no_noise(fresh_emu, noise):
    rng = random.Random(SEED)
    failures, statuses = [], {}
    with httpx.Client(base_url=fresh_emu.url, timeout=10) as http:
        for _ in range(REQUESTS):
            name = rng.choice(sorted(ROUTES))
            path, headers, valid, shaped = ROUTES[name]
            change, raw = _mutate(valid, rng)
            try:
                response = http.post(path, content=raw,
                                     headers={**headers, "content-type": "application/json"})
            except httpx.HTTPError as broken:  # the server dropped the connection: also a failure
                failures.append(f"{name}: {change} -> {type(broken).__name__}: {broken}")
                continue
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{name}: {change} -> {response.status_code} {response.text[:120]}")
            elif response.status_code >= 400:
                try:
                    ok = shaped(response)
                except ValueError:
                    ok = False
                if not ok:
                    failures.append(f"{name}: {change} -> {response.status_code} not in the "
                                    f"protocol's error shape: {response.text[:120]}")
    assert not failures, "\n".join(failures)
    # The fuzzer must really reach the validation: most changes are refused, some still pass.
    assert statuses.get(400, 0) > REQUESTS // 3 and statuses.get(200, 0) > 0, statuses
    assert noise() == [], "the emulator printed while answering odd bodies"


@pytest.mark.parametrize("name, change, wanted", [
    ("openai", ("model", 5), "'model': expected a string"),
    ("openai", (("messages", 1, "content", 0), 5), "'messages[1].content[0]': expected an object"),
    ("ollama", ("options", "x"), "'options': expected an object"),
    ("ollama", ("model", 5), "'model': expected a string"),
    ("bedrock", ("system", 5), "Value at 'system' failed to satisfy constraint"),
    ("bedrock", (("inferenceConfig", "maxTokens"), "8"), "Value at 'inferenceConfig.maxTokens'"),
])
def test_the_odd_bodies_issue_11_found_get_a_400_that_names_the_field(emu, name, change, wanted):
    path, headers, valid, shaped = ROUTES[name]
    where, value = change
    body = copy.deepcopy(valid)
    steps = where if isinstance(where, tuple) else (where,)
    parent = body
    for step in steps[:-1]:
        parent = parent[step]
    parent[steps[-1]] = value
    response = httpx.post(emu.url + path, json=body, headers=headers, timeout=10)
    assert response.status_code == 400 and shaped(response), response.text
    assert wanted in response.text


def test_a_missing_openai_message_list_is_named_as_missing(emu):
    response = httpx.post(emu.url + "/v1/chat/completions", json={"model": "gpt-4o-mini"},
                          headers={"authorization": "Bearer k"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_required_parameter"
    assert response.json()["error"]["param"] == "messages"
