"""Streams against the real llama-server: the reused-connection failure and its cause."""

from __future__ import annotations

import json
import socket

import pytest

from workbook.ai import Message, create_ai_provider

from .conftest import needs_model

pytestmark = [pytest.mark.slow, needs_model]


def _read_one_response(sock: socket.socket, streamed: bool) -> bytes:
    data = b""
    while True:
        piece = sock.recv(65536)
        assert piece, "the server closed before the answer was complete"
        data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        if streamed and body.endswith(b"\r\n0\r\n\r\n"):
            return head
        if not streamed and body.endswith(b"}"):
            return head


def _closed_after(server, streamed: bool) -> bool:
    """Send one request on a fresh connection; did the server close it after answering?"""
    body = json.dumps({"model": "smollm2", "max_tokens": 4, "stream": streamed,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                     + body)
        head = _read_one_response(sock, streamed)
        assert b"keep-alive" in head.lower(), "the server announces keep-alive"
        sock.settimeout(1.5)
        try:
            return sock.recv(1) == b""
        except socket.timeout:
            return False


def test_the_server_closes_the_connection_after_every_stream_but_not_after_a_plain_answer(
        batching_server):
    # The cause of "Server disconnected": keep-alive is announced, then the socket is closed.
    assert [_closed_after(batching_server, streamed=True) for _ in range(3)] == [True] * 3
    assert _closed_after(batching_server, streamed=False) is False


async def test_requests_after_streams_never_meet_a_disconnected_connection(batching_server):
    # No retries: a reused dead connection would fail at once instead of being hidden.
    provider = create_ai_provider(batching_server.settings("vllm", max_retries=0))
    try:
        for round_ in range(12):
            stream = provider.chat_stream([Message.user(f"Count to three ({round_}).")],
                                          max_tokens=8, temperature=0)
            assert "".join([piece async for piece in stream])
            again = provider.chat_stream([Message.user("Say hi.")], max_tokens=4, temperature=0)
            assert "".join([piece async for piece in again])
            reply = await provider.chat([Message.user("Say yes.")], max_tokens=4, temperature=0)
            assert reply.content
    finally:
        await provider.aclose()


async def test_a_stream_reports_usage_and_a_finish_reason(batching_server):
    provider = create_ai_provider(batching_server.settings("vllm"))
    try:
        stream = provider.chat_stream([Message.user("Name a colour.")], max_tokens=6, temperature=0)
        text = "".join([piece async for piece in stream])
    finally:
        await provider.aclose()
    assert text and stream.finish_reason in ("stop", "length")
    assert stream.usage.output_tokens and stream.usage.input_tokens
