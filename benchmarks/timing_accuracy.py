"""How closely the workbook's timers read a known latency model: measured / configured, in one run.

The tests check the timing code by events (no token before its schedule, calls overlap, the
fast column's first token comes first): they pass on a busy machine. How *close* the figures
come to the truth is a speed question, so it lives here, as ratios against the mock's own
schedule (time to first token ``--ttft`` s, then ``--rate`` tokens/s), measured three ways in
one run: a stream read directly, the chat panel's state, and ``workbook.compare``'s medians.
Each figure is the median of ``--runs`` calls. Also: eight concurrent 0.2 s calls against
the time one takes (overlap: ~1.0; one after another: 8.0).

    .venv/bin/python benchmarks/timing_accuracy.py [--runs 5] [--ttft 0.2] [--rate 50]

On a quiet machine every ratio is within 1.00-1.05; a busy one shows its lateness here,
not as a failing test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from workbook.ai import AISettings, Message, create_ai_provider
from workbook.ai.providers.mock import MockProvider
from workbook.compare import Case, run_comparison_async
from workbook.timing import decode_rate
from workbook.widgets import ChatPanel

REPLY = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"


async def stream_figures(provider) -> tuple[float, float]:
    started = time.perf_counter()
    arrivals = [time.perf_counter() - started async for _ in provider.chat_stream([Message.user("hi")])]
    return arrivals[0], decode_rate(len(arrivals), arrivals[0], arrivals[-1])


async def main(runs: int, ttft_s: float, rate: float) -> None:
    settings = AISettings(provider="mock", mock_ttft_s=ttft_s, mock_tokens_per_s=rate)
    provider = MockProvider(settings, reply=lambda messages: REPLY)
    rows: list[tuple[str, float, float]] = []

    streamed = [await stream_figures(provider) for _ in range(runs)]
    rows.append(("stream read directly", statistics.median(t for t, _ in streamed),
                 statistics.median(r for _, r in streamed)))

    panel = [await ChatPanel(provider, max_tokens=64).send("hi") for _ in range(runs)]
    rows.append(("chat panel", statistics.median(s.ttft_s for s in panel),
                 statistics.median(s.tokens_per_s for s in panel)))

    case = Case("hi", "contains", "one", id="hi")
    result = await run_comparison_async({"mock": provider}, [case], runs=runs, progress=False)
    row = result.summary.loc["mock"]
    rows.append(("workbook.compare (p50)", row["ttft_s_p50"], row["tokens_per_s_p50"]))

    print(f"mock schedule: first token after {ttft_s} s, then {rate:g} tokens/s; medians of {runs} calls\n")
    print(f"{'measured by':<26}{'ttft ratio':>12}{'rate ratio':>12}")
    for label, ttft, measured_rate in rows:
        print(f"{label:<26}{ttft / ttft_s:>12.3f}{measured_rate / rate:>12.3f}")

    quick = create_ai_provider(provider="mock", mock_ttft_s=0.2, mock_tokens_per_s=1000)
    started = time.perf_counter()
    await quick.chat([Message.user("one")])
    one = time.perf_counter() - started
    started = time.perf_counter()
    await asyncio.gather(*(quick.chat([Message.user(f"q{i}")]) for i in range(8)))
    eight = time.perf_counter() - started
    print(f"\neight concurrent calls / one call: {eight / one:.2f} (overlapping: ~1; in a row: 8)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.ttft, args.rate))
