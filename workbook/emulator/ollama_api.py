"""Ollama's native API: ``/api/chat`` (NDJSON stream by default), ``/api/tags``, ``/api/version``.

Ollama's errors are a bare ``{"error": "..."}``; an error after a stream has started
arrives as one more NDJSON line of that shape. Durations are integers in nanoseconds.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .exchange import Exchange, cut_body, json_response
from .faults import Fault, answer_schema
from .responders import generate
from .schemas import SchemaRefused, ollama_schema
from .validation import Problem, ollama_chat

NDJSON = "application/x-ndjson"
VERSION = "0.5.7"
DEFAULT_NUM_PREDICT = 4096


def error(status: int, message: str, headers=None) -> Response:
    return json_response({"error": message}, status, headers)


def invalid(problem: Problem) -> Response:
    """A body of the wrong shape: Ollama's bare error, worded like its JSON decoder's."""
    if problem.path == "body":
        return error(400, "invalid request body")
    if problem.missing and problem.path == "model":
        return error(400, "model is required")
    return error(400, f"invalid value for '{problem.path}': expected {problem.expected}, "
                      f"got {problem.got}")


def not_found(model: str) -> Response:
    return error(404, f'model "{model}" not found, try pulling it first')


def _error_body(fault: Fault) -> tuple[int, str, dict]:
    if fault.name == "rate_limit":
        return 429, "too many requests, please retry later", {"retry-after": str(fault["retry_after"])}
    if fault["status"] == 503:
        return 503, "server busy, please try again.  maximum pending requests exceeded", {}
    return 500, "llama runner process has terminated: exit status 2", {}


def _fault_response(fault: Fault, model: str) -> Response | None:
    if fault.name in ("rate_limit", "server_error"):
        status, message, headers = _error_body(fault)
        return error(status, message, headers)
    if fault.name == "auth":
        return error(fault["status"], "unauthorized" if fault["status"] == 401 else "forbidden")
    if fault.name == "model_not_found":
        return not_found(model)
    if fault.name == "access_denied":
        return error(403, "forbidden")
    if fault.name == "validation":
        return error(400, fault["message"])
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _line(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def _final(model: str, reply, started: float, content: str) -> dict:
    total = time.perf_counter_ns() - started
    eval_ns = max(total // 2, 1)
    return {
        "model": model, "created_at": _now(),
        "message": {"role": "assistant", "content": content},
        "done_reason": reply.finish_reason, "done": True,
        "total_duration": total, "load_duration": min(total // 10, 5_000_000),
        "prompt_eval_count": reply.usage.input_tokens or 0,
        "prompt_eval_duration": max(total // 10, 1),
        "eval_count": reply.usage.output_tokens or 0, "eval_duration": eval_ns,
    }


async def _ndjson(ex: Exchange, reply, fault, model: str, started: int):
    def piece_line(text: str) -> bytes:
        return _line({"model": model, "created_at": _now(),
                      "message": {"role": "assistant", "content": text}, "done": False})

    if fault is not None and fault.name == "malformed":
        yield b'{"model":"' + model.encode() + b'","created_at":"' + _now().encode() + b'","message":{"ro\n'
        return
    if fault is not None and fault.name in ("rate_limit", "server_error"):  # in_stream=True
        yield _line({"error": _error_body(fault)[1]})
        return
    async for piece in ex.pieces(reply, fault):
        yield piece_line(piece)
    if ex.cut:  # no done:true line
        return
    yield _line(_final(model, reply, started, ""))


def routes(state) -> list[Route]:
    def canonical(name: str) -> str:
        return name.removesuffix(":latest")

    async def chat(request: Request):
        started = time.perf_counter_ns()
        ex = await Exchange.begin(state, request, "ollama")
        body = ex.body
        if (problem := ollama_chat(body)) is not None:
            return ex.respond(invalid(problem))
        try:
            schema = ollama_schema(body)
        except SchemaRefused as refused:
            return ex.respond(error(400, refused.message))
        model = body["model"]
        if not model:
            return ex.respond(error(400, "model is required"))
        stream = body.get("stream", True) is not False
        fault = ex.take_fault()
        if fault is not None and not (fault.name in ("rate_limit", "server_error")
                                      and fault["in_stream"] and stream):
            if (response := _fault_response(fault, model)) is not None:
                return ex.respond(response)
        if canonical(model) not in state.models:
            return ex.respond(not_found(model))
        # The shape was checked above: every field read from here on has its documented type.
        options = body.get("options") or {}
        num_predict = options.get("num_predict")
        max_tokens = num_predict if num_predict is not None and num_predict > 0 else DEFAULT_NUM_PREDICT
        temperature = options.get("temperature")
        messages = [{"role": m["role"], "content": m.get("content") or ""}
                    for m in body.get("messages") or []]
        reply = generate(state.backend, messages, max_tokens=max_tokens,
                                       temperature=0.8 if temperature is None else temperature,
                                       schema=answer_schema(schema, fault))
        if stream:
            return ex.stream(_ndjson(ex, reply, fault, model, started), NDJSON)
        text = await ex.text(reply, fault)
        raw = json.dumps(_final(model, reply, started, text), separators=(",", ":")).encode()
        if fault is not None and fault.name == "malformed":
            return ex.respond(Response(raw[: len(raw) // 2], media_type="application/json"))
        if fault is not None and fault.name == "cut_stream":
            return cut_body(ex, raw, fault, "application/json")
        return ex.respond(Response(raw, media_type="application/json"))

    async def tags(request: Request):
        ex = await Exchange.begin(state, request, "ollama")
        models = []
        for name in state.models:
            tagged = name if ":" in name else f"{name}:latest"
            models.append({
                "name": tagged, "model": tagged, "modified_at": "2024-10-01T00:00:00Z",
                "size": 1_000_000_000, "digest": "0" * 64,
                "details": {"parent_model": "", "format": "gguf", "family": "llama",
                            "families": ["llama"], "parameter_size": "1B",
                            "quantization_level": "Q4_K_M"},
            })
        return ex.respond(json_response({"models": models}))

    async def version(request: Request):
        ex = await Exchange.begin(state, request, "ollama")
        return ex.respond(json_response({"version": VERSION}))

    async def root(request: Request):
        return PlainTextResponse("Ollama is running")

    return [
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/tags", tags, methods=["GET"]),
        Route("/api/version", version, methods=["GET"]),
        Route("/", root, methods=["GET", "HEAD"]),
    ]
