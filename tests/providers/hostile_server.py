"""A server on 127.0.0.1 that misbehaves on purpose, byte by byte, in every wire format.

The emulator behaves like a well-run service; this server does what broken ones do: it
hangs after the headers, stalls mid-body, keeps a finished answer's connection open,
cuts a stream, sends an endless body, HTML, invalid UTF-8 or a Bedrock frame with a bad
CRC. It writes raw HTTP/1.1 on a plain socket so that every one of those is possible, and
it speaks the wire format the request asked for: the OpenAI and Azure chat routes (JSON or
SSE), Ollama's ``/api/chat`` (JSON or NDJSON) and Bedrock's Converse (JSON) and
ConverseStream (``vnd.amazon.eventstream`` frames, from the emulator's own encoder).

``HostileServer(fault)`` answers every model request with that fault; ``requests`` is what
arrived. Stopping it closes every connection it holds, so nothing outlives a test.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable

from workbook.ai import AISettings
from workbook.ai.registry import get_spec
from workbook.emulator import eventstream

ANSWER = ["The", " sky", " is", " blue."]
HTML_PAGE = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>\n"
LONG_RETRY_AFTER_S = 100
PIECE_INTERVAL_S = 0.005  # endless answers trickle: steady bytes, so no read timeout fires


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def wire(self) -> str:
        if self.path.startswith("/api/"):
            return "ollama"
        if self.path.startswith("/model/"):
            return "bedrock"
        return "azure" if self.path.startswith("/openai/") else "openai"

    @property
    def streams(self) -> bool:
        body = self.json if isinstance(self.json, dict) else {}
        if self.wire == "bedrock":
            return self.path.endswith("/converse-stream")
        if self.wire == "ollama":
            return body.get("stream", True) is not False
        return bool(body.get("stream"))


class Stopped(Exception):
    """The server is stopping (or the client left): the behaviour ends here."""


@dataclass
class Connection:
    sock: socket.socket
    stopping: threading.Event

    def send(self, data: bytes) -> None:
        if self.stopping.is_set():
            raise Stopped
        try:
            self.sock.sendall(data)
        except OSError as gone:
            raise Stopped from gone

    def chunk(self, data: bytes) -> None:
        """One piece of a chunked body."""
        if data:
            self.send(b"%x\r\n" % len(data) + data + b"\r\n")

    def end_chunks(self) -> None:
        self.send(b"0\r\n\r\n")

    def head(self, status: int, content_type: str, *, length: int | None = None,
             headers: dict[str, str] | None = None) -> None:
        """Status line and headers; chunked unless ``length`` is given."""
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                 f"content-type: {content_type}"]
        lines.append(f"content-length: {length}" if length is not None
                     else "transfer-encoding: chunked")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def whole(self, status: int, content_type: str, body: bytes,
              headers: dict[str, str] | None = None) -> None:
        self.head(status, content_type, length=len(body), headers=headers)
        self.send(body)

    def hold(self) -> None:
        """Keep the connection open, sending nothing, until the server stops."""
        self.stopping.wait()
        raise Stopped


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}


# -- each wire format's bodies -----------------------------------------------------------

class Wire:
    """The bodies of one wire format: a whole answer, stream pieces, end marker, errors."""

    stream_type = "application/json"
    answer_type = "application/json"

    def __init__(self, request: Request):
        self.request = request

    def answer(self, text: str) -> bytes:
        raise NotImplementedError

    def answer_prefix(self) -> bytes:
        """A whole answer's opening, up to where the text goes (for endless/stalled bodies)."""
        raise NotImplementedError

    def start(self) -> bytes:
        return b""

    def piece(self, text: str) -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        """The end marker (finish reason, usage): after it the answer is complete."""
        raise NotImplementedError

    def close_marker(self) -> bytes:
        """What some formats send after the end marker (OpenAI's ``[DONE]``)."""
        return b""

    def broken_piece(self) -> bytes:
        raise NotImplementedError

    def piece_with_invalid_utf8(self) -> bytes:
        """A piece whose text holds the bytes FF FE."""
        return self.piece(" XXBADXX").replace(b"XXBADXX", b"\xff\xfe")

    def error(self, kind: str, message: str) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError


