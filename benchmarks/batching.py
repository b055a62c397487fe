"""What continuous batching buys on this machine: the bundled SmolLM2 on each serving engine.

Engines (``--engines``, comma-separated, in the order run): ``llama-cpp-python`` (one request
at a time), ``llama-server`` (llama.cpp's continuous batching), ``vllm`` (the real vLLM's CPU
build, needs ``make vllm``). Each serves on 127.0.0.1 in turn (never two at once); at 1, 2, 4
and 8 requests in flight (closed loop, ``--requests`` per level, answers ``--max-tokens`` long,
distinct prompts): requests/s, mean latency, output tokens/s, TTFT and TPOT; then a short
question joining 4 long answers. Each engine's c=8 / c=1 throughput ratio is printed.

With ``vllm``: also vLLM's own ``/metrics`` peaks per level, the prefix-cache experiment, and the
workbook's ``vllm`` provider against the raw openai SDK on the same server (``--overhead-calls``
pairs, alternating, median of the paired ratios; target <= 1.03).

Both engines get the same ``--threads``. Expect 10-15% noise on a shared machine: compare
the engines within one run, not across runs.

    .venv/bin/python benchmarks/batching.py [--engines llama-server,vllm] [--requests 16]
                                            [--max-tokens 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import openai
import pandas as pd

from workbook.ai import Message, create_ai_provider
from workbook.serving import VllmServer
from workbook.serving.batching import BATCHING, ONE_AT_A_TIME, VLLM, measure_batching

ENGINES = (ONE_AT_A_TIME, BATCHING, VLLM)


def engines(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"engines are {', '.join(ENGINES)}; got {text!r}")
    return names


async def provider_overhead(server: VllmServer, calls: int, max_tokens: int = 16) -> dict[str, float]:
    """The workbook's ``vllm`` provider vs the raw openai SDK, the same request, alternating."""
    provider = create_ai_provider(server.settings("vllm", max_retries=0))
    raw = openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    messages = [Message("user", "Why is the sky blue?")]
    ratios, ours, theirs = [], [], []
    try:
        for index in range(calls + 2):  # the first two pairs warm both clients up
            started = time.perf_counter()
            await provider.chat(messages, max_tokens=max_tokens, temperature=0.0)
            mine = time.perf_counter() - started
            started = time.perf_counter()
            await raw.chat.completions.create(
                model=server.alias, messages=[{"role": "user", "content": messages[0].content}],
                max_tokens=max_tokens, temperature=0.0)
            sdk = time.perf_counter() - started
            if index >= 2:
                ratios.append(mine / sdk)
                ours.append(mine)
                theirs.append(sdk)
    finally:
        await provider.aclose()
        await raw.close()
    return {"calls": calls, "provider_s_p50": statistics.median(ours),
            "raw_sdk_s_p50": statistics.median(theirs), "ratio_p50": statistics.median(ratios)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=engines, default=[ONE_AT_A_TIME, BATCHING])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--overhead-calls", type=int, default=40)
    parser.add_argument("--json", help="also write the figures and run metadata to this file")
    args = parser.parse_args(argv)
    result = measure_batching(requests=args.requests, max_tokens=args.max_tokens,
                              threads=args.threads, parallel=args.parallel, engines=args.engines)
    with pd.option_context("display.width", 200, "display.precision", 3):
        print("\nClosed loop (same load on every engine):")
        print(result.table().to_string())
        print("\nA short question joining 4 long answers:")
        print(result.late.to_string())
    for engine in result.engines:
        print(f"{engine}: output tok/s at c={max(result.settings['levels'])} / "
              f"c={min(result.settings['levels'])} = {result.scaling(engine):.2f}x")
    if {ONE_AT_A_TIME, BATCHING} <= set(result.engines):
        for level in result.settings["levels"]:
            print(f"output tok/s at {level} concurrent: {BATCHING} / {ONE_AT_A_TIME} = "
                  f"{result.speedup(level):.2f}x")
    overhead = None
    if VLLM in result.engines:
        peaks = result.metrics[result.metrics["load"].isin(result.settings["levels"])].groupby("load")
        print(f"\nvLLM {result.settings['vllm_version']} ({result.settings['vllm_dtype']}), its /metrics "
              "per level: most running, most waiting, most KV cache used:")
        print(peaks[["running", "waiting", "kv_cache_used"]].max().to_string())
        print(f"prefix cache: {result.prefix}")
        with VllmServer(threads=args.threads, progress=None) as server:
            overhead = asyncio.run(provider_overhead(server, args.overhead_calls))
        print(f"\nworkbook vllm provider vs raw openai SDK, {overhead['calls']} alternating pairs: "
              f"{overhead['provider_s_p50']:.4f} s vs {overhead['raw_sdk_s_p50']:.4f} s (p50), "
              f"paired ratio p50 {overhead['ratio_p50']:.3f} (target <= 1.03)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"sweep": json.loads(result.sweep.reset_index().to_json(orient="records")),
                       "late": json.loads(result.late.reset_index().to_json(orient="records")),
                       "settings": result.settings, "prefix": result.prefix,
                       "provider_overhead": overhead}, out, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
