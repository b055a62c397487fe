"""Issue 19 (part A): servers that misbehave in the ways the first fault matrix missed.

Every network provider (the OpenAI family, Ollama, Bedrock), ``chat`` and ``chat_stream``,
through its real SDK against ``hostile_server.HostileServer`` on 127.0.0.1:

1. an answer complete at its end marker, after which the server keeps sending events that
   carry no text (or bytes after a whole body) without closing: the answer comes back, within
   a short total bound -- not after AI__TIMEOUT_S as IncompleteResponseError;
3. Bedrock calls that time out or are cancelled while a slow body trickles release their
   thread and socket: a healthy provider's next call works, and a process can exit;
4. a stream that drips one piece per gap ends at its whole-stream bound; a body and a gzip
   bomb each far past the answer's byte bound for max_tokens=16 are stopped after a bounded
   read (the bound lowered 16x for these cells, and the body and bomb with it: 12.5 MB and
   64 MB inflated prove what 200 MB and 1 GB prove at the real bound, in a fraction of the
   time);
5. a 200 answer whose text is a number, an object, a list or a bool is a typed error; an
   Ollama body cut inside a line after some pieces is IncompleteResponseError; a redirect
   loop is its own error, sent once, not "cannot reach the server" retried.

The cells of one fault run at once, each against a server of its own; every call is
cancelled by the test if it outlives GUARD_S, so nothing here can hang the suite. Bounds in
time are checked by their events (the whole-stream bound's own error, the answer instead of
IncompleteResponseError) and, where a time is asserted, with 5x what the right behaviour needs.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from workbook.ai import Message, create_ai_provider
from workbook.ai.registry import network_names
from workbook.ai.errors import (IncompleteResponseError, ProviderError, ProviderUnavailableError)
from workbook.ai.providers import _bounds
from workbook.ai.providers._bounds import AFTER_END_S, stream_deadline_s
from workbook.aio import aclose_quietly
from workbook.emulator import eventstream

from hostile_server import (ANSWER, BedrockWire, HostileServer, OllamaWire,
                            answer_well, provider_settings)

PROVIDERS = tuple(network_names())  # the registry's list: a new network provider is covered too
CALLS = ("chat", "chat_stream")
QUESTION = [Message("user", "Why is the sky blue?")]
MAX_TOKENS = 16
GUARD_S = 30.0  # the test cancels any call still running after this
TRICKLE_S = 0.1  # gap between the events a hostile server keeps sending


@pytest.fixture(autouse=True)
def _dummy_aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-access-key")
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


# -- the faults -------------------------------------------------------------------------

def empty_event(wire) -> bytes:
    """An event in ``wire``'s format that carries no text."""
    if isinstance(wire, OllamaWire):
        return json.dumps({"model": "llama3.2", "message": {"role": "assistant", "content": ""},
                           "done": False}).encode() + b"\n"
    if isinstance(wire, BedrockWire):
        return eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": ""}})
    return (b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
            b'"choices":[]}\n\n')


def end_then_trickle(conn, wire, request, attempt):
    """The whole answer with its end marker, then, without closing, more: events with no
    text (a stream), or bytes after the body (a whole answer, Content-Length exact)."""
    if not request.streams:
        conn.whole(200, wire.answer_type, wire.answer("".join(ANSWER)))
        while True:
            conn.send(b" ")
            time.sleep(TRICKLE_S)
    conn.head(200, wire.stream_type)
    conn.chunk(wire.start() + b"".join(wire.piece(text) for text in ANSWER) + wire.finish())
    while True:
        conn.chunk(empty_event(wire))
        time.sleep(TRICKLE_S)


def end_marker_only_then_trickle(conn, wire, request, attempt):
    """Bedrock: messageStop, then no-text events and never the metadata event."""
    conn.head(200, wire.stream_type)
    conn.chunk(wire.start() + b"".join(wire.piece(text) for text in ANSWER)
               + eventstream.event("messageStop", {"stopReason": "end_turn"}))
    while True:
        conn.chunk(empty_event(wire))
        time.sleep(TRICKLE_S)


