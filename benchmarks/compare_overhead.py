"""How much does ``workbook.compare`` itself add to each call it measures?

Against a mock with no latency (TTFT 0, a billion tokens/s, so its stream never sleeps),
time three ways of making the same calls:

1. the raw loop: ``async for piece in provider.chat_stream(messages): ...``
2. ``measure_call``: the timed call the comparison makes (clock, usage, check, record)
3. ``run_comparison_async`` end to end (plus scheduling, the DataFrames and the summary)

and print the per-call cost of each and the difference. Usage:

    .venv/bin/python benchmarks/compare_overhead.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from workbook.ai import AISettings
from workbook.ai.providers.mock import MockProvider
from workbook.compare import default_cases, run_comparison_async
from workbook.compare.runner import measure_call


async def raw_loop(provider, cases, calls):
    times = []
    for index in range(calls):
        case = cases[index % len(cases)]
        started = time.perf_counter()
        async for _ in provider.chat_stream(case.messages(), max_tokens=128, temperature=0.0):
            pass
        times.append(time.perf_counter() - started)
    return times


async def measured(provider, cases, calls):
    times = []
    for index in range(calls):
        case = cases[index % len(cases)]
        started = time.perf_counter()
        await measure_call(provider, case, label="mock", max_tokens=128, temperature=0.0)
        times.append(time.perf_counter() - started)
    return times


async def main(calls: int, repeats: int) -> None:
    provider = MockProvider(AISettings(provider="mock", mock_ttft_s=0.0, mock_tokens_per_s=1e9))
    cases = default_cases()
    tokens = statistics.mean(
        len(provider._answer(c.messages(), 128).tokens) for c in cases)
    await raw_loop(provider, cases, 200)  # warm up both paths
    await measured(provider, cases, 200)

    raw_med, meas_med, raw_mean, meas_mean = [], [], [], []
    for _ in range(repeats):  # interleave so drift hits both alike
        raw = await raw_loop(provider, cases, calls)
        meas = await measured(provider, cases, calls)
        raw_med.append(statistics.median(raw)); meas_med.append(statistics.median(meas))
        raw_mean.append(statistics.mean(raw)); meas_mean.append(statistics.mean(meas))

    runs = max(1, calls // len(cases))
    started = time.perf_counter()
    result = await run_comparison_async({"mock": provider}, cases, runs=runs, warmup=0,
                                        progress=False)
    whole = (time.perf_counter() - started) / (runs * len(cases))
    started = time.perf_counter()
    await run_comparison_async({"mock": provider}, cases, runs=runs, warmup=0, progress=True)
    with_bar = (time.perf_counter() - started) / (runs * len(cases))

    us = 1e6
    raw_b, meas_b = min(raw_med), min(meas_med)
    print(f"mock with no latency, {tokens:.0f} tokens per reply on average, "
          f"{calls} calls x {repeats} repeats (best repeat's median shown)")
    print(f"  raw chat_stream loop        {raw_b * us:8.1f} us/call   (mean {min(raw_mean) * us:.1f})")
    print(f"  measure_call                {meas_b * us:8.1f} us/call   (mean {min(meas_mean) * us:.1f})")
    print(f"  -> measurement overhead     {(meas_b - raw_b) * us:8.1f} us/call")
    print(f"  run_comparison end to end   {whole * us:8.1f} us/call   "
          f"(overhead {(whole - raw_b) * us:.1f} us incl. DataFrames and summary)")
    print(f"  ... with the progress bar   {with_bar * us:8.1f} us/call")
    print(f"  measured TTFT p50 of the zero-latency mock: {result.summary.loc['mock', 'ttft_s_p50'] * us:.1f} us")
    overhead = max(whole - raw_b, 0.0)
    print(f"For scale: {overhead * us:.0f} us per call is {overhead / 0.2:.3%} of a 0.2 s TTFT "
          f"and {overhead / 0.05:.3%} of a 50 ms one.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    asyncio.run(main(options.calls, options.repeats))
