"""The comparison tool's per-request decode rate against llama-server's own account of it.

The provider is the workbook's real ``vllm`` provider (openai SDK, real server); the
server's per-request ``timings`` travel in the last chunk of each stream, so a transport
that only copies the bytes it passes on lets the test read them beside what the tool timed.
"""

from __future__ import annotations

import json

import httpx2
import pytest

from workbook.ai import AISettings
from workbook.ai.registry import get_spec, provider_factory
from workbook.compare import Case
from workbook.compare.load import distinct_messages
from workbook.compare.runner import measure_call

from .conftest import needs_model

pytestmark = [pytest.mark.slow, needs_model]


class _Tee(httpx2.AsyncByteStream):
    def __init__(self, inner, sink: bytearray):
        self.inner, self.sink = inner, sink

    async def __aiter__(self):
        async for part in self.inner:
            self.sink.extend(part)
            yield part

    async def aclose(self):
        await self.inner.aclose()


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Passes every request through unchanged; keeps each response body's bytes."""

    def __init__(self):
        self.inner = httpx2.AsyncHTTPTransport()
        self.bodies: list[bytearray] = []

    async def handle_async_request(self, request):
        response = await self.inner.handle_async_request(request)
        self.bodies.append(bytearray())
        return httpx2.Response(response.status_code, headers=response.headers,
                               stream=_Tee(response.stream, self.bodies[-1]),
                               extensions=response.extensions)

    async def aclose(self):
        await self.inner.aclose()


def server_timings(body: bytes) -> dict:
    """The ``timings`` object llama-server attaches to the last event of a stream."""
    found = {}
    for line in body.decode().splitlines():
        if line.startswith("data: {"):
            event = json.loads(line[len("data: "):])
            found = event.get("timings") or found
    return found


async def test_decode_rate_agrees_with_the_servers_predicted_per_second(batching_server):
    transport = RecordingTransport()
    settings = AISettings(provider="vllm", model="smollm2", vllm_base_url=batching_server.base_url)
    provider = provider_factory(get_spec("vllm"))(settings, http_client=httpx2.AsyncClient(transport=transport))
    case = Case("Write a long story about a lighthouse keeper.", "regex", r"[\s\S]*", id="story")
    pairs = []
    try:
        for index in range(4):  # one at a time: the figures of one request, not of a batch
            record = await measure_call(provider, case, label="llama-server", max_tokens=64,
                                        messages=distinct_messages(case, index))
            assert record.error is None, record.error_message
            timings = server_timings(bytes(transport.bodies[-1]))
            pairs.append((record, timings))
    finally:
        await provider.aclose()
    # The tolerance, measured 2026-12-07 (tool rate / server rate over 3 requests each): 0.993
    # to 1.001 on an idle machine, 0.996 to 1.001 with three busy loops on both cores -- the
    # server slows with the client, so the two windows stay alike. 5% is 7x the worst seen,
    # and still catches a window that includes the first token's wait (10-24% off here).
    for record, timings in pairs[1:]:  # the first pays for warming up
        assert record.tokens_source == "reported"
        assert record.output_tokens == timings["predicted_n"]
        server_rate = timings["predicted_per_second"]
        assert record.tokens_per_s == pytest.approx(server_rate, rel=0.05), (
            f"tool {record.tokens_per_s:.1f} tok/s vs server {server_rate:.1f} tok/s")