DRIP_GAP_S = 0.4


def drip(conn, wire, request, attempt):
    """A piece just inside every gap, forever (never the end marker)."""
    conn.head(200, wire.stream_type)
    conn.chunk(wire.start())
    while True:
        conn.chunk(wire.piece(" drip"))
        time.sleep(DRIP_GAP_S)


# The answer's byte bound for the huge-body and gzip-bomb cells: 16x below the real one
# (1 MiB + 16 KiB per token), and each body 16x smaller than one that tests the real bound.
SMALL_BASE_BYTES = _bounds.BASE_ANSWER_BYTES // 16
SMALL_BYTES_PER_TOKEN = _bounds.ANSWER_BYTES_PER_TOKEN // 16
HUGE_BYTES = 200 * 1024 * 1024 // 16
SNDBUF = 64 * 1024  # the huge body's server socket: kernel buffers do not hide a read that went on
_FILLER = b"a" * 65536


@contextmanager
def small_answer_bound():
    """The answer byte bound lowered to SMALL_*, for the cells run inside."""
    saved = _bounds.BASE_ANSWER_BYTES, _bounds.ANSWER_BYTES_PER_TOKEN
    _bounds.BASE_ANSWER_BYTES, _bounds.ANSWER_BYTES_PER_TOKEN = SMALL_BASE_BYTES, SMALL_BYTES_PER_TOKEN
    try:
        yield
    finally:
        _bounds.BASE_ANSWER_BYTES, _bounds.ANSWER_BYTES_PER_TOKEN = saved


def small_limit(max_tokens: int) -> int:
    return SMALL_BASE_BYTES + max_tokens * SMALL_BYTES_PER_TOKEN


@dataclass
class Sent:
    bytes: int = 0


SENT: dict[int, Sent] = {}  # server port -> what it managed to send of a huge body


def huge_body(conn, wire, request, attempt):
    """HUGE_BYTES of one answer's text at full speed (a whole body, or one never-ending piece)."""
    sent = SENT.setdefault(conn.sock.getsockname()[1], Sent())
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
    if not request.streams:
        prefix = wire.answer_prefix()
        conn.head(200, wire.answer_type, length=len(prefix) + HUGE_BYTES + 2)
        conn.send(prefix)
    elif isinstance(wire, BedrockWire):
        conn.head(200, wire.stream_type)
        conn.chunk(wire.start())
        # A frame whose valid prelude promises 16 MB, then its bytes (most a frame may be).
        prelude = struct.pack(">II", 16 * 1024 * 1024, 0)
        conn.chunk(prelude + struct.pack(">I", zlib.crc32(prelude)))
    elif isinstance(wire, OllamaWire):
        conn.head(200, wire.stream_type)
        conn.chunk(wire.answer_prefix())
    else:
        conn.head(200, wire.stream_type)
        conn.chunk(b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"')
    while sent.bytes < HUGE_BYTES:
        if request.streams:
            conn.chunk(_FILLER)
        else:
            conn.send(_FILLER)
        sent.bytes += len(_FILLER)
    conn.hold()


def _gzip_bomb() -> bytes:
    """A gzip body that inflates to 64 MiB of "a" (1 GiB at the real bound): its 64 KiB blocks
    are each compressed after a full flush, so one block's bytes can be repeated (its trailer
    never arrives: no matter, a client must stop long before)."""
    block = b"a" * (1 << 16)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + repeated * 1023


BOMB = _gzip_bomb()


def gzip_bomb(conn, wire, request, attempt):
    content_type = wire.stream_type if request.streams else wire.answer_type
    conn.head(200, content_type, length=len(BOMB), headers={"content-encoding": "gzip"})
    conn.send(BOMB)
    conn.hold()


def shaped(value):
    """A 200 whose text is ``value`` (not a string) in every format, chat and stream."""
    def behaviour(conn, wire, request, attempt):
        if isinstance(wire, OllamaWire):
            line = {"model": "llama3.2", "message": {"role": "assistant", "content": value},
                    "done": not request.streams, "done_reason": "stop"}
            if not request.streams:
                conn.whole(200, wire.answer_type, json.dumps(line).encode())
                return True
            conn.head(200, wire.stream_type)
            conn.chunk(wire.piece("The") + json.dumps(line).encode() + b"\n" + wire.finish())
        elif isinstance(wire, BedrockWire):
            if not request.streams:
                body = json.loads(wire.answer("x"))
                body["output"]["message"]["content"] = [{"text": value}]
                conn.whole(200, wire.answer_type, json.dumps(body).encode())
                return True
            conn.head(200, wire.stream_type)
            conn.chunk(wire.start() + wire.piece("The") + eventstream.event(
                "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": value}}) + wire.finish())
        else:
            if not request.streams:
                body = json.loads(wire.answer("x"))
                body["choices"][0]["message"]["content"] = value
                conn.whole(200, wire.answer_type, json.dumps(body).encode())
                return True
            conn.head(200, wire.stream_type)
            chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                     "choices": [{"index": 0, "delta": {"content": value}, "finish_reason": None}]}
            conn.chunk(wire.start() + wire.piece("The") + b"data: " + json.dumps(chunk).encode()
                       + b"\n\n" + wire.finish() + wire.close_marker())
        conn.end_chunks()
        return True
    return behaviour


