"""The OpenAI-family providers against a tiny server that behaves as llama-server does
after a stream -- keep-alive announced, connection dropped -- but without the race, so a
client that reuses that connection fails every time instead of now and then."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from workbook.ai import AISettings, Message, create_ai_provider
from workbook.ai.registry import get_spec, openai_compatible_names

CHUNK = {"id": "1", "object": "chat.completion.chunk", "created": 0, "model": "tiny",
         "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
LAST = {**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
REPLY = {"id": "2", "object": "chat.completion", "created": 0, "model": "tiny",
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "yes"}}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


class DropsAfterStreams:
    """Answers on 127.0.0.1; after a streamed answer it keeps the socket open but drops
    the next request on it unanswered (what a client sees when it loses llama-server's race)."""

    def __init__(self):
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _connection(self, reader, writer):
        self.connections += 1
        streamed_before = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if streamed_before:
                    return  # the dropped request: close without a response
                lines = head.decode().split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
                body = json.loads(await reader.readexactly(int(headers["content-length"])))
                if body.get("stream"):
                    events = [CHUNK, LAST]
                    payload = b"".join(b"data: %s\n\n" % json.dumps(e).encode() for e in events)
                    payload += b"data: [DONE]\n\n"
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                 b"Keep-Alive: timeout=5, max=100\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 + b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
                    streamed_before = True
                else:
                    data = json.dumps(REPLY).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
                await writer.drain()
                if "close" in headers.get("connection", "").lower():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    def __enter__(self):
        self.thread.start()
        self.ready.wait(5)
        return self

    async def _shutdown(self):
        self.server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:  # connections the client still holds open in its pool
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.mark.parametrize("provider", openai_compatible_names())
async def test_a_request_after_a_stream_does_not_reuse_the_streams_connection(provider):
    with DropsAfterStreams() as server:
        settings = AISettings(provider=provider, model="tiny", max_retries=0, timeout_s=10,
                              **{get_spec(provider).url_field: f"http://127.0.0.1:{server.port}/v1"})
        client = create_ai_provider(settings)
        try:
            for _ in range(3):
                stream = client.chat_stream([Message.user("hi")], max_tokens=4)
                assert "".join([piece async for piece in stream]) == "hi"
                reply = await client.chat([Message.user("yes?")], max_tokens=4)
                assert reply.content == "yes"
        finally:
            await client.aclose()
