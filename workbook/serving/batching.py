"""What continuous batching buys, measured: the same load against both engines.

``measure_batching`` serves the same GGUF with the one-at-a-time engine
(``python -m llama_cpp.server``) and with llama-server's parallel slots, one after the
other (never both at once: they would share the CPU), and runs on each

* a closed-loop sweep over ``levels`` concurrent requests (``requests`` per level, every
  answer ``max_tokens`` long, every prompt distinct), and
* the late-arrival experiment: ``long_requests`` long answers, then one short question.

Notebook 03 and ``benchmarks/batching.py`` both call it, so they measure the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import pandas as pd

from ..aio import aclose_quietly, run_sync
from ..compare.load import late_arrival_async, sweep_async
from .llama_server import LlamaServer

ONE_AT_A_TIME = "llama-cpp-python"
BATCHING = "llama-server"


@dataclass
class BatchingResult:
    """``sweep``: one row per (engine, concurrency); ``late``: one row per engine;
    ``records``: every call of the sweeps (``engine`` and ``load`` columns)."""

    sweep: pd.DataFrame
    late: pd.DataFrame
    records: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """The batching table: requests/s, mean latency and output tokens/s per engine."""
        columns = {"requests_per_s": "requests/s", "latency_s_mean": "mean latency s",
                   "throughput_tok_s": "output tok/s", "ttft_s_p50": "TTFT p50 s",
                   "tpot_s_p50": "TPOT p50 s"}
        return self.sweep[list(columns)].rename(columns=columns).unstack(0).swaplevel(
            axis=1).sort_index(axis=1, level=0)

    def speedup(self, concurrency: int) -> float:
        """Output tokens/s of the batching engine over the one-at-a-time engine's."""
        rate = self.sweep["throughput_tok_s"]
        return float(rate[(BATCHING, concurrency)] / rate[(ONE_AT_A_TIME, concurrency)])


async def measure_batching_async(
    *, levels: Sequence[int] = (1, 2, 4, 8), requests: int = 16, max_tokens: int = 64,
    threads: int = 1, parallel: int | None = None, long_requests: int = 4,
    long_tokens: int = 96, progress: Callable[[str], None] | None = print,
) -> BatchingResult:
    """Measure both engines; ``parallel`` (llama-server's slots) defaults to ``max(levels)``."""
    say = progress or (lambda text: None)
    parallel = parallel or max(levels)
    sweeps, lates = {}, {}
    for engine in (ONE_AT_A_TIME, BATCHING):
        slots = parallel if engine == BATCHING else 1
        with LlamaServer(engine=engine, parallel=slots, threads=threads,
                         n_ctx=max(512, 2 * long_tokens + 256)) as server:
            say(f"measuring {engine} ({slots} slot{'s' if slots > 1 else ''}, "
                f"{threads} thread{'s' if threads > 1 else ''})...")
            provider = _provider(server)
            try:
                sweeps[engine] = await sweep_async(provider, concurrency=list(levels),
                                                   requests=requests, max_tokens=max_tokens)
                lates[engine] = await late_arrival_async(
                    provider, long_requests=long_requests, long_tokens=long_tokens)
            finally:
                await aclose_quietly(provider)
    records = pd.concat([pd.DataFrame(table.attrs["records"]).assign(engine=engine)
                         for engine, table in sweeps.items()], ignore_index=True)
    sweep = pd.concat(sweeps, names=["engine"])
    sweep.attrs = {}  # the per-level records are in ``records``
    late = pd.DataFrame.from_dict(lates, orient="index")
    late.index.name = "engine"
    settings = {"levels": list(levels), "requests": requests, "max_tokens": max_tokens,
                "threads": threads, "parallel": parallel, "long_requests": long_requests,
                "long_tokens": long_tokens, **sweeps[BATCHING].attrs.get("settings", {})}
    settings.pop("load", None)
    return BatchingResult(sweep=sweep, late=late, records=records, settings=settings)


def measure_batching(**options: Any) -> BatchingResult:
    """``measure_batching_async`` for sync code (scripts; Jupyter via a worker thread)."""
    return run_sync(lambda: measure_batching_async(**options))


def _provider(server: LlamaServer):
    from ..ai import create_ai_provider

    return create_ai_provider(server.settings("vllm"))


__all__ = ["BATCHING", "BatchingResult", "ONE_AT_A_TIME", "measure_batching",
           "measure_batching_async"]
