"""How much the emulator itself costs per request, and how 64 concurrent streams fare.

    .venv/bin/python benchmarks/emulator_load.py [--requests 200]

Server time is measured inside the server (``RecordedRequest.server_ms``: request arrival to
the last byte produced, minus deliberate waits), with ttft 0 and an unbounded token rate so
pacing adds nothing. The emulator runs in its own process (the CLI) so that the clients do
not compete with it for the GIL. Target: p50 and p95 under 2 ms for the scripted backend.

Keep-alive: a request on a kept-alive connection against one on a new connection,
alternating, as the median of the paired ratios (the tests check the cause, TCP_NODELAY on
the server's side; this is the figure). Below 1: reuse saves the connect. Nagle on (a
listening socket made with proto 0) made every second kept-alive request wait ~40 ms for a
delayed ACK: a ratio of about 20 (2026-12-07, here: 0.70 with the fix, 19.7 with
proto 0, 50 pairs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx
import openai
from botocore.config import Config

from workbook.emulator import Emulator

STREAMS_PER_PROTOCOL = 16


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def bedrock_client(url: str, pool: int):
    return boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="emulator", aws_secret_access_key="emulator-secret",
                        config=Config(max_pool_connections=pool,
                                      retries={"total_max_attempts": 1, "mode": "standard"}))


def messages(tag: str, i: int) -> list[dict]:
    return [{"role": "user", "content": f"Benchmark question {i} via {tag}."}]


def server_time(requests: int) -> None:
    print(f"Server time per request, scripted backend, ttft 0 ({requests} sequential requests each)")
    print(f"{'route':<34}{'p50 ms':>9}{'p95 ms':>9}")
    process = subprocess.Popen(
        [sys.executable, "-m", "workbook.emulator", "--port", "0", "--ttft-s", "0",
         "--tokens-per-s", "1e12"], stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().split()[-1]  # "... listening on http://127.0.0.1:PORT"
    try:
        with httpx.Client(base_url=url) as http:
            _measure(http, bedrock_client(url, 4), requests)
    finally:
        process.terminate()
        process.wait(5)


def _measure(http: httpx.Client, bedrock, requests: int) -> None:
    cases = {
        "openai json": lambda i: http.post("/v1/chat/completions", headers={"authorization": "Bearer k"},
                                           json={"model": "gpt-5.4-nano", "messages": messages("o", i)}),
        "openai sse": lambda i: http.post("/v1/chat/completions", headers={"authorization": "Bearer k"},
                                          json={"model": "gpt-5.4-nano", "stream": True,
                                                "messages": messages("s", i)}),
        "azure sse": lambda i: http.post("/openai/deployments/gpt-6-luna/chat/completions",
                                         params={"api-version": "2024-10-21"},
                                         headers={"api-key": "emulator-key"},
                                         json={"stream": True, "messages": messages("a", i)}),
        "ollama ndjson": lambda i: http.post("/api/chat", json={"model": "llama3.2",
                                                                "messages": messages("l", i)}),
        "bedrock converse-stream (boto3)": lambda i: list(bedrock.converse_stream(
            modelId="amazon.nova-micro-v1:0",
            messages=[{"role": "user", "content": [{"text": f"Benchmark {i}"}]}])["stream"]),
    }
    everything: list[float] = []
    for name, call in cases.items():
        for i in range(20):  # warm-up: imports, connection set-up
            call(-i - 1)
        http.post("/emulator/reset")
        for i in range(requests):
            call(i)
        times = [r["server_ms"] for r in http.get("/emulator/requests").json()]
        everything += times
        print(f"{name:<34}{percentile(times, 50):>9.3f}{percentile(times, 95):>9.3f}")
    print(f"{'all':<34}{percentile(everything, 50):>9.3f}{percentile(everything, 95):>9.3f}")


def keep_alive_ratio(pairs: int) -> None:
    # One client each, built before the clock: "connection: close" makes every request of the
    # second open its own TCP connection, and nothing else differs.
    with (Emulator() as emu, httpx.Client(base_url=emu.url) as kept,
          httpx.Client(base_url=emu.url, headers={"connection": "close"}) as closing):
        kept.get("/api/version")
        closing.get("/api/version")
        ratios, kept_ms = [], []
        for _ in range(pairs):
            started = time.perf_counter()
            kept.get("/api/version")
            reused = time.perf_counter() - started
            started = time.perf_counter()
            closing.get("/api/version")
            fresh = time.perf_counter() - started
            ratios.append(reused / fresh)
            kept_ms.append(reused * 1000)
    print(f"Keep-alive request / new-connection request ({pairs} alternating pairs): "
          f"median ratio {statistics.median(ratios):.2f} (kept-alive p50 {percentile(kept_ms, 50):.2f} ms)")


async def load_run(ttft_s: float, tokens_per_s: float) -> tuple[float, int]:
    with Emulator(ttft_s=ttft_s, tokens_per_s=tokens_per_s) as emu:
        pool = ThreadPoolExecutor(STREAMS_PER_PROTOCOL)
        bedrock = bedrock_client(emu.url, STREAMS_PER_PROTOCOL)
        loop = asyncio.get_running_loop()

        async def chat(client, model, m):
            stream = await client.chat.completions.create(model=model, messages=m, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        async def ollama(http, m):
            async with http.stream("POST", "/api/chat", json={"model": "llama3.2", "messages": m}) as r:
                return "".join([json.loads(line)["message"]["content"]
                                async for line in r.aiter_lines() if line])

        def converse(m):
            wire = [{"role": "user", "content": [{"text": m[0]["content"]}]}]
            stream = bedrock.converse_stream(modelId="amazon.nova-micro-v1:0", messages=wire)["stream"]
            return "".join(e["contentBlockDelta"]["delta"]["text"] for e in stream if "contentBlockDelta" in e)

        async with (
            openai.AsyncOpenAI(base_url=f"{emu.url}/v1", api_key="k", max_retries=0) as oai,
            openai.AsyncAzureOpenAI(azure_endpoint=emu.url, api_key="emulator-key",
                                    api_version="2024-10-21", max_retries=0) as azure,
            httpx.AsyncClient(base_url=emu.url, timeout=60,
                              limits=httpx.Limits(max_connections=STREAMS_PER_PROTOCOL)) as http,
        ):
            jobs = []
            for i in range(STREAMS_PER_PROTOCOL):
                jobs += [chat(oai, "gpt-5.4-nano", messages("openai", i)),
                         chat(azure, "gpt-6-luna", messages("azure", i)),
                         ollama(http, messages("ollama", i)),
                         loop.run_in_executor(pool, converse, messages("bedrock", i))]
            started = time.perf_counter()
            texts = await asyncio.gather(*jobs)
            elapsed = time.perf_counter() - started
        pool.shutdown()
        return elapsed, len(set(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    server_time(args.requests)
    print()
    keep_alive_ratio(args.requests)
    print()
    print(f"64 concurrent streams ({STREAMS_PER_PROTOCOL} each: openai, azure, ollama, bedrock)")
    for ttft, rate in ((0.0, 1e12), (0.05, 200.0), (0.2, 40.0)):
        elapsed, distinct = asyncio.run(load_run(ttft, rate))
        print(f"  ttft {ttft:>4} s, {rate:>6g} tokens/s: wall {elapsed:6.2f} s, "
              f"{distinct} distinct replies")


if __name__ == "__main__":
    main()