class OpenAIWire(Wire):
    stream_type = "text/event-stream; charset=utf-8"

    def _chunk(self, delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if usage is not None:
            body["choices"], body["usage"] = [], usage
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    def answer(self, text: str) -> bytes:
        return json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}).encode()

    def answer_prefix(self) -> bytes:
        return (b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",'
                b'"choices":[{"index":0,"message":{"role":"assistant","content":"')

    def start(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def piece(self, text: str) -> bytes:
        return self._chunk({"content": text})

    def finish(self) -> bytes:
        return self._chunk({}, "stop") + self._chunk(
            {}, usage={"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9})

    def close_marker(self) -> bytes:
        return b"data: [DONE]\n\n"

    def broken_piece(self) -> bytes:
        return b'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"br\n\n'

    def error(self, kind: str, message: str):
        status, code = {"auth": (401, "invalid_api_key"), "forbidden": (403, None),
                        "not_found": (404, "model_not_found"), "rate_limit": (429, "rate_limit_exceeded"),
                        "server_error": (500, None), "bad_request": (400, None)}[kind]
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                          "code": code}}
        return status, {}, json.dumps(body).encode()


class AzureWire(OpenAIWire):
    def error(self, kind: str, message: str):
        status, code = {"auth": (401, "401"), "forbidden": (403, "PermissionDenied"),
                        "not_found": (404, "DeploymentNotFound"), "rate_limit": (429, "429"),
                        "server_error": (500, "InternalServerError"),
                        "bad_request": (400, "BadRequest")}[kind]
        return status, {}, json.dumps({"error": {"code": code, "message": message}}).encode()


class OllamaWire(Wire):
    stream_type = "application/x-ndjson"

    def _final(self, text: str) -> dict:
        return {"model": "llama3.2", "created_at": "2026-11-30T00:00:00Z",
                "message": {"role": "assistant", "content": text}, "done": True,
                "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 4}

    def answer(self, text: str) -> bytes:
        return json.dumps(self._final(text)).encode()

    def answer_prefix(self) -> bytes:
        return b'{"model":"llama3.2","created_at":"2026-11-30T00:00:00Z","message":{"role":"assistant","content":"'

    def piece(self, text: str) -> bytes:
        return json.dumps({"model": "llama3.2", "created_at": "2026-11-30T00:00:00Z",
                           "message": {"role": "assistant", "content": text},
                           "done": False}).encode() + b"\n"

    def finish(self) -> bytes:
        return json.dumps(self._final("")).encode() + b"\n"

    def broken_piece(self) -> bytes:
        return b'{"model":"llama3.2","message":{"ro\n'

    def error(self, kind: str, message: str):
        status = {"auth": 401, "forbidden": 403, "not_found": 404, "rate_limit": 429,
                  "server_error": 500, "bad_request": 400}[kind]
        return status, {}, json.dumps({"error": message}).encode()


class BedrockWire(Wire):
    stream_type = "application/vnd.amazon.eventstream"

    def answer(self, text: str) -> bytes:
        return json.dumps({
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 4, "totalTokens": 9},
            "metrics": {"latencyMs": 1}}).encode()

    def answer_prefix(self) -> bytes:
        return b'{"output":{"message":{"role":"assistant","content":[{"text":"'

    def start(self) -> bytes:
        return eventstream.event("messageStart", {"role": "assistant"})

    def piece(self, text: str) -> bytes:
        return eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": text}})

    def finish(self) -> bytes:
        return (eventstream.event("contentBlockStop", {"contentBlockIndex": 0})
                + eventstream.event("messageStop", {"stopReason": "end_turn"})
                + eventstream.event("metadata", {
                    "usage": {"inputTokens": 5, "outputTokens": 4, "totalTokens": 9},
                    "metrics": {"latencyMs": 1}}))

    def piece_with_invalid_utf8(self) -> bytes:
        payload = json.dumps({"contentBlockIndex": 0, "delta": {"text": " XXBADXX"}}).encode()
        return eventstream.encode_frame(  # framed after the change, so the CRCs are right
            {":event-type": "contentBlockDelta", ":content-type": "application/json",
             ":message-type": "event"}, payload.replace(b"XXBADXX", b"\xff\xfe"))

    def broken_piece(self) -> bytes:
        # Frames intact (right CRCs), payload not JSON.
        return eventstream.encode_frame(
            {":event-type": "contentBlockDelta", ":content-type": "application/json",
             ":message-type": "event"}, b'{"contentBlockIndex":0,"delta":{"te')

    def error(self, kind: str, message: str):
        status, code = {"auth": (403, "UnrecognizedClientException"),
                        "forbidden": (403, "AccessDeniedException"),
                        "not_found": (404, "ResourceNotFoundException"),
                        "rate_limit": (429, "ThrottlingException"),
                        "server_error": (500, "InternalServerException"),
                        "bad_request": (400, "ValidationException")}[kind]
        return status, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                        "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"}, \
            json.dumps({"message": message}).encode()


WIRES = {"openai": OpenAIWire, "azure": AzureWire, "ollama": OllamaWire, "bedrock": BedrockWire}


# -- the faults ----------------------------------------------------------------------------
# Each takes (connection, wire, request, attempt) and returns True to keep the connection
# for another request, False to close it. ``attempt`` counts model requests from 1.

Behaviour = Callable[[Connection, Wire, Request, int], bool]


