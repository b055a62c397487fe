"""What the workbook's abstraction costs over calling each SDK directly.

Against the emulator on 127.0.0.1 (scripted backend, no pacing), per provider: the median
wall time of a non-streaming call and the median time to the first streamed chunk,
through the workbook provider and through the same raw SDK call, alternating the two so
that drift on a busy machine hits both equally; the ratio is the median of the paired
ratios. Also the import time of ``workbook.ai``.

    .venv/bin/python benchmarks/overhead.py [--calls 150]

Target (issue 29): ratio <= 1.03 at the median for every row -- chat, first chunk, and a structured
row per protocol (``chat(..., response_format=Route)`` against the raw SDK sending the same field and
parsing the answer with pydantic, as a program using the SDK directly would); import < 150 ms.
Against the emulator a call takes 2-4 ms, so 3 % is about 0.1 ms of Python per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import boto3
import httpx
import openai
from botocore.config import Config

from typing import Literal

from pydantic import BaseModel

from workbook.ai import Message, create_ai_provider
from workbook.ai.registry import get_spec, network_names
from workbook.ai.structured import output_schema
from workbook.emulator import Emulator

QUESTION = [Message("user", "Why is the sky blue?")]
RAW_MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
MAX_TOKENS = 64


class Route(BaseModel):
    team: Literal["billing", "technical", "account"]
    urgent: bool


ROUTE_SCHEMA = output_schema(Route).schema  # what the raw calls send: the same schema, built once


def import_time_ms(repeats: int = 5) -> float:
    code = "import time; t = time.perf_counter(); import workbook.ai; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(repeats)]
    return statistics.median(times) * 1000


class RawCalls:
    """The same request each provider makes, written directly against its SDK."""

    def __init__(self, emu: Emulator, name: str):
        settings = emu.settings(name)
        spec = get_spec(name)
        # One raw client per wire protocol: every OpenAI-compatible entry is the openai SDK.
        self.name, self.settings, self.strict = spec.protocol, settings, spec.strict_schema
        if self.name == "azure_openai":
            self.client = openai.AsyncAzureOpenAI(
                api_key=settings.secret("azure_openai_api_key"), azure_endpoint=settings.azure_openai_endpoint,
                api_version=settings.azure_openai_api_version)
            self.model = settings.azure_openai_deployment
        elif self.name == "openai":
            self.client = openai.AsyncOpenAI(api_key=settings.secret(spec.key_field) or "x",
                                             base_url=getattr(settings, spec.url_field))
            self.model = settings.model
        elif self.name == "ollama":
            self.client = httpx.AsyncClient(base_url=settings.ollama_base_url)
            self.model = settings.model
        elif self.name == "bedrock":
            self.client = boto3.client("bedrock-runtime", endpoint_url=settings.bedrock_endpoint_url,
                                       region_name=settings.aws_region,
                                       config=Config(max_pool_connections=16))
            self.model = settings.model

    async def chat(self) -> None:
        if self.name == "ollama":
            response = await self.client.post("/api/chat", json={
                "model": self.model, "messages": RAW_MESSAGES, "stream": False,
                "options": {"num_predict": MAX_TOKENS, "temperature": 0.7}})
            response.json()
        elif self.name == "bedrock":
            await asyncio.get_running_loop().run_in_executor(None, lambda: self.client.converse(
                modelId=self.model, messages=[{"role": "user", "content": [{"text": RAW_MESSAGES[0]["content"]}]}],
                inferenceConfig={"maxTokens": MAX_TOKENS, "temperature": 0.7}))
        else:
            await self.client.chat.completions.create(model=self.model, messages=RAW_MESSAGES,
                                                      max_tokens=MAX_TOKENS, temperature=0.7)

    async def chat_structured(self) -> Route:
        """The same structured request, in the protocol's own field, parsed as a program would."""
        if self.name == "ollama":
            response = await self.client.post("/api/chat", json={
                "model": self.model, "messages": RAW_MESSAGES, "stream": False, "format": ROUTE_SCHEMA,
                "options": {"num_predict": MAX_TOKENS, "temperature": 0.7}})
            return Route.model_validate_json(response.json()["message"]["content"])
        if self.name == "bedrock":
            result = await asyncio.get_running_loop().run_in_executor(None, lambda: self.client.converse(
                modelId=self.model, messages=[{"role": "user", "content": [{"text": RAW_MESSAGES[0]["content"]}]}],
                inferenceConfig={"maxTokens": MAX_TOKENS, "temperature": 0.7},
                outputConfig={"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
                    "schema": json.dumps(ROUTE_SCHEMA, separators=(",", ":")), "name": "Route"}}}}))
            return Route.model_validate_json(result["output"]["message"]["content"][0]["text"])
        completion = await self.client.chat.completions.create(
            model=self.model, messages=RAW_MESSAGES, max_tokens=MAX_TOKENS, temperature=0.7,
            response_format={"type": "json_schema", "json_schema": {
                "name": "Route", "schema": ROUTE_SCHEMA, "strict": self.strict}})
        return Route.model_validate_json(completion.choices[0].message.content)

    async def first_chunk(self) -> float:
        """Seconds to the first text chunk; the rest of the stream is drained untimed."""
        started = time.perf_counter()
        first = None
        if self.name == "ollama":
            async with self.client.stream("POST", "/api/chat", json={
                    "model": self.model, "messages": RAW_MESSAGES, "stream": True,
                    "options": {"num_predict": MAX_TOKENS, "temperature": 0.7}}) as response:
                async for line in response.aiter_lines():
                    if first is None and json.loads(line)["message"]["content"]:
                        first = time.perf_counter() - started
        elif self.name == "bedrock":
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue = asyncio.Queue()

            def pump():
                response = self.client.converse_stream(
                    modelId=self.model, messages=[{"role": "user", "content": [{"text": RAW_MESSAGES[0]["content"]}]}],
                    inferenceConfig={"maxTokens": MAX_TOKENS, "temperature": 0.7})
                for event in response["stream"]:
                    loop.call_soon_threadsafe(queue.put_nowait, event)
                loop.call_soon_threadsafe(queue.put_nowait, None)

            loop.run_in_executor(None, pump)
            while (event := await queue.get()) is not None:
                if first is None and "contentBlockDelta" in event:
                    first = time.perf_counter() - started
        else:
            stream = await self.client.chat.completions.create(
                model=self.model, messages=RAW_MESSAGES, max_tokens=MAX_TOKENS, temperature=0.7,
                stream=True, stream_options={"include_usage": True})
            async for chunk in stream:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter() - started
        return first


