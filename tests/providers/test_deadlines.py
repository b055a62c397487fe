"""Deadlines that hold, answers complete at their end marker, scripts that call
``asyncio.run`` twice, and Bedrock threads a stalled server cannot keep.

A tiny server on 127.0.0.1 plays each misbehaviour with the real wire format of each
protocol; every provider reads it through its real SDK. The tests assert events -- which
error came, what it names, how many requests reached the server -- and bound wall-clock time
only at 5x what the right behaviour needs (the machine is shared and often loaded), which
still separates "bounded by AI__TIMEOUT_S" from "hangs" or "waits 100 s".
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbook.ai import (AISettings, IncompleteResponseError, Message, ProviderError,
                         ProviderUnavailableError, RateLimitError, create_ai_provider)
from workbook.ai.registry import network_names
from workbook.ports import free_port
from workbook.emulator import eventstream

QUESTION = [Message("user", "Why is the sky blue?")]
NETWORK = ["openai", "azure_openai", "ollama", "bedrock"]


class Script:
    """How the server answers: ``status`` + ``headers``, then ``parts`` (bytes written one by
    one, with ``gap_s`` between them), then ``after``: "close", "hold" (keep the socket open)
    or "endless" (repeat the last part forever)."""

    def __init__(self, status=200, parts=(b"{}",), *, content_type="application/json",
                 headers=None, gap_s=0.0, after="close"):
        self.status, self.parts, self.content_type = status, list(parts), content_type
        self.headers, self.gap_s, self.after = headers or {}, gap_s, after


class Server:
    def __init__(self) -> None:
        self.script = Script()
        self.requests: list[dict] = []
        self.release = threading.Event()  # ends every held / endless answer
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                script = server.script
                self.send_response(script.status)
                self.send_header("content-type", script.content_type)
                self.send_header("transfer-encoding", "chunked")
                for name, value in script.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    for part in script.parts:
                        self._chunk(part)
                        if script.gap_s:
                            time.sleep(script.gap_s)
                    if script.after == "endless":
                        while not server.release.is_set():
                            self._chunk(script.parts[-1])
                            time.sleep(0.001)
                    elif script.after == "hold":
                        server.release.wait(30)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client went away: what a closed stream does

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def log_message(self, *args) -> None:
                pass

        class Threaded(ThreadingHTTPServer):
            request_queue_size = 64  # many simultaneous connects in the Bedrock test
            daemon_threads = True

        self._server = Threaded(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.close()


def settings_for(name: str, url: str, **changes) -> AISettings:
    values = {
        "openai": dict(openai_base_url=f"{url}/v1", openai_api_key="sk-test-key-123456", model="m"),
        "azure_openai": dict(azure_openai_endpoint=url, azure_openai_api_key="azure-key-123456",
                             azure_openai_deployment="d"),
        "ollama": dict(ollama_base_url=url, model="m"),
        "bedrock": dict(bedrock_endpoint_url=url, aws_region="us-east-1", model="m"),
    }[name]
    return AISettings(provider=name, **{**values, **changes})


@pytest.fixture
async def build():
    """build(settings) -> a provider, closed after the test (its connections with it)."""
    built = []

    def _build(settings):
        built.append(create_ai_provider(settings))
        return built[-1]

    yield _build
    for provider in built:
        await provider.aclose()


@pytest.fixture(autouse=True)
def _aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-access-key")


# -- the wire formats ------------------------------------------------------------------

def sse_chunk(content=None, finish=None, usage=None) -> bytes:
    event = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [] if usage else [{"index": 0, "delta": {} if content is None else {"content": content},
                                           "finish_reason": finish}]}
    if usage:
        event["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def ollama_line(content="", done=False) -> bytes:
    line = {"model": "m", "message": {"role": "assistant", "content": content}, "done": done}
    if done:
        line.update(done_reason="stop", prompt_eval_count=3, eval_count=2)
    return json.dumps(line).encode() + b"\n"


def openai_body(content="Hi") -> bytes:
    return json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()


def stream_script(name: str, *, after: str, endless_text: bool = False) -> Script:
    """A streamed answer in ``name``'s wire format: two pieces, then its end marker (or,
    with ``endless_text``, text pieces forever)."""
    if name == "ollama":
        parts = [ollama_line("The"), ollama_line(" sky")]
        parts += [] if endless_text else [ollama_line(done=True)]
        return Script(parts=parts, content_type="application/x-ndjson", after=after)
    if name == "bedrock":
        parts = [eventstream.event("messageStart", {"role": "assistant"}),
                 eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "The"}}),
                 eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": " sky"}})]
        if not endless_text:
            parts += [eventstream.event("messageStop", {"stopReason": "end_turn"}),
                      eventstream.event("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2,
                                                               "totalTokens": 5}, "metrics": {"latencyMs": 1}})]
        return Script(parts=parts, content_type="application/vnd.amazon.eventstream", after=after)
    parts = [sse_chunk("The"), sse_chunk(" sky")]
    parts += [] if endless_text else [sse_chunk(finish="stop"), sse_chunk(usage=True)]
    return Script(parts=parts, content_type="text/event-stream", after=after)


def rate_limited(name: str, retry_after: str) -> Script:
    headers = {"retry-after": retry_after}
    if name == "bedrock":
        headers["x-amzn-errortype"] = "ThrottlingException"
        return Script(429, [b'{"message": "Too many requests"}'], headers=headers)
    if name == "ollama":
        return Script(429, [b'{"error": "too many requests"}'], headers=headers)
    return Script(429, [b'{"error": {"message": "Rate limit reached", "type": "requests"}}'], headers=headers)


async def _drain(stream) -> list[str]:
    return [piece async for piece in stream]


def guard_s(timeout_s: float) -> float:
    """How long a test lets a call run that AI__TIMEOUT_S=timeout_s must end: 5x the deadline,
    so a loaded machine cannot miss it, while a provider that ignores the setting still hangs
    past it."""
    return 5 * timeout_s


# -- AI__TIMEOUT_S bounds the whole call ----------------------------------------------------

@pytest.mark.parametrize("name", NETWORK)
async def test_a_retry_after_longer_than_the_deadline_fails_at_once(server, build, name):
    server.script = rate_limited(name, "100")
    # A long deadline: failing "at once" must mean before it, not at it.
    provider = build(settings_for(name, server.url, timeout_s=60, max_retries=2))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        await asyncio.wait_for(provider.chat(QUESTION), guard_s(60))
    # Not 100 s, not even the 60 s deadline; a call that fails at once takes under 2 s.
    assert time.monotonic() - started < 60 / 4
    assert caught.value.retry_after == 100
    assert "1 request sent" in caught.value.message
    assert len(server.requests) == 1


@pytest.mark.parametrize("name", NETWORK)
async def test_a_refused_connection_keeps_its_own_hint_when_retries_run_out_of_time(build, name):
    # Nobody listens, and the deadline is shorter than any back-off after the second refusal, so
    # the retries always run out of time: either the next back-off would pass the deadline, or (on
    # a busy machine) the deadline passes while a retry is still connecting. Either way the reader
    # must be told what failed and to start the server, not only that time ran out.
    provider = build(settings_for(name, f"http://127.0.0.1:{free_port()}", timeout_s=0.3, max_retries=5))
    with pytest.raises(ProviderUnavailableError) as caught:
        await asyncio.wait_for(provider.chat(QUESTION), guard_s(5))
    message, hint = caught.value.message, caught.value.hint
    assert ("no time left of AI__TIMEOUT_S=0.3" in message
            or "within 0.3 s (AI__TIMEOUT_S" in message and "the attempt before failed" in message), message
    assert re.search(r"cannot reach|refused|connect", message, re.I), message
    assert "so the retry can wait" not in hint
    assert "ran out of time" in hint
    # The unreachable server's own hint: its URL setting, or whether it runs.
    assert re.search(r"running|start|_BASE_URL|_ENDPOINT", hint), hint


@pytest.mark.parametrize("name", NETWORK)
async def test_retries_share_one_deadline(server, build, name):
    # Headers, then nothing: every attempt would wait its own read timeout.
    server.script = Script(parts=[], after="hold")
    provider = build(settings_for(name, server.url, timeout_s=1.5, max_retries=3))
    with pytest.raises(ProviderUnavailableError, match="within 1.5 s"):
        await asyncio.wait_for(provider.chat(QUESTION), guard_s(1.5))
    # The first attempt spent the whole deadline, so no retry went out. A read timeout per
    # attempt would send 4 requests (in 4 x 1.5 s, inside the guard); no deadline at all
    # would still be waiting when the guard cancels it.
    assert len(server.requests) == 1


@pytest.mark.parametrize("name", NETWORK)
async def test_an_endless_body_does_not_hang_chat(server, build, name):
    script = stream_script(name, after="endless", endless_text=True)
    if name in ("openai", "azure_openai"):
        script = Script(parts=[b'{"id": "c", "choices": [', b" "], after="endless")
    elif name == "ollama":
        script = Script(parts=[b'{"message": {"content": "', b"a"], after="endless")
    server.script = script
    provider = build(settings_for(name, server.url, timeout_s=1.5, max_retries=0))
    # An endless body ignoring the deadline would run past the guard: asyncio's TimeoutError,
    # no ProviderError.
    with pytest.raises(ProviderError):
        await asyncio.wait_for(provider.chat(QUESTION), guard_s(1.5))
    assert len(server.requests) == 1


@pytest.mark.parametrize("name", NETWORK)
async def test_an_endless_stream_is_stopped_as_the_servers_fault(server, build, name):
    server.script = stream_script(name, after="endless", endless_text=True)
    provider = build(settings_for(name, server.url, timeout_s=20, max_retries=0))
    pieces = []
    with pytest.raises(ProviderError, match="kept streaming past max_tokens=4") as caught:
        async for piece in provider.chat_stream(QUESTION, max_tokens=4):
            pieces.append(piece)
    assert "ignores max_tokens" in caught.value.hint
    assert len(pieces) <= 4 * 4 + 64


@pytest.mark.parametrize("name", NETWORK)
async def test_a_stall_between_pieces_is_bounded_by_the_timeout(server, build, name):
    server.script = stream_script(name, after="hold", endless_text=True)
    provider = build(settings_for(name, server.url, timeout_s=1.0, max_retries=0))
    pieces = []

    async def read() -> None:
        async for piece in provider.chat_stream(QUESTION):
            pieces.append(piece)

    # The gap's own error, naming the deadline (a server holding for 30 s would end a stream
    # whose gaps are not bounded only after the guard).
    with pytest.raises(IncompleteResponseError, match="AI__TIMEOUT_S=1 s"):
        await asyncio.wait_for(read(), guard_s(1.0))
    assert pieces == ["The", " sky"]


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "1e9"])
def test_the_timeout_must_be_finite_and_positive(value):
    from workbook.ai import ConfigurationError
    from workbook.ai.settings import settings_from_mapping

    with pytest.raises(ConfigurationError, match="AI__TIMEOUT_S"):
        settings_from_mapping({"AI__TIMEOUT_S": value})


# -- complete at the end marker -------------------------------------------------------------

@pytest.mark.parametrize("name", NETWORK)
async def test_an_answer_is_complete_at_its_end_marker_on_a_held_connection(server, build, name):
    server.script = stream_script(name, after="hold")
    # The server holds the connection 30 s, inside a 60 s read timeout: an answer returned
    # well before that came at its end marker (in under 2 s: AFTER_END_S for what follows it).
    provider = build(settings_for(name, server.url, timeout_s=60, max_retries=0))
    started = time.monotonic()
    stream = provider.chat_stream(QUESTION)
    assert await _drain(stream) == ["The", " sky"]
    assert stream.finish_reason == "stop" and stream.usage.output_tokens == 2
    assert time.monotonic() - started < 30 / 2


# -- one provider, several asyncio.run calls -------------------------------------------------

@pytest.mark.parametrize("name", [*network_names(), "mock"])  # local: tests/unit/test_local.py
def test_one_provider_works_across_asyncio_run_calls(emu, name, monkeypatch, caplog, capfd):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret")
    provider = create_ai_provider(emu.settings(name))
    for _ in range(3):
        reply = asyncio.run(provider.chat(QUESTION, max_tokens=8))
        assert reply.content
        assert asyncio.run(_drain(provider.chat_stream(QUESTION, max_tokens=8)))
    gc.collect()  # a client left over from a closed loop must not complain when collected
    asyncio.run(asyncio.sleep(0.05))
    noise = capfd.readouterr().err + caplog.text
    assert "Event loop is closed" not in noise and "never retrieved" not in noise, noise[-500:]


# -- Bedrock's threads ------------------------------------------------------------------------

async def test_abandoned_bedrock_streams_release_their_threads(server, build, emu, monkeypatch):
    from workbook.ai.providers import _botocore_io as bedrock_io

    stalled = build(settings_for("bedrock", server.url, timeout_s=60, max_retries=0))
    server.script = stream_script("bedrock", after="hold", endless_text=True)
    # Two waves, each taking every thread of the pool: the second wave (and the healthy
    # call after it) gets a thread only if closing the first released them.
    started = time.monotonic()
    for _wave in range(2):
        streams = [stalled.chat_stream(QUESTION) for _ in range(bedrock_io.POOL_SIZE)]
        for stream in streams:
            assert await stream.__anext__() == "The"
        for stream in streams:
            await stream.aclose()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret")
    healthy = build(emu.settings("bedrock"))
    assert (await healthy.chat(QUESTION, max_tokens=8)).content
    # Threads not released would wait for the server to let go of the stalled reads (it
    # holds them 30 s); the whole test needs a second or two.
    assert time.monotonic() - started < 30 / 2


async def test_a_cancelled_bedrock_call_stops_retrying(server, build):
    server.script = Script(503, [b'{"message": "busy"}'],
                           headers={"x-amzn-errortype": "ServiceUnavailableException", "retry-after": "1"})
    provider = build(settings_for("bedrock", server.url, timeout_s=30, max_retries=5))
    task = asyncio.ensure_future(provider.chat(QUESTION))
    # Cancel once the first request arrived (and before the 1 s Retry-After is up), whatever
    # the machine's load.
    while not server.requests:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sent = len(server.requests)
    await asyncio.sleep(2.5)
    assert len(server.requests) == sent == 1
