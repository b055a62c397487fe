"""AWS Bedrock Converse and ConverseStream, as boto3's ``bedrock-runtime`` client sees them.

Errors are AWS REST-JSON: the code in the ``x-amzn-ErrorType`` header, ``{"message"}`` in
the body. A stream is binary ``vnd.amazon.eventstream`` frames (see ``eventstream``); an
error after the stream started is an exception frame that boto3 raises while iterating.

An unknown model id answers 400 ValidationException "The provided model identifier is
invalid." -- what Bedrock returns for ids it does not know (ResourceNotFoundException is
for models that exist but are not available to the account).
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..ai import catalog
from ..ai.lifecycle import END_OF_LIFE_TEXT, LEGACY_TEXT, ON_DEMAND_TEXT
from . import eventstream
from .exchange import Exchange, cut_body, json_response, text_of
from .faults import Fault, answer_schema
from .responders import generate
from .schemas import SchemaRefused, bedrock_schema
from .validation import Problem, bedrock_converse

EVENTSTREAM = "application/vnd.amazon.eventstream"
DEFAULT_MAX_TOKENS = 4096
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}

# fault -> (status, error type, message); the stream form uses the lower-camel event name.
_THROTTLED = (429, "ThrottlingException", "Too many requests, please wait before trying again.")
_INTERNAL = (500, "InternalServerException",
             "The server encountered an internal error while processing the request.")
_UNAVAILABLE = (503, "ServiceUnavailableException", "Bedrock is unable to process your request.")
_BAD_TOKEN = (403, "UnrecognizedClientException",
              "The security token included in the request is invalid.")
_NO_TOKEN = (403, "MissingAuthenticationTokenException", "Missing Authentication Token")
_BAD_MODEL = (400, "ValidationException", "The provided model identifier is invalid.")
_NO_ACCESS = (403, "AccessDeniedException",
              "You don't have access to the model with the specified model ID.")
# A model's age, in the words a real account receives (workbook.ai.lifecycle).
_END_OF_LIFE = (404, "ResourceNotFoundException", END_OF_LIFE_TEXT)
_LEGACY = (404, "ResourceNotFoundException", LEGACY_TEXT)


def _on_demand_refused(model_id: str) -> tuple[int, str, str]:
    return (400, "ValidationException", ON_DEMAND_TEXT.format(model=model_id))


def lifecycle_refusal(state, model_id: str) -> tuple[int, str, str] | None:
    """What Bedrock answers a Converse call for an aged or profile-only model id, if anything."""
    status = state.lifecycle.get(catalog.base_model_id(model_id), "ACTIVE")
    if status == "EOL":
        return _END_OF_LIFE
    if status == "LEGACY":
        return _LEGACY
    if model_id in state.profile_only:
        return _on_demand_refused(model_id)
    return None


def error(spec: tuple[int, str, str], headers: dict[str, str] | None = None) -> Response:
    status, kind, message = spec
    return json_response({"message": message}, status, {
        "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})})


def _invalid(problem: Problem) -> tuple[int, str, str]:
    """A body of the wrong shape, in the words of AWS's request validation."""
    if problem.path == "body":
        return (400, "SerializationException", "Start of structure or map found where not expected.")
    constraint = "Member must not be null" if problem.missing else f"Member must be {problem.expected}"
    return (400, "ValidationException", f"1 validation error detected: Value at '{problem.path}' "
                                        f"failed to satisfy constraint: {constraint}")


def _fault_spec(fault: Fault, model_id: str = "") -> tuple[int, str, str] | None:
    if fault.name == "rate_limit":
        return _THROTTLED
    if fault.name == "server_error":
        return _INTERNAL if fault["status"] == 500 else _UNAVAILABLE
    if fault.name == "auth":  # AWS answers 403 for bad credentials, never 401
        return _BAD_TOKEN
    if fault.name == "model_not_found":
        return _BAD_MODEL
    if fault.name == "access_denied":
        return _NO_ACCESS
    if fault.name == "validation":
        return (400, "ValidationException", fault["message"])
    if fault.name == "model_end_of_life":
        return _END_OF_LIFE
    if fault.name == "model_legacy":
        return _LEGACY
    if fault.name == "needs_inference_profile":
        return _on_demand_refused(model_id)
    return None


def _usage(reply) -> dict:
    inp, out = reply.usage.input_tokens or 0, reply.usage.output_tokens or 0
    return {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out}