def _send_error(conn: Connection, wire: Wire, kind: str, message: str,
                extra: dict[str, str] | None = None) -> bool:
    status, headers, body = wire.error(kind, message)
    conn.whole(status, "application/json", body, {**headers, **(extra or {})})
    return True


def answer_well(conn: Connection, wire: Wire, request: Request, attempt: int) -> bool:
    if not request.streams:
        conn.whole(200, wire.answer_type, wire.answer("".join(ANSWER)))
        return True
    conn.head(200, wire.stream_type)
    conn.chunk(wire.start())
    for text in ANSWER:
        conn.chunk(wire.piece(text))
    conn.chunk(wire.finish() + wire.close_marker())
    conn.end_chunks()
    return True


def error_fault(kind: str, message: str) -> Behaviour:
    def behaviour(conn, wire, request, attempt):
        return _send_error(conn, wire, kind, message)
    return behaviour


def rate_limit_then_success(conn, wire, request, attempt):
    if attempt == 1:
        return _send_error(conn, wire, "rate_limit", "Too many requests, please wait.",
                           {"retry-after": "0"})
    return answer_well(conn, wire, request, attempt)


def rate_limit_long(conn, wire, request, attempt):
    return _send_error(conn, wire, "rate_limit", "Too many requests, please wait.",
                       {"retry-after": str(LONG_RETRY_AFTER_S)})


def hang_after_headers(conn, wire, request, attempt):
    if request.streams:
        conn.head(200, wire.stream_type)
    else:
        conn.head(200, wire.answer_type, length=len(wire.answer("".join(ANSWER))))
    conn.hold()


