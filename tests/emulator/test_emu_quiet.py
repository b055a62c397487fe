"""An abandoned stream must not print into a student's notebook.

A client that stops reading and closes (a notebook cell interrupted, a ``break`` out of a
stream) is normal. asyncio, though, logs ``socket.send() raised exception.`` at WARNING for
every write after the fifth one to a lost connection, from the emulator's thread, and with
no logging configured that goes straight to the notebook's stderr.
"""

import asyncio
import logging
import threading
import time

import boto3
import httpx
from botocore.config import Config

from workbook.ai.types import ChatStream, Usage
from workbook.emulator import Emulator
from workbook.emulator.server import _QuietDisconnects

PROMPT = [{"role": "user", "content": "Tell me about the water cycle."}]
BEDROCK_MODEL = "amazon.nova-micro-v1:0"


class BurstAfterStall:
    """Two pieces, then the server's loop stalls (a slow backend step), then a burst.

    The client reads the two pieces and closes during the stall, so the burst is written
    to a connection the loop has not yet seen close: after the first failed send asyncio
    counts the lost writes and warns from the fifth on. This is what printed the warnings
    (pieces that arrive behind schedule are sent without yielding to the loop), made
    certain. No ``await`` before the burst: Starlette would see the disconnect there and
    cancel the response quietly.
    """

    name = "burst"

    def generate(self, messages, *, max_tokens, temperature):
        async def produce(stream: ChatStream):
            yield "First"
            yield " second"
            time.sleep(0.4)  # blocking on purpose: the client reads and closes meanwhile
            for index in range(40):
                yield f" word{index}"
            stream.usage, stream.finish_reason = Usage(5, 42), "stop"

        return ChatStream(produce, provider=self.name)


async def _abandon_sse(url: str, path: str, headers: dict[str, str], body: dict) -> None:
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        async with http.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            read = 0
            async for line in response.aiter_lines():
                read += bool(line.strip())
                if read == 2:  # two chunks (SSE events or NDJSON lines)
                    break  # leaving the block closes the connection mid-body


async def _abandon_openai(url: str) -> None:
    await _abandon_sse(url, "/v1/chat/completions", {"authorization": "Bearer k"},
                       {"model": "gpt-5.4-nano", "messages": PROMPT, "stream": True})


async def _abandon_ollama(url: str) -> None:
    await _abandon_sse(url, "/api/chat", {}, {"model": "llama3.2", "messages": PROMPT})


def _abandon_bedrock(url: str) -> None:
    bedrock = boto3.client(
        "bedrock-runtime", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="emulator", aws_secret_access_key="emulator-secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    response = bedrock.converse_stream(modelId=BEDROCK_MODEL, messages=[
        {"role": "user", "content": [{"text": "Tell me about the water cycle."}]}])
    events = iter(response["stream"])
    next(events), next(events)
    response["stream"].close()


async def test_abandoned_bursts_stay_quiet(noise):
    with Emulator(backend="scripted") as emu:
        emu.state.backend = BurstAfterStall()
        for _ in range(3):
            await _abandon_openai(emu.url)
        await _abandon_ollama(emu.url)
        await asyncio.to_thread(_abandon_bedrock, emu.url)
        await asyncio.sleep(0.6)  # the last burst happens after the client has gone
    assert noise() == []


async def test_abandoned_paced_streams_stay_quiet(noise):
    # The ordinary case: a paced scripted stream left after two chunks, in every protocol.
    with Emulator(backend="scripted", tokens_per_s=100) as emu:
        for _ in range(3):
            await _abandon_openai(emu.url)
            await _abandon_ollama(emu.url)
            await asyncio.to_thread(_abandon_bedrock, emu.url)
        await asyncio.sleep(0.5)
    assert noise() == []


async def test_real_errors_in_the_emulator_still_show(noise):
    class Broken:
        name = "broken"

        def generate(self, messages, *, max_tokens, temperature):
            raise RuntimeError("a bug in a backend")

    with Emulator(backend="scripted") as emu:
        emu.state.backend = Broken()
        async with httpx.AsyncClient(base_url=emu.url) as http:
            response = await http.post("/api/chat", json={"model": "llama3.2", "messages": PROMPT})
    assert response.status_code == 500
    assert any("Exception in ASGI application" in line for line in noise())


def _record(thread_name: str, message: str = "socket.send() raised exception.",
            level: int = logging.WARNING) -> logging.LogRecord:
    record = logging.LogRecord("asyncio", level, __file__, 1, message, None, None)
    record.threadName = thread_name
    return record


def test_the_filter_drops_only_lost_writes_in_the_emulator_thread():
    quiet = _QuietDisconnects()
    assert not quiet.filter(_record("workbook-emulator-40123"))
    # The same warning from a student's own code (another thread) still shows ...
    assert quiet.filter(_record(threading.current_thread().name))
    # ... and so does anything else asyncio reports from the emulator's thread.
    assert quiet.filter(_record("workbook-emulator-40123", "Task was destroyed but it is pending!",
                                logging.ERROR))
