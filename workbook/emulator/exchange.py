"""One model request's life in the emulator: recorded, maybe given a fault, answered.

The log shows a student the HTTP their SDK really sent, with secrets masked. The helpers
here are the parts every protocol shares: reading the body, consuming a fault, pacing
pieces (slow first token, a cut stream) and timing how long the server itself worked.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .faults import Fault

REDACTED = "***redacted***"
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-amz-security-token", "x-api-key"})
# The log keeps an Authorization header's scheme, so a reader can tell a bearer token (a key on
# OpenAI's path, an Entra ID token) from a SigV4 signature; only these words are kept: anything
# else before a space could be a secret.
AUTH_SCHEMES = frozenset({"bearer", "basic", "aws4-hmac-sha256"})


class StreamAborted(Exception):
    """Raised inside a response body on purpose: the server drops the connection mid-body."""


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    protocol: str | None
    headers: dict[str, str]
    body: Any
    fault: dict[str, Any] | None = None
    status: int | None = None
    # Time the server spent on the request, minus deliberate waits (pacing, slow_first_token).
    server_ms: float | None = None
    _started: float = field(default=0.0, repr=False)
    _waited: float = field(default=0.0, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedRequest] = []

    def add(self, record: RecordedRequest) -> None:
        with self._lock:
            self._items.append(record)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def redact(headers) -> dict[str, str]:
    return {k: (_masked(k, v) if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def _masked(name: str, value: str) -> str:
    """``Bearer ***redacted***`` for an Authorization header of a known scheme, else ``***redacted***``."""
    scheme, _, credentials = value.strip().partition(" ")
    if name.lower() == "authorization" and credentials and scheme.lower() in AUTH_SCHEMES:
        return f"{scheme} {REDACTED}"
    return REDACTED


class Exchange:
    """Handles the bookkeeping of one request so protocol code reads as protocol."""

    def __init__(self, state, request: Request, protocol: str, record: RecordedRequest):
        self.state, self.request, self.protocol, self.record = state, request, protocol, record
        self.body = record.body

    @classmethod
    async def begin(cls, state, request: Request, protocol: str, *, log: bool = True) -> "Exchange":
        started = time.perf_counter()
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past Python's limit
            body = None
        record = RecordedRequest(
            method=request.method, path=request.url.path, query=dict(request.query_params),
            protocol=protocol, headers=redact(request.headers), body=body, _started=started,
        )
        if log:
            state.log.add(record)
        return cls(state, request, protocol, record)

    def take_fault(self) -> Fault | None:
        fault = self.state.faults.take(self.protocol)
        if fault is not None:
            self.record.fault = fault.to_dict()
        return fault

    def _done(self, status: int) -> None:
        self.record.status = status
        elapsed = time.perf_counter() - self.record._started
        self.record.server_ms = round((elapsed - self.record._waited) * 1000, 3)

    def respond(self, response: Response) -> Response:
        self._done(response.status_code)
        return response

    def stream(self, body: AsyncIterator[bytes], media_type: str, *, status: int = 200,
               headers: dict[str, str] | None = None) -> StreamingResponse:
        async def timed():
            try:
                async for chunk in body:
                    yield chunk
            finally:
                self._done(status)

        return StreamingResponse(timed(), status_code=status, media_type=media_type,
                                 headers=headers)

    async def wait(self, seconds: float) -> None:
        """A deliberate delay; not counted as server work."""
        if seconds > 0:
            before = time.perf_counter()
            await asyncio.sleep(seconds)
            self.record._waited += time.perf_counter() - before

    async def pieces(self, reply, fault: Fault | None) -> AsyncIterator[str]:
        """The backend's pieces with the fault's timing applied.

        ``cut_stream`` ends the iteration after N pieces and sets ``self.cut``; the caller
        then leaves out its protocol's end marker. ``mode="abort"`` breaks the body instead.
        For streaming responses only: a non-streaming one uses ``text`` and ``cut_body``.
        """
        self.cut = False
        if fault is not None and fault.name == "slow_first_token":
            await self.wait(float(fault["seconds"]))
        limit = int(fault["after_chunks"]) if fault is not None and fault.name == "cut_stream" else None
        count = 0
        try:
            async for piece in reply:
                yield piece
                count += 1
                if limit is not None and count >= limit:
                    self.cut = True
                    break
        finally:
            await reply.aclose()
        if self.cut and fault["mode"] == "abort":
            raise StreamAborted("cut_stream fault: connection dropped mid-body")

    async def text(self, reply, fault: Fault | None) -> str:
        """The whole answer for a non-streaming response, ``slow_first_token`` applied.

        A ``cut_stream`` is not applied here: the reply runs to its end (so its
        ``finish_reason`` and ``usage`` are set) and ``cut_body`` breaks the rendered body.
        Raising before the response starts would give the client a plain 500 instead.
        """
        if fault is not None and fault.name == "slow_first_token":
            await self.wait(float(fault["seconds"]))
        try:
            return "".join([piece async for piece in reply])
        finally:
            await reply.aclose()


def text_of(content: Any) -> str:
    """Message content as plain text: a string, or a list of text parts (OpenAI, Bedrock)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None,
                  media_type: str = "application/json") -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status,
                    headers=headers, media_type=media_type)


def cut_body(exchange: Exchange, full: bytes, fault: Fault, media_type: str,
             headers: dict[str, str] | None = None) -> Response:
    """A non-streaming body under ``cut_stream``: the client gets half of it.

    ``mode="close"``: a complete HTTP response whose JSON stops halfway (its Content-Length
    is that of the short body), so the client's JSON parser fails. ``mode="abort"``: the
    whole length is promised, half is sent, then the connection drops, so the client's HTTP
    layer fails. Either way the status line says 200, never 500.
    """
    half = full[: len(full) // 2]
    if fault["mode"] == "close":
        return exchange.respond(Response(half, media_type=media_type, headers=headers))

    async def dropped():
        yield half
        raise StreamAborted("cut_stream fault on a non-streaming response")

    return exchange.stream(dropped(), media_type,
                           headers={**(headers or {}), "content-length": str(len(full))})
