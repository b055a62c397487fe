"""The OpenAI Responses API (``POST /v1/responses``, Azure's ``/openai/v1/responses``).

What the openai SDK's ``responses.create`` and ``responses.stream`` read: a ``response``
object whose ``output`` holds one assistant message of ``output_text`` parts, usage as
``input_tokens``/``output_tokens``, and a stream of typed server-sent events from
``response.created`` through ``response.output_text.delta`` to ``response.completed``.
Faults are the chat-completions ones (``openai_api``), in this API's shapes: HTTP errors
carry the same ``{"error": ...}`` body; inside a stream an ``error`` event replaces the rest.
A cut stream ends without ``response.completed``, as a dropped connection would.
"""

from __future__ import annotations

import json
import time
import uuid

from .exchange import Exchange, cut_body, text_of
from .faults import answer_schema
from .openai_api import (SSE, DEFAULT_MAX_TOKENS, _error_body, _fault_response, _invalid,
                         _not_found, json_response_raw, openai_error)
from .responders import generate
from .schemas import SchemaRefused, openai_schema
from .validation import openai_responses

# The operation Azure names in a Responses API throttle ("Requests to the Responses_Create Operation
# under Azure OpenAI API ...", as a real 429 body reads).
RESPONSES_OPERATION = "Responses_Create"


def _messages(body: dict) -> list[dict[str, str]]:
    """``instructions`` and ``input`` (a string, or messages) as chat messages for the backend."""
    messages = [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    given = body["input"]
    if isinstance(given, str):
        return messages + [{"role": "user", "content": given}]
    return messages + [{"role": m.get("role", "user"), "content": text_of(m.get("content"))} for m in given]


def _schema(body: dict) -> dict | None:
    """``text.format`` checked by the chat-completions rules: the same JSON schema, one level up."""
    fmt = (body.get("text") or {}).get("format")
    if not fmt:
        return None
    inner = {key: fmt[key] for key in ("name", "schema", "strict") if key in fmt}
    return openai_schema({"response_format": {"type": fmt["type"], "json_schema": inner}})


def _response(rid: str, model: str, status: str, text: str | None, reply=None, created: int = 0) -> dict:
    """A ``response`` object; ``text`` None while in progress (no output yet)."""
    output = [] if text is None else [_message(rid, text, "completed")]
    body = {"id": rid, "object": "response", "created_at": created or int(time.time()),
            "status": status, "model": model, "output": output, "error": None,
            "incomplete_details": None, "instructions": None, "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": [], "usage": None}
    if reply is not None:
        if reply.finish_reason == "length":
            body["status"], body["incomplete_details"] = "incomplete", {"reason": "max_output_tokens"}
        usage = reply.usage
        body["usage"] = {"input_tokens": usage.input_tokens or 0, "output_tokens": usage.output_tokens or 0,
                         "total_tokens": (usage.input_tokens or 0) + (usage.output_tokens or 0),
                         "input_tokens_details": {"cached_tokens": 0},
                         "output_tokens_details": {"reasoning_tokens": 0}}
    return body


def _message(rid: str, text: str, status: str) -> dict:
    return {"id": "msg_" + rid[5:], "type": "message", "role": "assistant", "status": status,
            "content": [] if status == "in_progress" else [_part(text)]}


def _part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class _Events:
    """Server-sent events numbered in order, as the API numbers them (``sequence_number``)."""

    def __init__(self):
        self.number = 0

    def __call__(self, kind: str, **fields) -> bytes:
        data = {"type": kind, "sequence_number": self.number, **fields}
        self.number += 1
        return f"event: {kind}\ndata: ".encode() + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


async def _sse(ex: Exchange, reply, fault, model: str, azure: bool):
    rid, created, event = "resp_" + uuid.uuid4().hex[:24], int(time.time()), _Events()
    item = {"item_id": "msg_" + rid[5:], "output_index": 0}
    yield event("response.created", response=_response(rid, model, "in_progress", None, created=created))
    yield event("response.in_progress", response=_response(rid, model, "in_progress", None, created=created))
    if fault is not None and fault.name == "malformed":
        yield b'event: response.output_item.added\ndata: {"type":"response.output_item.added","item":{"id\n\n'
        return
    if fault is not None and fault.name in ("rate_limit", "server_error"):  # in_stream=True
        _, body, _ = _error_body(fault, azure, model, None, RESPONSES_OPERATION)
        error = body["error"]
        yield event("error", code=str(error.get("code") or error.get("type")), message=error["message"],
                    param=None)
        return
    yield event("response.output_item.added", output_index=0, item=_message(rid, "", "in_progress"))
    yield event("response.content_part.added", **item, content_index=0, part=_part(""))
    text = ""
    async for piece in ex.pieces(reply, fault):
        text += piece
        yield event("response.output_text.delta", **item, content_index=0, delta=piece, logprobs=[])
    if ex.cut:  # the connection simply ends: no response.completed
        return
    yield event("response.output_text.done", **item, content_index=0, text=text, logprobs=[])
    yield event("response.content_part.done", **item, content_index=0, part=_part(text))
    yield event("response.output_item.done", output_index=0, item=_message(rid, text, "completed"))
    final = _response(rid, model, "completed", text, reply, created)
    yield event("response.completed" if final["status"] == "completed" else "response.incomplete",
                response=final)


async def respond(ex: Exchange, *, azure: bool):
    """One ``POST .../responses`` after its credentials were checked; the model is the body's
    (Azure's v1 API names the deployment there too)."""
    body = ex.body
    if (problem := openai_responses(body)) is not None:
        return ex.respond(_invalid(problem, azure))
    try:
        schema = _schema(body)
    except SchemaRefused as refused:
        return ex.respond(openai_error(400, refused.message.replace("response_format", "text.format"),
                                       "invalid_request_error", param="text.format"))
    model = body["model"]
    fault = ex.take_fault()
    if fault is not None:
        if fault.name in ("rate_limit", "server_error") and fault["in_stream"] and body.get("stream"):
            pass  # delivered inside the stream
        elif (response := _fault_response(fault, azure, model, None, RESPONSES_OPERATION)) is not None:
            return ex.respond(response)
    if model not in (ex.state.deployments if azure else ex.state.models):
        return ex.respond(_not_found(azure, model))
    temperature = body.get("temperature")
    reply = generate(ex.state.backend, _messages(body),
                     max_tokens=body.get("max_output_tokens") or DEFAULT_MAX_TOKENS,
                     temperature=1.0 if temperature is None else temperature,
                     schema=answer_schema(schema, fault))
    if body.get("stream"):
        return ex.stream(_sse(ex, reply, fault, model, azure), SSE)
    text = await ex.text(reply, fault)
    raw = json.dumps(_response("resp_" + uuid.uuid4().hex[:24], model, "completed", text, reply),
                     separators=(",", ":")).encode()
    if fault is not None and fault.name == "malformed":
        return ex.respond(json_response_raw(raw[: len(raw) // 2]))
    if fault is not None and fault.name == "cut_stream":
        return cut_body(ex, raw, fault, "application/json")
    return ex.respond(json_response_raw(raw))