def cut_mid_line(conn, wire, request, attempt):
    """Some pieces, then the body ends cleanly in the middle of the next line / event."""
    conn.head(200, wire.stream_type)
    conn.chunk(wire.start() + wire.piece(ANSWER[0]) + wire.piece(ANSWER[1]) + wire.piece(ANSWER[2])[:20])
    conn.end_chunks()
    return False


def redirect_loop(conn, wire, request, attempt):
    conn.whole(307, "text/plain", b"", headers={"location": request.path})
    return True


NOT_TEXT = {"number": 5, "object": {"text": "hi"}, "list": ["hi"], "true": True}
FAULTS = {
    "end_then_trickle": end_then_trickle,
    "drip": drip,
    "huge_body": huge_body,
    "gzip_bomb": gzip_bomb,
    "redirect_loop": redirect_loop,
}

# end_then_trickle: a deadline far past the ~1.5 s the right answer needs, so one that
# waited for it is told apart at 5x margin.
TIMEOUT_S = {"end_then_trickle": 15.0, "drip": 1.0, "redirect_loop": 10.0}  # else 3 s
SMALL_BOUND_FAULTS = {"huge_body", "gzip_bomb"}
# What an answer complete at its end marker may take: AFTER_END_S for what follows the
# marker, plus the exchange itself -- 5x over, and still half the 15 s deadline.
AFTER_END_BOUND_S = 5 * (AFTER_END_S + 0.5)
ASKED_TOKENS = {"drip": 2}  # else MAX_TOKENS


# -- running a fault's cells at once --------------------------------------------------------

@dataclass
class Outcome:
    result: BaseException | str | None  # None: cancelled by the test at GUARD_S
    elapsed_s: float
    sent: int  # requests that reached the server
    port: int


async def _call(provider, call: str, max_tokens: int) -> str:
    if call == "chat":
        return (await provider.chat(QUESTION, max_tokens=max_tokens)).content
    return "".join([piece async for piece in provider.chat_stream(QUESTION, max_tokens=max_tokens)])


async def _timed(provider, call: str, max_tokens: int) -> tuple[BaseException | str | None, float]:
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(_call(provider, call, max_tokens), GUARD_S)
    except asyncio.TimeoutError:
        result = None
    except Exception as error:  # judged by the test
        result = error
    return result, time.monotonic() - started


