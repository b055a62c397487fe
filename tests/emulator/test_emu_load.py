"""64 concurrent streams over the four protocols, each through its real client.

Every stream's text must arrive intact and belong to its own request: distinct prompts
make every expected scripted reply unique.
"""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx
import openai
from botocore.config import Config

from workbook.ai.scripted import scripted_answer
from workbook.emulator import Emulator

PER_PROTOCOL = 16


def _prompt(protocol: str, i: int) -> list[dict]:
    return [{"role": "user", "content": f"Load question {i} for {protocol}: what happens next?"}]


async def _openai(client, model, messages):
    stream = await client.chat.completions.create(model=model, messages=messages, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def _ollama(http, messages):
    pieces = []
    async with http.stream("POST", "/api/chat", json={"model": "llama3.2", "messages": messages}) as r:
        async for line in r.aiter_lines():
            if line:
                pieces.append(json.loads(line)["message"]["content"])
    return "".join(pieces)


def _bedrock(client, messages):
    wire = [{"role": m["role"], "content": [{"text": m["content"]}]} for m in messages]
    stream = client.converse_stream(modelId="amazon.nova-micro-v1:0", messages=wire)["stream"]
    return "".join(e["contentBlockDelta"]["delta"]["text"] for e in stream if "contentBlockDelta" in e)


async def test_64_concurrent_streams_arrive_intact():
    # Every stream waits TTFT_S for its first token, so they overlap only if all 64 requests
    # reach the server before the first answer is complete: sending them takes a fraction of
    # a second; TTFT_S leaves a loaded machine 5x that and more. Order, not a duration.
    ttft_s = 3.0
    with Emulator(ttft_s=ttft_s, tokens_per_s=200) as emu:
        pool = ThreadPoolExecutor(PER_PROTOCOL)  # boto3 blocks: its own pool, sized with botocore's
        bedrock = boto3.client(
            "bedrock-runtime", endpoint_url=emu.url, region_name="us-east-1",
            aws_access_key_id="emulator", aws_secret_access_key="emulator-secret",
            config=Config(max_pool_connections=PER_PROTOCOL,
                          retries={"total_max_attempts": 1, "mode": "standard"}))
        limits = httpx.Limits(max_connections=PER_PROTOCOL)
        loop = asyncio.get_running_loop()
        async with (
            openai.AsyncOpenAI(base_url=f"{emu.url}/v1", api_key="k", max_retries=0) as oai,
            openai.AsyncAzureOpenAI(azure_endpoint=emu.url, api_key="emulator-key",
                                    api_version="2024-10-21", max_retries=0) as azure,
            httpx.AsyncClient(base_url=emu.url, limits=limits, timeout=30) as http,
        ):
            jobs = {}
            for i in range(PER_PROTOCOL):
                jobs[("openai", i)] = _openai(oai, "gpt-5.4-nano", _prompt("openai", i))
                jobs[("azure", i)] = _openai(azure, "gpt-6-luna", _prompt("azure", i))
                jobs[("ollama", i)] = _ollama(http, _prompt("ollama", i))
                jobs[("bedrock", i)] = loop.run_in_executor(pool, _bedrock, bedrock, _prompt("bedrock", i))
            calls = [asyncio.ensure_future(job) for job in jobs.values()]
            await asyncio.wait(calls, timeout=20 * ttft_s, return_when=asyncio.FIRST_COMPLETED)
            arrived_before_first_answer = len(emu.requests)
            results = await asyncio.wait_for(asyncio.gather(*calls), timeout=20 * ttft_s)
        pool.shutdown()
        for (protocol, i), text in zip(jobs, results):
            assert text == scripted_answer(_prompt(protocol, i), 4096, source="emulator").text, (protocol, i)
        assert len(set(results)) == 4 * PER_PROTOCOL
        assert len(emu.requests) == 4 * PER_PROTOCOL
        assert arrived_before_first_answer == 4 * PER_PROTOCOL, (
            f"only {arrived_before_first_answer} of {4 * PER_PROTOCOL} requests had reached the "
            "server when the first stream ended: the streams did not overlap")
