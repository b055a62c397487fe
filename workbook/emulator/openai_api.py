"""OpenAI chat completions (``/v1``) and Azure OpenAI (``/openai/...``), as the SDK sees them;
the Responses API on the same routes is ``responses_api``.

Same JSON and SSE bodies for both; they differ in auth (any bearer key vs. the resource's
``api-key``), in routing (model in the body vs. deployment in the path + ``api-version``)
and in their error shapes. Azure also opens every stream with a chunk whose ``choices`` is
empty (its content-filter results): a client that assumes ``choices[0]`` breaks on it, as
it would on the real service.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .exchange import Exchange, cut_body, json_response, text_of
from .faults import Fault, answer_schema
from .responders import generate
from .schemas import SchemaRefused, openai_schema
from .validation import Problem, openai_chat

DEFAULT_MAX_TOKENS = 4096
SSE = "text/event-stream; charset=utf-8"

AZURE_ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
AZURE_NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment within "
    "the last 5 minutes, please wait a moment and try again."
)


def openai_error(status: int, message: str, type_: str, code=None, param=None, headers=None):
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return json_response(body, status, headers)


def azure_error(status: int, code: str, message: str, headers=None):
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def _invalid(problem: Problem, azure: bool):
    """A body of the wrong shape, in the words the OpenAI API uses for it."""
    if problem.path == "body":
        message, code = ("We could not parse the JSON body of your request. The OpenAI API "
                         "expects a JSON payload.", None)
    elif problem.missing:
        message, code = f"Missing required parameter: '{problem.path}'.", "missing_required_parameter"
    else:
        message, code = (f"Invalid value for '{problem.path}': expected {problem.expected}, "
                         f"but got {problem.got} instead.", "invalid_value")
    if azure:
        return azure_error(400, "BadRequest", message)
    return openai_error(400, message, "invalid_request_error", code=code,
                        param=None if problem.path == "body" else problem.path)


def _not_found(azure: bool, model: str):
    if azure:
        return azure_error(404, "DeploymentNotFound", AZURE_NO_DEPLOYMENT)
    return openai_error(404, f"The model `{model}` does not exist or you do not have access to it.",
                        "invalid_request_error", code="model_not_found")


def _error_body(fault: Fault, azure: bool, model: str, api_version: str | None,
                operation: str = "ChatCompletions_Create") -> tuple[int, dict, dict]:
    """Status, JSON body and headers a fault produces: used before and inside a stream.

    ``operation`` is what Azure's throttle message names: the route that was called
    (``ChatCompletions_Create``, or ``Responses_Create`` for the Responses API)."""
    if fault.name == "rate_limit":
        seconds = fault["retry_after"]
        headers = {"retry-after": str(seconds)}
        if azure:
            headers["retry-after-ms"] = str(int(float(seconds) * 1000))
            return 429, {"error": {"code": "429", "message": (
                f"Requests to the {operation} Operation under Azure OpenAI API version "
                f"{api_version or 'v1'} have exceeded token rate limit of your current OpenAI S0 "
                f"pricing tier. Please retry after {seconds} seconds.")}}, headers
        headers.update({"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0",
                        "x-ratelimit-reset-requests": f"{seconds}s"})
        return 429, {"error": {"message": (
            f"Rate limit reached for {model} in organization org-emulator on requests per min "
            f"(RPM): Limit 3, Used 3, Requested 1. Please try again in {seconds}s."),
            "type": "requests", "param": None, "code": "rate_limit_exceeded"}}, headers
    status = fault["status"]  # server_error
    message = ("The server had an error while processing your request. Sorry about that!"
               if status == 500 else "The server is overloaded or not ready yet.")
    return status, {"error": {"message": message, "type": "server_error", "param": None,
                              "code": None}}, {}


def _fault_response(fault: Fault, azure: bool, model: str, api_version: str | None,
                    operation: str = "ChatCompletions_Create"):
    if fault.name in ("rate_limit", "server_error"):
        status, body, headers = _error_body(fault, azure, model, api_version, operation)
        return json_response(body, status, headers)
    if fault.name == "auth":
        if azure:
            if fault["status"] == 403:
                return azure_error(403, "403", "Access denied due to Virtual Network/Firewall rules.")
            return azure_error(401, "401", AZURE_ACCESS_DENIED)
        if fault["status"] == 403:
            return openai_error(403, f"Project does not have access to model `{model}`.",
                                "invalid_request_error", code="model_not_found")
        return openai_error(401, "Incorrect API key provided: emul********key. You can find your "
                            "API key at https://platform.openai.com/account/api-keys.",
                            "invalid_request_error", code="invalid_api_key")
    if fault.name == "model_not_found":
        return _not_found(azure, model)
    if fault.name == "access_denied":
        if azure:
            return azure_error(403, "PermissionDenied", "The principal lacks the required data "
                               "action to call this deployment.")
        return openai_error(403, f"Project does not have access to model `{model}`.",
                            "invalid_request_error", code="model_not_found")
    if fault.name == "validation":
        if azure:
            return azure_error(400, "BadRequest", fault["message"])
        return openai_error(400, fault["message"], "invalid_request_error")
    return None


def _chunk(cid, created, model, choices, usage=..., extra=None):
    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_emulator", "choices": choices}
    if usage is not ...:
        body["usage"] = usage
    if extra:
        body.update(extra)
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _usage(reply) -> dict:
    usage = reply.usage
    return {"prompt_tokens": usage.input_tokens or 0, "completion_tokens": usage.output_tokens or 0,
            "total_tokens": (usage.input_tokens or 0) + (usage.output_tokens or 0)}


async def _sse(ex: Exchange, reply, fault, model, include_usage, azure, api_version):
    cid, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())
    usage = None if include_usage else ...
    if azure:  # Azure's content-filter preamble: no choices, empty id/model
        yield _chunk("", 0, "", [], extra={"object": "", "prompt_filter_results": [
            {"prompt_index": 0, "content_filter_results": {}}]})
    yield _chunk(cid, created, model, [{"index": 0, "delta": {"role": "assistant", "content": "",
                 "refusal": None}, "logprobs": None, "finish_reason": None}], usage)
    if fault is not None and fault.name == "malformed":
        yield b'data: {"id":"' + cid.encode() + b'","object":"chat.completion.chunk","choices":[{"delta":{"content":"br\n\n'
        yield b"data: [DONE]\n\n"
        return
    if fault is not None and fault.name in ("rate_limit", "server_error"):  # in_stream=True
        _, body, _ = _error_body(fault, azure, model, api_version)
        yield b"data: " + json.dumps(body).encode() + b"\n\n"
        return
    async for piece in ex.pieces(reply, fault):
        yield _chunk(cid, created, model, [{"index": 0, "delta": {"content": piece},
                     "logprobs": None, "finish_reason": None}], usage)
    if ex.cut:  # the connection simply ends: no finish_reason, no [DONE]
        return
    yield _chunk(cid, created, model, [{"index": 0, "delta": {}, "logprobs": None,
                 "finish_reason": reply.finish_reason}], usage)
    if include_usage:
        yield _chunk(cid, created, model, [], _usage(reply))
    yield b"data: [DONE]\n\n"


async def _complete(ex: Exchange, model: str | None, *, azure: bool,
                    api_version: str | None = None):
    body = ex.body
    if (problem := openai_chat(body, model_in_body=not azure or model is None)) is not None:
        return ex.respond(_invalid(problem, azure))
    try:
        schema = openai_schema(body)
    except SchemaRefused as refused:  # Azure passes OpenAI's own error object through
        return ex.respond(openai_error(400, refused.message, "invalid_request_error", param="response_format"))
    if model is None:  # Azure's v1 route: the deployment is the body's "model"
        model = body["model"]
    fault = ex.take_fault()
    if fault is not None:
        if fault.name in ("rate_limit", "server_error") and fault["in_stream"] and body.get("stream"):
            pass  # delivered inside the stream below
        elif (response := _fault_response(fault, azure, model, api_version)) is not None:
            return ex.respond(response)
    if model not in (ex.state.deployments if azure else ex.state.models):
        return ex.respond(_not_found(azure, model))
    # The shape was checked above: every field read from here on has its documented type.
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    temperature = body.get("temperature")
    messages = [{"role": m.get("role", "user"), "content": text_of(m.get("content"))}
                for m in body["messages"]]
    reply = generate(ex.state.backend, messages, max_tokens=max_tokens,
                                      temperature=1.0 if temperature is None else temperature,
                                      schema=answer_schema(schema, fault))
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return ex.stream(_sse(ex, reply, fault, model, include_usage, azure, api_version), SSE)
    text = await ex.text(reply, fault)
    response = {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
        "created": int(time.time()), "model": model, "system_fingerprint": "fp_emulator",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": reply.finish_reason}],
        "usage": _usage(reply),
    }
    if azure:
        response["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {}}]
    raw = json.dumps(response, separators=(",", ":")).encode()
    if fault is not None and fault.name == "malformed":
        return ex.respond(json_response_raw(raw[: len(raw) // 2]))
    if fault is not None and fault.name == "cut_stream":
        return cut_body(ex, raw, fault, "application/json")
    return ex.respond(json_response_raw(raw))


def json_response_raw(raw: bytes) -> Response:
    return Response(raw, media_type="application/json")


def _bearer_missing(request: Request) -> bool:
    return not request.headers.get("authorization", "").lower().startswith("bearer ")


ENTRA_AUDIENCE = "https://cognitiveservices.azure.com"


def entra_token_ok(authorization: str) -> bool:
    """A Microsoft Entra ID token for Azure OpenAI: a JWT whose audience is Cognitive Services.

    Real Azure also checks the signature and the caller's role; offline, a token minted for
    the right audience (``workbook.ai.entra.SCOPE``) stands in for one."""
    scheme, _, token = authorization.partition(" ")
    parts = token.split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return False
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(payload, dict) and str(payload.get("aud", "")).rstrip("/") == ENTRA_AUDIENCE


def _missing_key():
    return openai_error(401, "You didn't provide an API key. You need to provide your API key in "
                        "an Authorization header using Bearer auth (i.e. Authorization: Bearer "
                        "YOUR_KEY).", "invalid_request_error")


def routes(state) -> list[Route]:
    from . import responses_api  # it builds on this module's error shapes
    async def chat_completions(request: Request):
        ex = await Exchange.begin(state, request, "openai")
        if _bearer_missing(request):
            return ex.respond(_missing_key())
        return await _complete(ex, None, azure=False)

    async def list_models(request: Request):
        ex = await Exchange.begin(state, request, "openai")
        if _bearer_missing(request):
            return ex.respond(_missing_key())
        return ex.respond(json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "emulator"}
            for m in state.models]}))

    def azure_key_ok(request: Request) -> bool:
        bearer = request.headers.get("authorization", "")
        return (request.headers.get("api-key") == state.api_key
                or bearer == f"Bearer {state.api_key}" or entra_token_ok(bearer))

    async def azure_deployment(request: Request):
        ex = await Exchange.begin(state, request, "azure_openai")
        api_version = request.query_params.get("api-version")
        if not api_version:  # what Azure answers without it: a bare 404
            return ex.respond(azure_error(404, "404", "Resource not found"))
        if not azure_key_ok(request):
            return ex.respond(azure_error(401, "401", AZURE_ACCESS_DENIED))
        return await _complete(ex, request.path_params["deployment"], azure=True,
                               api_version=api_version)

    async def azure_v1(request: Request):
        ex = await Exchange.begin(state, request, "azure_openai")
        if not azure_key_ok(request):
            return ex.respond(azure_error(401, "401", AZURE_ACCESS_DENIED))
        # The v1 API names the deployment in the body's "model".
        return await _complete(ex, None, azure=True)

    async def responses(request: Request):
        ex = await Exchange.begin(state, request, "openai")
        if _bearer_missing(request):
            return ex.respond(_missing_key())
        return await responses_api.respond(ex, azure=False)

    async def azure_responses(request: Request):
        ex = await Exchange.begin(state, request, "azure_openai")
        if not azure_key_ok(request):
            return ex.respond(azure_error(401, "401", AZURE_ACCESS_DENIED))
        return await responses_api.respond(ex, azure=True)

    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/openai/deployments/{deployment}/chat/completions", azure_deployment,
              methods=["POST"]),
        Route("/openai/v1/chat/completions", azure_v1, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/openai/v1/responses", azure_responses, methods=["POST"]),
    ]