def stall_mid_body(conn, wire, request, attempt):
    if request.streams:
        conn.head(200, wire.stream_type)
        conn.chunk(wire.start() + wire.piece(ANSWER[0]) + wire.piece(ANSWER[1]))
    else:
        full = wire.answer("".join(ANSWER))
        conn.head(200, wire.answer_type, length=len(full))
        conn.send(full[: len(full) // 2])
    conn.hold()


def complete_held_open(conn, wire, request, attempt):
    """The whole answer and its end marker, then the connection stays open, body unended."""
    if not request.streams:  # a complete Content-Length body on a kept-alive connection
        conn.whole(200, wire.answer_type, wire.answer("".join(ANSWER)))
        conn.hold()
    conn.head(200, wire.stream_type)
    conn.chunk(wire.start() + b"".join(wire.piece(text) for text in ANSWER) + wire.finish())
    conn.hold()  # no [DONE], no last chunk, no close


def cut_stream(conn, wire, request, attempt):
    """Part of the answer, then the connection closes (no end marker)."""
    if request.streams:
        conn.head(200, wire.stream_type)
        conn.chunk(wire.start() + wire.piece(ANSWER[0]) + wire.piece(ANSWER[1]))
        conn.end_chunks()  # the HTTP body ends cleanly: only the protocol's end marker is missing
    else:
        full = wire.answer("".join(ANSWER))
        conn.head(200, wire.answer_type, length=len(full))
        conn.send(full[: len(full) // 2])
    return False


def malformed(conn, wire, request, attempt):
    if request.streams:
        conn.head(200, wire.stream_type)
        conn.chunk(wire.start() + wire.piece(ANSWER[0]) + wire.broken_piece()
                   + wire.finish() + wire.close_marker())
        conn.end_chunks()
    else:
        full = wire.answer("".join(ANSWER))
        conn.whole(200, wire.answer_type, full[: len(full) // 2])
    return True


def html_200(conn, wire, request, attempt):
    conn.whole(200, "text/html", HTML_PAGE)
    return True


def endless_body(conn, wire, request, attempt):
    """Bytes forever that never make a piece of the answer."""
    if not request.streams:
        conn.head(200, wire.answer_type)
        conn.chunk(wire.answer_prefix())
        filler = b"a" * 256  # one string that never closes
    elif isinstance(wire, BedrockWire):
        conn.head(200, wire.stream_type)
        # A frame whose (valid) prelude promises 8 MB and whose body never ends.
        prelude = struct.pack(">II", 8 * 1024 * 1024, 0)
        conn.chunk(wire.start() + prelude + struct.pack(">I", zlib.crc32(prelude)))
        filler = b"\0" * 256
    elif isinstance(wire, OllamaWire):
        conn.head(200, wire.stream_type)
        conn.chunk(b'{"model":"llama3.2","message":{"role":"assistant","content":"')
        filler = b"a" * 256  # one NDJSON line that never ends
    else:
        conn.head(200, wire.stream_type)
        filler = b": keep-alive\n\n"  # SSE comments: bytes, never an event
    while True:
        conn.chunk(filler)
        time.sleep(PIECE_INTERVAL_S)


def endless_stream(conn, wire, request, attempt):
    """Pieces of the answer forever, never an end marker."""
    if not request.streams:
        conn.head(200, wire.answer_type)
        conn.chunk(wire.answer_prefix())
        while True:
            conn.chunk(b" and more")
            time.sleep(PIECE_INTERVAL_S)
    conn.head(200, wire.stream_type)
    conn.chunk(wire.start())
    while True:
        conn.chunk(wire.piece(" and more"))
        time.sleep(PIECE_INTERVAL_S)


def invalid_utf8(conn, wire, request, attempt):
    """An answer whose text holds the bytes FF FE: never valid UTF-8."""
    marker, bad = b"XXBADXX", b"\xff\xfe"
    if request.streams:
        conn.head(200, wire.stream_type)
        conn.chunk(wire.start() + wire.piece(ANSWER[0]) + wire.piece_with_invalid_utf8()
                   + wire.finish() + wire.close_marker())
        conn.end_chunks()
    else:
        conn.whole(200, wire.answer_type, wire.answer("The sky is XXBADXX blue.").replace(marker, bad))
    return True


def wrong_crc(conn, wire, request, attempt):
    conn.head(200, wire.stream_type)
    conn.chunk(wire.start() + eventstream.corrupt(wire.piece(ANSWER[0])) + wire.finish())
    conn.end_chunks()
    return True


def echo_headers(conn, wire, request, attempt):
    """A 400 whose message repeats every request header: what careless proxies do."""
    echoed = "; ".join(f"{name}: {value}" for name, value in request.headers.items())
    return _send_error(conn, wire, "bad_request", f"bad request, headers were: {echoed}")


# -- the server ----------------------------------------------------------------------------

@dataclass
class HostileServer:
    behaviour: Behaviour
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._clients: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True, name="hostile-server")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "HostileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone does not
        except OSError:
            pass
        try:
            self._listener.close()
        finally:
            with self._lock:
                for client in self._clients:
                    try:
                        client.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    client.close()
        self._thread.join(2)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        conn = Connection(client, self._stopping)
        buffer = b""
        try:
            while True:
                request, buffer = _read_request(client, buffer)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    attempt = len(self.requests)
                keep = self.behaviour(conn, WIRES[request.wire](request), request, attempt)
                if not keep:
                    return
        except Stopped:
            return
        finally:
            try:
                client.close()
            except OSError:
                pass


def _read_request(client: socket.socket, buffer: bytes) -> tuple[Request | None, bytes]:
    """One HTTP/1.1 request (Content-Length bodies only: what these SDKs send)."""
    try:
        while b"\r\n\r\n" not in buffer:
            data = client.recv(65536)
            if not data:
                return None, b""
            buffer += data
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(buffer) < length:
            data = client.recv(65536)
            if not data:
                return None, b""
            buffer += data
    except OSError:
        return None, b""
    return Request(method, path, headers, buffer[:length]), buffer[length:]


FAULTS: dict[str, Behaviour] = {
    "auth_401": error_fault("auth", "Incorrect API key provided."),
    "forbidden_403": error_fault("forbidden", "You don't have access to this model."),
    "not_found_404": error_fault("not_found", 'model "m" not found, try pulling it first'),
    "rate_limit_then_success": rate_limit_then_success,
    "rate_limit_long_retry_after": rate_limit_long,
    "server_error_500": error_fault("server_error", "The server had an error."),
    "hang_after_headers": hang_after_headers,
    "stall_mid_body": stall_mid_body,
    "complete_held_open": complete_held_open,
    "cut_stream": cut_stream,
    "malformed_body": malformed,
    "html_200": html_200,
    "endless_body": endless_body,
    "endless_stream": endless_stream,
    "invalid_utf8": invalid_utf8,
    "wrong_crc": wrong_crc,
}


def provider_settings(provider: str, url: str, **changes) -> AISettings:
    """Settings that point ``provider`` at a server at ``url`` (dummy keys; AWS keys come
    from the environment, as boto3 reads them)."""
    protocol = get_spec(provider).protocol  # by wire: a newly registered provider needs no branch
    if protocol == "azure_openai":
        values = dict(azure_openai_endpoint=url, azure_openai_api_key="test-key",
                      azure_openai_deployment="gpt-4o-mini")
    elif protocol == "ollama":
        values = dict(ollama_base_url=url, model="llama3.2")
    elif protocol == "bedrock":
        values = dict(bedrock_endpoint_url=url, aws_region="us-east-1",
                      model="anthropic.claude-3-haiku-20240307-v1:0")
    else:  # the openai wire: openai's own settings, or an OpenAI-compatible entry's
        spec = get_spec(provider)
        values = {spec.url_field: f"{url}/v1", spec.key_field: "test-key", "model": "m"}
    return AISettings(provider=provider, **{**values, **changes})