async def run_cells(behaviour, cells, *, timeout_s: float, max_tokens: int = MAX_TOKENS,
                    max_retries: int = 2) -> list[Outcome]:
    """``cells`` ((provider, call) pairs) at once, each against a server of its own playing
    ``behaviour`` (or the cell's own, given a list)."""
    behaviours = behaviour if isinstance(behaviour, list) else [behaviour] * len(cells)
    servers = [HostileServer(each).__enter__() for each in behaviours]
    try:
        providers = [create_ai_provider(provider_settings(name, server.url, timeout_s=timeout_s,
                                                          max_retries=max_retries, max_tokens=max_tokens))
                     for (name, _), server in zip(cells, servers)]
        results = await asyncio.gather(*(_timed(provider, call, max_tokens)
                                         for provider, (_, call) in zip(providers, cells)))
        outcomes = [Outcome(result, elapsed, len(server.requests), server.port)
                    for (result, elapsed), server in zip(results, servers)]
        await asyncio.gather(*(aclose_quietly(provider, timeout_s=1) for provider in providers))
    finally:
        for server in servers:
            server.stop()
    return outcomes


_OUTCOMES: dict[str, dict[tuple, Outcome]] = {}


@contextmanager
def _unchanged():
    yield


async def not_text_outcome(value: str, provider: str, call: str) -> Outcome:
    """All 48 cells (4 values x 6 providers x 2 calls) run at once, the first time."""
    if "not_text" not in _OUTCOMES:
        cells = [(kind, name, call_) for kind in NOT_TEXT for name in PROVIDERS for call_ in CALLS]
        outcomes = await run_cells([shaped(NOT_TEXT[kind]) for kind, _, _ in cells],
                                   [(name, call_) for _, name, call_ in cells], timeout_s=3.0)
        _OUTCOMES["not_text"] = dict(zip(cells, outcomes))
    return _OUTCOMES["not_text"][(value, provider, call)]


async def outcome_of(fault: str, provider: str, call: str) -> Outcome:
    if fault not in _OUTCOMES:
        cells = [(name, kind) for name in PROVIDERS for kind in CALLS]
        with small_answer_bound() if fault in SMALL_BOUND_FAULTS else _unchanged():
            outcomes = await run_cells(FAULTS[fault], cells, timeout_s=TIMEOUT_S.get(fault, 3.0),
                                       max_tokens=ASKED_TOKENS.get(fault, MAX_TOKENS))
        _OUTCOMES[fault] = dict(zip(cells, outcomes))
    return _OUTCOMES[fault][(provider, call)]


def _typed(result) -> ProviderError:
    assert result is not None, f"still running after {GUARD_S:g} s (cancelled by the test)"
    assert isinstance(result, BaseException), f"expected an error, got the answer {result!r}"
    assert isinstance(result, ProviderError), (
        f"a raw {type(result).__module__}.{type(result).__name__} escaped: {result}")
    assert result.hint != ProviderError.default_hint, f"only the generic hint: {result!r}"
    return result


CELLS = [pytest.param(name, call, id=f"{name}-{call}") for name in PROVIDERS for call in CALLS]


# -- 1. complete at the end marker --------------------------------------------------------

@pytest.mark.parametrize("name, call", CELLS)
async def test_an_answer_complete_at_its_end_marker_is_returned_while_the_server_trickles_on(name, call):
    cell = await outcome_of("end_then_trickle", name, call)
    assert not isinstance(cell.result, BaseException), f"expected the answer, got {cell.result!r}"
    assert cell.result == "".join(ANSWER), f"expected the whole answer, got {cell.result!r}"
    # The bound after the end marker is total: the answer returns in about AFTER_END_S,
    # not after AI__TIMEOUT_S (15 s) of events arriving every 0.1 s.
    assert cell.elapsed_s < AFTER_END_BOUND_S, f"took {cell.elapsed_s:.1f} s"


async def test_bedrock_is_complete_at_message_stop_even_without_its_metadata_event():
    [cell] = await run_cells(end_marker_only_then_trickle, [("bedrock", "chat_stream")],
                             timeout_s=TIMEOUT_S["end_then_trickle"])
    assert cell.result == "".join(ANSWER), f"expected the whole answer, got {cell.result!r}"
    assert cell.elapsed_s < AFTER_END_BOUND_S, f"took {cell.elapsed_s:.1f} s"


