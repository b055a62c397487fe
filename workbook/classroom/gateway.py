"""The class's model as a JupyterHub service: ``{hub}/services/llm/v1``, OpenAI-compatible.

The hub starts this process (a managed service) with its own API token and prefix in
``JUPYTERHUB_*`` variables. Every request's API key is a JupyterHub token -- a student's
server gets its own as ``AI__VLLM_API_KEY`` -- and ``HubAuth`` asks the hub whose it is, so
there is no login or key list here: a token the hub revoked (logout, expiry) stops working
within ``AUTH_CACHE_S``. Then:

* at most ``per_student`` requests of one student in flight; beyond that 429 + Retry-After in
  the OpenAI error shape, while everybody else is served;
* the request goes on, unchanged, to the shared llama-server (streams relayed event by
  event); the model server's token counts are added to the student's usage;
* ``GET {prefix}usage``: requests, tokens, time and refusals per student, for a token with the
  hub's ``admin:users`` scope (the instructor's) only.

The model server is another managed service: if it dies, requests get a 503 with a hint
while the hub restarts it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .usage import UsageStore

log = logging.getLogger("workbook.classroom.gateway")

BEARER = re.compile(r"^\s*(?:bearer|token)\s+(\S+)\s*$", re.IGNORECASE)
RETRY_AFTER_BUSY_S = 1
RETRY_AFTER_ENGINE_S = 5
ADMIN_SCOPE = "admin:users"
# Hop-by-hop and length headers are the relay's own business, not the answer's.
_DROP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


def openai_error(status: int, message: str, *, kind: str, code: str,
                 retry_after_s: int | None = None) -> JSONResponse:
    """An error in the shape the OpenAI SDK parses, so a student sees the message."""
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return JSONResponse({"error": {"message": message, "type": kind, "code": code, "param": None}},
                        status_code=status, headers=headers)


@dataclass
class Gateway:
    engine_url: str
    prefix: str
    usage: UsageStore
    per_student: int = 2
    hub_auth: Any = None  # jupyterhub.services.auth.HubAuth
    engine_key: str | None = None  # the model server's own key: students cannot go round the gateway
    in_flight: dict[str, int] = field(default_factory=dict)
    client: httpx.AsyncClient | None = None

    # -- who is asking ----------------------------------------------------------------
    async def identify(self, request: Request) -> tuple[dict | None, JSONResponse | None]:
        match = BEARER.match(request.headers.get("authorization", ""))
        if match is None:
            return None, openai_error(
                401, "No API key: use your JupyterHub API token (in the hub, AI__VLLM_API_KEY "
                "already holds it).", kind="authentication_error", code="missing_api_key")
        try:
            model = await self.hub_auth.user_for_token(match.group(1), sync=False)
        except Exception:  # noqa: BLE001 -- HubAuth raises tornado errors when the hub is down
            return None, openai_error(
                503, "The hub could not check your token right now; try again in a few seconds.",
                kind="server_error", code="hub_unavailable", retry_after_s=RETRY_AFTER_ENGINE_S)
        if not model:
            return None, openai_error(
                401, "The hub does not accept this token (logged out, expired or never issued): "
                "restart your server from the hub's home page to get a fresh one.",
                kind="authentication_error", code="invalid_api_key")
        return model, None

    @staticmethod
    def name_of(model: dict) -> str:
        return model["name"] if model.get("kind", "user") == "user" else f"service:{model['name']}"

    # -- routes -------------------------------------------------------------------------
    async def relay(self, request: Request) -> Response:
        model, refusal = await self.identify(request)
        if refusal is not None:
            return refusal
        student = self.name_of(model)
        if self.in_flight.get(student, 0) >= self.per_student:
            self.usage.refused(student)
            return openai_error(
                429, f"You already have {self.per_student} request(s) running on the class's model; "
                "wait for one to finish (the class shares one server).",
                kind="rate_limit_error", code="per_student_limit", retry_after_s=RETRY_AFTER_BUSY_S)
        self.in_flight[student] = self.in_flight.get(student, 0) + 1
        release = _Once(lambda: self._release(student))
        try:
            return await self._forward(request, student, release)
        except BaseException:
            release()
            raise

    async def _forward(self, request: Request, student: str, release: "_Once") -> Response:
        path = request.url.path[len(self.prefix.rstrip("/")):]  # "/v1/chat/completions"
        body = await request.body()
        wants_usage, streaming = True, False
        if request.method == "POST" and body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if isinstance(payload, dict) and payload.get("stream"):
                streaming = True
                options = payload.get("stream_options") or {}
                wants_usage = bool(options.get("include_usage"))
                # The usage chunk is how the class's usage is counted; a student who did not
                # ask for it does not get it (relay() drops it again).
                payload["stream_options"] = {**options, "include_usage": True}
                body = json.dumps(payload).encode()
        headers = {"content-type": request.headers.get("content-type", "application/json"),
                   **self._engine_auth()}
        upstream = self.client.build_request(request.method, path, content=body or None,
                                             headers=headers, params=dict(request.query_params))
        started = time.perf_counter()
        try:
            answer = await self.client.send(upstream, stream=True)
        except httpx.HTTPError as error:
            release()
            log.warning("model server unreachable for %s: %r", student, error)
            return openai_error(
                503, "The class's model server is not answering: the hub is restarting it. "
                "Try again in a few seconds.", kind="server_error", code="model_server_unavailable",
                retry_after_s=RETRY_AFTER_ENGINE_S)
        reply_headers = {k: v for k, v in answer.headers.items() if k.lower() not in _DROP_HEADERS}
        if not (streaming and answer.status_code == 200):
            try:
                content = await answer.aread()
            finally:
                await answer.aclose()
                release()
            if answer.status_code == 200:
                self._count(student, _usage_of(content), started)
            return Response(content, status_code=answer.status_code, headers=reply_headers)
        return StreamingResponse(self._events(answer, student, wants_usage, started, release),
                                 status_code=200, headers=reply_headers)

    async def _events(self, answer: httpx.Response, student: str, wants_usage: bool,
                      started: float, release: "_Once") -> AsyncIterator[bytes]:
        usage = None
        try:
            async for line in answer.aiter_lines():
                if line.startswith("data:") and '"usage"' in line:
                    chunk = _json_or_none(line[5:])
                    if isinstance(chunk, dict) and chunk.get("usage"):
                        usage = chunk["usage"]
                        if not wants_usage and not chunk.get("choices"):
                            continue  # the usage-only chunk the student did not ask for
                yield (line + "\n").encode()
        finally:
            await answer.aclose()
            release()
            self._count(student, usage, started)

    def _engine_auth(self) -> dict[str, str]:
        # The student's hub token never goes further than this process.
        return {"authorization": f"Bearer {self.engine_key}"} if self.engine_key else {}

    def _count(self, student: str, usage: dict | None, started: float) -> None:
        usage = usage or {}
        self.usage.record(student, input_tokens=usage.get("prompt_tokens") or 0,
                          output_tokens=usage.get("completion_tokens") or 0,
                          seconds=time.perf_counter() - started)

    def _release(self, student: str) -> None:
        left = self.in_flight.get(student, 1) - 1
        if left > 0:
            self.in_flight[student] = left
        else:
            self.in_flight.pop(student, None)

    async def usage_report(self, request: Request) -> Response:
        model, refusal = await self.identify(request)
        if refusal is not None:
            return refusal
        if not (model.get("admin") or ADMIN_SCOPE in (model.get("scopes") or [])):
            return openai_error(403, "Usage is for the instructor (the token in the state "
                                "folder's instructor-token file).", kind="permission_error",
                                code="instructor_only")
        return JSONResponse({"students": self.usage.totals(), "in_flight": dict(self.in_flight),
                             "per_student": self.per_student})

    async def health(self, request: Request) -> Response:
        """No token needed; always 200 while this process runs (the hub's start-up check), with
        whether the model server answers (``"engine": "up"``) -- what the classroom waits for."""
        try:
            answer = await self.client.get("/v1/models", headers=self._engine_auth(), timeout=2.0)
            engine = "up" if answer.status_code < 500 else f"status {answer.status_code}"
        except httpx.HTTPError:
            engine = "down"
        return JSONResponse({"service": "llm", "engine": engine})

    def app(self) -> Starlette:
        prefix = "/" + self.prefix.strip("/")
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

        @contextlib.asynccontextmanager
        async def lifespan(app):
            self.client = httpx.AsyncClient(
                base_url=self.engine_url, timeout=httpx.Timeout(600.0, connect=3.0),
                # No kept-alive connections: llama-server sometimes drops one after a stream.
                limits=httpx.Limits(max_connections=512, max_keepalive_connections=0))
            try:
                yield
            finally:
                await self.client.aclose()

        return Starlette(routes=[
            Route(f"{prefix}/v1/{{path:path}}", self.relay, methods=methods),
            Route(f"{prefix}/usage", self.usage_report, methods=["GET"]),
            Route(f"{prefix}/", self.health, methods=["GET"]),
            Route(prefix, self.health, methods=["GET"]),
        ], lifespan=lifespan)


class _Once:
    """Frees a student's in-flight slot exactly once, whichever way the request ends."""

    def __init__(self, action):
        self._action = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


def _json_or_none(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _usage_of(content: bytes) -> dict | None:
    body = _json_or_none(content)
    return body.get("usage") if isinstance(body, dict) else None


def _read_key(path: str | None) -> str | None:
    return Path(path).read_text().strip() if path else None


def main() -> int:
    """Run as the hub's managed service ``llm`` (the hub sets every variable read here)."""
    import urllib.parse

    import uvicorn
    from jupyterhub.services.auth import HubAuth

    service_url = urllib.parse.urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    hub_auth = HubAuth(api_token=os.environ["JUPYTERHUB_API_TOKEN"],
                       api_url=os.environ["JUPYTERHUB_API_URL"],
                       cache_max_age=int(os.environ.get("WORKBOOK_CLASSROOM_AUTH_CACHE_S", "2")))
    gateway = Gateway(engine_url=os.environ["WORKBOOK_CLASSROOM_ENGINE_URL"],
                      prefix=os.environ["JUPYTERHUB_SERVICE_PREFIX"],
                      usage=UsageStore(os.environ["WORKBOOK_CLASSROOM_USAGE_DB"]),
                      per_student=int(os.environ.get("WORKBOOK_CLASSROOM_PER_STUDENT", "2")),
                      hub_auth=hub_auth, engine_key=_read_key(os.environ.get("WORKBOOK_CLASSROOM_ENGINE_KEY_FILE")))
    uvicorn.run(gateway.app(), host=service_url.hostname, port=service_url.port,
                log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
