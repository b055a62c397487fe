"""What bounding an answer's size costs (``workbook/ai/providers/_bounds.py``).

The same in-memory 64-chunk SSE body read through httpx's ``aiter_bytes`` with and without the
``bound_response`` hook (and its budget), many times; the minimum of several rounds of each,
in microseconds per response. No network: this is the hook's own cost, which
``benchmarks/overhead.py`` cannot resolve on a busy machine (its noise is a few percent of
a 10-20 ms call).

    .venv/bin/python benchmarks/bounds_overhead.py [--calls 3000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from workbook.ai.providers._bounds import answer_budget, bound_response

CHUNKS = 64


class _Body(httpx.AsyncByteStream):
    async def __aiter__(self):
        for _ in range(CHUNKS):
            yield b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'


async def _per_response_us(bounded: bool, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        response = httpx.Response(200, stream=_Body(), request=httpx.Request("POST", "http://127.0.0.1/"))
        if bounded:
            with answer_budget("openai", 64):
                await bound_response(response)
        async for _ in response.aiter_bytes():
            pass
    return (time.perf_counter() - started) / calls * 1e6


async def main(calls: int, rounds: int) -> None:
    plain, bounded = [], []
    for _ in range(rounds):
        plain.append(await _per_response_us(False, calls))
        bounded.append(await _per_response_us(True, calls))
    print(f"one {CHUNKS}-chunk response: {min(plain):.0f} us plain, {min(bounded):.0f} us bounded "
          f"(+{min(bounded) - min(plain):.0f} us; minimum of {rounds} rounds of {calls})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