# -- 4. bounded in time and in bytes --------------------------------------------------------

@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_stream_dripping_one_piece_per_gap_ends_at_its_whole_stream_bound(name):
    cell = await outcome_of("drip", name, "chat_stream")
    error = _typed(cell.result)
    bound = stream_deadline_s(TIMEOUT_S["drip"], ASKED_TOKENS["drip"])
    assert isinstance(error, IncompleteResponseError), repr(error)
    assert f"still streaming after {bound:g} s" in error.message, error.message
    assert "AI__TIMEOUT_S" in error.hint
    # Each gap (0.4 s) is inside AI__TIMEOUT_S (1 s): only the whole-stream bound stops it --
    # its own error above, not before it (a load can only make the call later). A stream with
    # no whole-stream bound drips on until GUARD_S cancels it.
    assert cell.elapsed_s > bound - 0.5, f"ended after {cell.elapsed_s:.1f} s"


@pytest.mark.parametrize("name, call", CELLS)
async def test_a_huge_body_for_16_tokens_is_stopped_after_a_bounded_read(name, call):
    cell = await outcome_of("huge_body", name, call)
    error = _typed(cell.result)
    sent = SENT.get(cell.port, Sent()).bytes
    # Stopped near the bound (socket buffers hold some more), not at the body's end.
    assert sent < small_limit(MAX_TOKENS) + HUGE_BYTES // 4, f"the server got {sent:,} bytes out"
    assert f"ran past {small_limit(MAX_TOKENS):,} bytes" in error.message, error.message
    assert "max_tokens=16" in error.message, error.message
    assert cell.sent == 1, f"{cell.sent} requests: a server ignoring max_tokens is not retried"


@pytest.mark.parametrize("name, call", CELLS)
async def test_a_gzip_bomb_is_stopped_before_it_inflates_past_the_bound(name, call):
    cell = await outcome_of("gzip_bomb", name, call)
    error = _typed(cell.result)  # within GUARD_S: never inflated whole
    if name != "bedrock":  # botocore does not inflate: Bedrock reads bytes that are not JSON
        assert f"ran past {small_limit(MAX_TOKENS):,} bytes" in error.message, error.message


async def test_ollama_lines_split_across_chunks_and_a_cut_last_line_is_marked():
    from workbook.ai.providers._http import strict_lines

    async def chunks():
        for chunk in (b'{"a":', b'1}\n{"b"', b":2}\n\n", b'{"c":3', b"}\n{\"cut"):
            yield chunk

    lines = [line async for line in strict_lines(chunks(), "Ollama", provider="ollama")]
    assert lines == [('{"a":1}', True), ('{"b":2}', True), ("", True), ('{"c":3}', True),
                     ('{"cut', False)]


def test_gzip_is_inflated_in_bounded_steps():
    from workbook.ai.providers._bounds import Inflater

    inflater = Inflater("gzip")
    steps = [len(out) for out in inflater.feed(BOMB[:4096])]
    assert steps and max(steps) <= 1 << 16, f"one step inflated {max(steps):,} bytes"


# -- 5. shapes that must not pass through -----------------------------------------------------

@pytest.mark.parametrize("value", list(NOT_TEXT))
@pytest.mark.parametrize("name, call", CELLS)
async def test_text_that_is_not_text_is_a_typed_error(value, name, call):
    cell = await not_text_outcome(value, name, call)
    error = _typed(cell.result)
    assert "not text" in error.message, error.message
    assert cell.sent == 1, f"{cell.sent} requests: a malformed answer is not retried"


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_body_cut_inside_a_line_after_some_pieces_is_incomplete(name):
    [cell] = await run_cells(cut_mid_line, [(name, "chat_stream")], timeout_s=3.0, max_retries=0)
    error = _typed(cell.result)
    assert isinstance(error, IncompleteResponseError), repr(error)