async def _frames(ex: Exchange, reply, fault, started: float):
    yield eventstream.event("messageStart", {"role": "assistant"})
    if fault is not None and fault.name == "malformed":
        yield eventstream.corrupt(eventstream.event(
            "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "broken"}}))
        return
    if fault is not None and fault.name in ("rate_limit", "server_error"):  # in_stream=True
        _, kind, message = _fault_spec(fault)
        yield eventstream.exception(kind[0].lower() + kind[1:], message)
        return
    async for piece in ex.pieces(reply, fault):
        yield eventstream.event("contentBlockDelta",
                                {"contentBlockIndex": 0, "delta": {"text": piece}})
    if ex.cut:  # no contentBlockStop, messageStop or metadata
        return
    yield eventstream.event("contentBlockStop", {"contentBlockIndex": 0})
    yield eventstream.event("messageStop", {"stopReason": STOP_REASONS[reply.finish_reason]})
    yield eventstream.event("metadata", {
        "usage": _usage(reply),
        "metrics": {"latencyMs": int((time.perf_counter() - started) * 1000)}})


def routes(state) -> list[Route]:
    async def converse(request: Request, *, stream: bool):
        started = time.perf_counter()
        ex = await Exchange.begin(state, request, "bedrock")
        auth = request.headers.get("authorization")
        if not auth:
            return ex.respond(error(_NO_TOKEN))
        if not auth.startswith("AWS4-HMAC-SHA256"):
            return ex.respond(error(_BAD_TOKEN))
        model_id = unquote(request.path_params["model_id"])
        body = ex.body
        if (problem := bedrock_converse(body)) is not None:
            return ex.respond(error(_invalid(problem)))
        try:
            schema = bedrock_schema(body)
        except SchemaRefused as refused:
            return ex.respond(error((400, "ValidationException", refused.message)))
        fault = ex.take_fault()
        if fault is not None and not (fault.name in ("rate_limit", "server_error")
                                      and fault["in_stream"] and stream):
            spec = _fault_spec(fault, model_id)
            if spec is not None:
                headers = {"retry-after": str(fault["retry_after"])} if fault.name == "rate_limit" else None
                return ex.respond(error(spec, headers))
        if model_id not in state.models:
            return ex.respond(error(_BAD_MODEL))
        refusal = lifecycle_refusal(state, model_id)
        if refusal is not None:
            return ex.respond(error(refusal))
        # The shape was checked above: every field read from here on has its documented type.
        config = body.get("inferenceConfig") or {}
        messages = [{"role": "system", "content": text_of(body.get("system"))}] if body.get("system") else []
        messages += [{"role": m.get("role", "user"), "content": text_of(m.get("content"))}
                     for m in body["messages"]]
        temperature = config.get("temperature")
        reply = generate(state.backend, messages, max_tokens=config.get("maxTokens") or DEFAULT_MAX_TOKENS,
                                       temperature=1.0 if temperature is None else temperature,
                                       schema=answer_schema(schema, fault))
        request_id = {"x-amzn-RequestId": str(uuid.uuid4())}
        if stream:
            return ex.stream(_frames(ex, reply, fault, started), EVENTSTREAM, headers=request_id)
        text = await ex.text(reply, fault)
        raw = json.dumps({
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": STOP_REASONS[reply.finish_reason], "usage": _usage(reply),
            "metrics": {"latencyMs": int((time.perf_counter() - started) * 1000)},
        }, separators=(",", ":")).encode()
        if fault is not None and fault.name == "malformed":
            raw = raw[: len(raw) // 2]
        elif fault is not None and fault.name == "cut_stream":
            return cut_body(ex, raw, fault, "application/json", request_id)
        return ex.respond(Response(raw, media_type="application/json", headers=request_id))

    async def converse_json(request: Request):
        return await converse(request, stream=False)

    async def converse_stream(request: Request):
        return await converse(request, stream=True)

    async def get_foundation_model(request: Request):
        # The ``bedrock`` control plane's GetFoundationModel: lifecycle and inference types.
        ex = await Exchange.begin(state, request, "bedrock")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256"):
            return ex.respond(error(_BAD_TOKEN if auth else _NO_TOKEN))
        model_id = unquote(request.path_params["model_id"])
        if catalog.is_profile_id(model_id) or model_id not in state.models:
            return ex.respond(error((404, "ResourceNotFoundException",
                                     f"The model {model_id} does not exist.")))
        return ex.respond(json_response({"modelDetails": foundation_model(state, model_id,
                                                                          _region(auth))}))

    return [
        Route("/foundation-models/{model_id:path}", get_foundation_model, methods=["GET"]),
        Route("/model/{model_id:path}/converse", converse_json, methods=["POST"]),
        Route("/model/{model_id:path}/converse-stream", converse_stream, methods=["POST"]),
    ]


def _region(authorization: str) -> str:
    """The region boto3 signed for: ``Credential=KEY/DATE/REGION/SERVICE/aws4_request``."""
    scope = authorization.partition("Credential=")[2].split(",")[0].split("/")
    return scope[2] if len(scope) > 2 else "us-east-1"


def foundation_model(state, model_id: str, region: str) -> dict:
    """GetFoundationModel's ``modelDetails`` for a model the emulator serves."""
    known = catalog.entry(model_id, "bedrock")
    provider = model_id.split(".")[0]
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}",
        "modelId": model_id,
        "modelName": known.name if known else model_id,
        "providerName": provider.capitalize() if provider != "amazon" else "Amazon",
        "inputModalities": ["TEXT"], "outputModalities": ["TEXT"],
        "responseStreamingSupported": True, "customizationsSupported": [],
        "inferenceTypesSupported": (["INFERENCE_PROFILE"] if model_id in state.profile_only
                                    else ["ON_DEMAND"]),
        "modelLifecycle": {"status": state.lifecycle.get(model_id, "ACTIVE")},
    }