async def workbook_first_chunk(provider) -> float:
    started = time.perf_counter()
    first = None
    async for piece in provider.chat_stream(QUESTION, max_tokens=MAX_TOKENS):
        if first is None and piece:
            first = time.perf_counter() - started
    return first


async def measure(emu: Emulator, name: str, calls: int) -> dict:
    provider = create_ai_provider(emu.settings(name))
    raw = RawCalls(emu, name)
    timings = {"raw_chat": [], "wb_chat": [], "raw_first": [], "wb_first": []}
    for _ in range(5):  # warm connections and caches on both sides
        await raw.chat(), await provider.chat(QUESTION, max_tokens=MAX_TOKENS)
    for index in range(calls):
        order = ("raw", "wb") if index % 2 == 0 else ("wb", "raw")
        for side in order:
            started = time.perf_counter()
            if side == "raw":
                await raw.chat()
                timings["raw_chat"].append(time.perf_counter() - started)
                timings["raw_first"].append(await raw.first_chunk())
            else:
                await provider.chat(QUESTION, max_tokens=MAX_TOKENS)
                timings["wb_chat"].append(time.perf_counter() - started)
                timings["wb_first"].append(await workbook_first_chunk(provider))
    med = {key: statistics.median(values) * 1000 for key, values in timings.items()}

    def paired_ratio(workbook: str, raw: str) -> float:
        # Each workbook call ran next to a raw one: the median of those ratios is steadier
        # on a busy machine than a ratio of two medians taken over minutes.
        return statistics.median(w / r for w, r in zip(timings[workbook], timings[raw]))

    return {
        "provider": name,
        "raw_chat_ms": med["raw_chat"], "workbook_chat_ms": med["wb_chat"],
        "chat_ratio": paired_ratio("wb_chat", "raw_chat"),
        "raw_first_ms": med["raw_first"], "workbook_first_ms": med["wb_first"],
        "stream_ratio": paired_ratio("wb_first", "raw_first"),
    }


async def measure_structured(emu: Emulator, name: str, calls: int) -> dict:
    provider = create_ai_provider(emu.settings(name))
    raw = RawCalls(emu, name)
    raw_s, wb_s = [], []
    for _ in range(5):
        await raw.chat_structured(), await provider.chat(QUESTION, max_tokens=MAX_TOKENS, response_format=Route)
    for index in range(calls):
        for side in (("raw", "wb") if index % 2 == 0 else ("wb", "raw")):
            started = time.perf_counter()
            if side == "raw":
                await raw.chat_structured()
                raw_s.append(time.perf_counter() - started)
            else:
                await provider.chat(QUESTION, max_tokens=MAX_TOKENS, response_format=Route)
                wb_s.append(time.perf_counter() - started)
    return {"provider": name, "raw_ms": statistics.median(raw_s) * 1000,
            "workbook_ms": statistics.median(wb_s) * 1000,
            "ratio": statistics.median(w / r for w, r in zip(wb_s, raw_s))}


async def main(calls: int, structured_only: bool = False) -> None:
    os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)
    with Emulator(ttft_s=0.0, tokens_per_s=1e6) as emu:
        for key, value in emu.env("bedrock").items():
            if key.startswith("AWS_"):
                os.environ[key] = value
        rows = [] if structured_only else [
            await measure(emu, name, calls)
            for name in network_names()]
        structured = [await measure_structured(emu, name, calls) for name in network_names()]
    print(f"import workbook.ai: {import_time_ms():.0f} ms (median of 5 fresh interpreters; target < 150 ms)")
    print(f"{calls} alternating calls per provider against the emulator "
          "(medians in ms; ratio = median of paired workbook/raw ratios):")
    print("target: every ratio <= 1.03")
    print(f"{'provider':<13}{'raw chat':>10}{'workbook':>10}{'ratio':>7}   {'raw 1st':>9}{'workbook':>10}{'ratio':>7}")
    for row in rows:
        print(f"{row['provider']:<13}{row['raw_chat_ms']:>10.2f}{row['workbook_chat_ms']:>10.2f}"
              f"{row['chat_ratio']:>7.3f}   {row['raw_first_ms']:>9.2f}{row['workbook_first_ms']:>10.2f}"
              f"{row['stream_ratio']:>7.3f}")
    print("structured: chat(response_format=Route) vs the raw SDK with the same field + pydantic parse "
          "(medians in ms; target ratio <= 1.03):")
    for row in structured:
        print(f"{row['provider']:<13}{row['raw_ms']:>10.2f}{row['workbook_ms']:>10.2f}{row['ratio']:>7.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--structured-only", action="store_true", help="only the structured rows")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.calls, arguments.structured_only))
