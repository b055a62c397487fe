"""The class's model as a JupyterHub service: ``{hub}/services/llm/v1``, OpenAI-compatible.

The hub starts this process (a managed service) with its own API token and prefix in
``JUPYTERHUB_*`` variables. Every request's API key is a JupyterHub token -- a student's
server gets its own as ``AI__VLLM_API_KEY`` -- and ``HubAuth`` asks the hub whose it is, so
there is no login or key list here: a token the hub revoked (logout, expiry) stops working
within ``AUTH_CACHE_S``. Then:

* only the model API the course uses is relayed -- ``POST /v1/chat/completions``,
  ``POST /v1/completions``, ``GET /v1/models`` -- matched on the path as sent, percent-decoded
  and normalised, and forwarded as the canonical path (never the request's own); anything else
  (``..``, ``%2e%2e``, llama-server's ``/slots``, ``/props``, ``/metrics``) is a 404 in the
  OpenAI error shape;
* only users' tokens (the students'), not services', get the model;
* at most ``per_student`` requests of one student in flight; beyond that 429 + Retry-After in
  the OpenAI error shape, while everybody else is served;
* the body goes on, unchanged, to the shared model server -- llama-server, or vLLM on a Unix
  socket -- and streams come back as the bytes arrive;
  the model server's token counts are added to the student's usage -- also for a stream the
  student drops half-way: the gateway reads on to the engine's final count, holding the
  student's slot until then (if the engine's stream breaks, it counts the pieces it read);
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
import posixpath
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .usage import UsageStore

log = logging.getLogger("workbook.classroom.gateway")

BEARER = re.compile(r"^\s*(?:bearer|token)\s+(\S+)\s*$", re.IGNORECASE)
RETRY_AFTER_BUSY_S = 1
RETRY_AFTER_ENGINE_S = 5
ADMIN_SCOPE = "admin:users"
# How long the hub's answer about a token is trusted: a revoked token (logout, expiry) is
# refused within this. Asking the hub costs ~2 ms on an idle machine (measured 2026-12-07,
# 20 calls to /hub/api/user), so the cache is a small saving and kept short.
AUTH_CACHE_S = 2
# The model API the course uses, and nothing else of llama-server's.
MODEL_API = {"/v1/chat/completions": "POST", "/v1/completions": "POST", "/v1/models": "GET"}
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
    engine_socket: str | None = None  # vLLM answers on a Unix socket (engine_url's host is then a name)
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

    def model_api_path(self, request: Request) -> str | None:
        """The canonical model API path this request names, or None. Decided on the raw path
        (percent-decoded once, then required to be already normal): ``/v1/../slots`` and
        ``/v1/%2e%2e/props`` are not paths of the model API, whatever a later client makes of them."""
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = urllib.parse.unquote(raw.decode("latin-1").split("?", 1)[0])
        prefix = "/" + self.prefix.strip("/")
        if not path.startswith(prefix + "/") or posixpath.normpath(path) != path:
            return None
        relative = path[len(prefix):]
        return relative if relative in MODEL_API else None

    # -- routes -------------------------------------------------------------------------
    async def relay(self, request: Request) -> Response:
        path = self.model_api_path(request)
        if path is None:
            return openai_error(404, "Not a path of the class's model API (POST /v1/chat/completions, "
                                "POST /v1/completions, GET /v1/models).", kind="invalid_request_error",
                                code="unknown_url")
        if request.method != MODEL_API[path]:
            return openai_error(405, f"{path} takes {MODEL_API[path]}.", kind="invalid_request_error",
                                code="method_not_allowed")
        model, refusal = await self.identify(request)
        if refusal is not None:
            return refusal
        if model.get("kind", "user") != "user":
            return openai_error(403, "The class's model answers students' own tokens, not a service's.",
                                kind="permission_error", code="students_only")
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
            return await self._forward(request, path, student, release)
        except BaseException:
            release()
            raise

    async def _forward(self, request: Request, path: str, student: str, release: "_Once") -> Response:
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
        upstream = self.client.build_request(request.method, path, content=body or None, headers=headers)
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
            counted = None
            if answer.status_code == 200:
                # Written after the answer is sent (the student does not wait for the usage
                # file), on the event loop: a thread hop would cost more than the write.
                async def count(usage=_usage_of(content)) -> None:
                    self._count(student, usage, started)
                counted = BackgroundTask(count)
            return Response(content, status_code=answer.status_code, headers=reply_headers,
                            background=counted)
        return _Relay(answer, reply_headers, _StreamTally(drop_usage_chunk=not wants_usage),
                      finished=lambda tally: (release(), self._count(student, tally.usage(), started)),
                      student=student)

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
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]

        @contextlib.asynccontextmanager
        async def lifespan(app):
            # No kept-alive connections: llama-server sometimes drops one after a stream.
            limits = httpx.Limits(max_connections=512, max_keepalive_connections=0)
            self.client = httpx.AsyncClient(
                base_url=self.engine_url, timeout=httpx.Timeout(600.0, connect=3.0), limits=limits,
                transport=(httpx.AsyncHTTPTransport(uds=self.engine_socket, limits=limits)
                           if self.engine_socket else None))
            try:
                yield
            finally:
                await self.client.aclose()

        # Every other path under the prefix goes to relay() too, which answers 404 in the
        # OpenAI shape for whatever is not the model API.
        return Starlette(routes=[
            Route(f"{prefix}/usage", self.usage_report, methods=["GET"]),
            Route(f"{prefix}/", self.health, methods=["GET"]),
            Route(prefix, self.health, methods=["GET"]),
            Route(f"{prefix}/{{path:path}}", self.relay, methods=methods),
        ], lifespan=lifespan)


class _StreamTally:
    """What a relayed stream carried, read from the engine's bytes as they come: the engine's
    final usage if it came, else the content pieces (llama-server streams one token per piece).
    ``feed`` returns the complete lines to relay (a line cut between two reads waits for its
    end), without the usage-only chunk when ``drop_usage_chunk``."""

    def __init__(self, *, drop_usage_chunk: bool = False):
        self.final: dict | None = None
        self.pieces = 0
        self.drop_usage_chunk = drop_usage_chunk
        self._partial = b""

    def feed(self, block: bytes) -> bytes:
        data = self._partial + block
        end = data.rfind(b"\n") + 1
        self._partial, complete = data[end:], data[:end]
        if not complete:
            return b""
        lines = complete.split(b"\n")[:-1]
        kept = [line for line in lines if self._see(line)]
        return complete if len(kept) == len(lines) else b"".join(line + b"\n" for line in kept)

    def rest(self) -> bytes:
        """What the engine sent after its last newline (nothing, from a well-formed stream)."""
        rest, self._partial = self._partial, b""
        return rest if rest and self._see(rest) else b""

    def _see(self, line: bytes) -> bool:
        """Counts ``line``; False for the usage-only chunk the student did not ask for."""
        if not line.startswith(b"data:") or line.startswith(b"data: [DONE]"):
            return True
        chunk = _json_or_none(line[5:])
        if not isinstance(chunk, dict):
            return True
        if chunk.get("usage"):
            self.final = chunk["usage"]
        choices = chunk.get("choices") or []
        if any((choice.get("delta") or {}).get("content") for choice in choices):
            self.pieces += 1
        return not (self.drop_usage_chunk and chunk.get("usage") and not choices)

    def usage(self) -> dict:
        return self.final or {"prompt_tokens": 0, "completion_tokens": self.pieces}


class _Relay(Response):
    """The engine's stream, sent on to the student as it arrives and read to its end whatever
    the student does: one who hangs up half-way neither hides its tokens (the engine's final
    count is still read) nor frees their slot before the engine is done with it. The request's
    own task reads and sends -- no task or queue between the two sockets, each of which cost an
    event-loop turn per token -- and once the student is gone it stops sending, not reading."""

    def __init__(self, answer: httpx.Response, headers: dict, tally: _StreamTally, *,
                 finished: Callable[[_StreamTally], None], student: str):
        # As StreamingResponse does: no body here, so no Content-Length (the relay is chunked).
        self.status_code, self.background = 200, None
        self.init_headers(headers)
        self.answer, self.tally, self.finished, self.student = answer, tally, finished, student

    async def __call__(self, scope, receive, send) -> None:
        listening = True

        async def relay(message: dict) -> None:
            nonlocal listening
            if listening:
                try:
                    await send(message)
                except OSError:  # the student hung up (how a server of ASGI 2.4 says so)
                    listening = False

        try:
            await relay({"type": "http.response.start", "status": self.status_code,
                         "headers": self.raw_headers})
            async for block in self.answer.aiter_raw():
                data = self.tally.feed(block)
                if data:
                    await relay({"type": "http.response.body", "body": data, "more_body": True})
            await relay({"type": "http.response.body", "body": self.tally.rest(), "more_body": False})
        except httpx.HTTPError as error:
            log.warning("the model server's stream for %s broke: %r", self.student, error)
            raise  # the student's stream breaks too, and sees it did
        finally:
            try:
                await self.answer.aclose()
            finally:
                self.finished(self.tally)


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
                       cache_max_age=int(os.environ.get("WORKBOOK_CLASSROOM_AUTH_CACHE_S", AUTH_CACHE_S)))
    gateway = Gateway(engine_url=os.environ["WORKBOOK_CLASSROOM_ENGINE_URL"],
                      prefix=os.environ["JUPYTERHUB_SERVICE_PREFIX"],
                      usage=UsageStore(os.environ["WORKBOOK_CLASSROOM_USAGE_DB"]),
                      per_student=int(os.environ.get("WORKBOOK_CLASSROOM_PER_STUDENT", "2")),
                      hub_auth=hub_auth, engine_key=_read_key(os.environ.get("WORKBOOK_CLASSROOM_ENGINE_KEY_FILE")),
                      engine_socket=os.environ.get("WORKBOOK_CLASSROOM_ENGINE_SOCKET"))
    uvicorn.run(gateway.app(), host=service_url.hostname, port=service_url.port,
                log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