@pytest.mark.parametrize("name, call", CELLS)
async def test_a_redirect_loop_is_its_own_error_and_is_not_retried(name, call):
    cell = await outcome_of("redirect_loop", name, call)
    error = _typed(cell.result)
    assert not isinstance(error, ProviderUnavailableError), f"reads as unreachable: {error!r}"
    assert "redirect" in error.message.lower(), error.message
    # One request (Ollama, Bedrock: no redirect followed) or one client's 20 hops: not
    # that again for each of AI__MAX_RETRIES=2.
    assert cell.sent <= 21, f"{cell.sent} requests reached the server"


# -- 3. Bedrock threads do not outlive their call ------------------------------------------------

def slow_body(conn, wire, request, attempt):
    """Headers, then a byte every 0.1 s forever: no read timeout ever fires."""
    if request.path.endswith("/converse"):
        full = wire.answer("".join(ANSWER))
        conn.head(200, wire.answer_type, length=len(full) + 10_000)
        conn.send(full[:-2])
        while True:
            conn.send(b" ")
            time.sleep(TRICKLE_S)
    return answer_well(conn, wire, request, attempt)


async def test_timed_out_and_cancelled_bedrock_calls_release_their_threads():
    from workbook.ai.providers import _botocore_io as bedrock_io

    with HostileServer(slow_body) as slow, HostileServer(answer_well) as healthy_server:
        stalled = create_ai_provider(provider_settings("bedrock", slow.url, timeout_s=1.0, max_retries=0))
        healthy = create_ai_provider(provider_settings("bedrock", healthy_server.url, timeout_s=5.0))
        # More calls than the pool has threads, half timing out, half cancelled.
        timed_out = [asyncio.ensure_future(stalled.chat(QUESTION)) for _ in range(bedrock_io.POOL_SIZE)]
        cancelled = [asyncio.ensure_future(stalled.chat(QUESTION)) for _ in range(bedrock_io.POOL_SIZE)]
        await asyncio.sleep(0.5)
        for task in cancelled:
            task.cancel()
        results = await asyncio.gather(*timed_out, *cancelled, return_exceptions=True)
        assert all(isinstance(r, ProviderUnavailableError) for r in results[:len(timed_out)]), results
        assert all(isinstance(r, asyncio.CancelledError) for r in results[len(timed_out):]), results
        # A healthy provider's next call gets a thread at once, though the slow server
        # would trickle forever.
        # (A thread still held would never come free: the guard ends the wait.)
        reply = await asyncio.wait_for(healthy.chat(QUESTION), GUARD_S)
        assert reply.content == "".join(ANSWER)
        # Every pool thread is free: as many tasks as threads all run at once.
        pool = bedrock_io._threads()
        everyone = threading.Barrier(bedrock_io.POOL_SIZE, timeout=3)
        waits = [pool.submit(everyone.wait) for _ in range(bedrock_io.POOL_SIZE)]
        try:
            for wait in waits:
                wait.result(timeout=5)
        except threading.BrokenBarrierError:
            pytest.fail("some Bedrock pool threads are still busy with calls that ended")
        await stalled.aclose()
        await healthy.aclose()


def test_a_process_whose_bedrock_call_timed_out_can_exit(tmp_path):
    with HostileServer(slow_body) as slow:
        script = textwrap.dedent(f"""
            import asyncio, os
            os.environ.update(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="dummy")
            from workbook.ai import AISettings, Message, create_ai_provider, ProviderUnavailableError
            provider = create_ai_provider(AISettings(provider="bedrock", aws_region="us-east-1",
                bedrock_endpoint_url={slow.url!r}, model="m", timeout_s=1, max_retries=0))
            try:
                asyncio.run(provider.chat([Message("user", "hi")]))
            except ProviderUnavailableError:
                print("timed out")
        """)
        # The slow body trickles for as long as the server runs: a process held by the
        # call's thread would never exit, and subprocess.run raises TimeoutExpired.
        try:
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                  timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        except subprocess.TimeoutExpired:
            pytest.fail("the process did not exit after its Bedrock call timed out")
    assert done.stdout.strip() == "timed out", done.stderr[-2000:]
