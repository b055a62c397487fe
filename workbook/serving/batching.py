"""What continuous batching buys, measured: the same load against several engines.

``measure_batching`` serves the same GGUF with each of ``engines`` in turn -- by default the
one-at-a-time engine (``python -m llama_cpp.server``) and llama-server's parallel slots; add
``"vllm"`` for the real vLLM (``make vllm``) -- one after the other (never two at once: they
would share the CPU), and runs on each

* a closed-loop sweep over ``levels`` concurrent requests (``requests`` per level, every
  answer ``max_tokens`` long, every prompt distinct), and
* the late-arrival experiment: ``long_requests`` long answers, then one short question.

While vLLM runs, its own ``/metrics`` is sampled (requests running and waiting, KV-cache use),
and a prefix-cache experiment sends requests that share one long system prompt.

Notebook 03 and ``benchmarks/batching.py`` both call it, so they measure the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import httpx
import pandas as pd

from ..aio import aclose_quietly, run_sync
from ..compare.load import late_arrival_async, sweep_async
from .llama_server import LlamaServer
from .vllm_server import VllmServer, parse_metrics

ONE_AT_A_TIME = "llama-cpp-python"
BATCHING = "llama-server"
VLLM = "vllm"
# vLLM's gauges and counters the notebook reads (sampled during its load)
SAMPLED = {"vllm:num_requests_running": "running", "vllm:num_requests_waiting": "waiting",
           "vllm:kv_cache_usage_perc": "kv_cache_used",
           "vllm:prefix_cache_queries_total": "prefix_queries",
           "vllm:prefix_cache_hits_total": "prefix_hits"}


@dataclass
class BatchingResult:
    """``sweep``: one row per (engine, concurrency); ``late``: one row per engine;
    ``records``: every call of the sweeps (``engine`` and ``load`` columns); with vLLM,
    ``metrics``: its ``/metrics`` sampled during its sweep and late-arrival experiment (``t_s``,
    ``load``: the concurrency or "late arrival", and ``SAMPLED``'s columns) and ``prefix``: the
    prefix-cache experiment (prompt tokens queried and hit, hit rate)."""

    sweep: pd.DataFrame
    late: pd.DataFrame
    records: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: pd.DataFrame | None = None
    prefix: dict[str, Any] | None = None

    def table(self) -> pd.DataFrame:
        """The batching table: requests/s, mean latency and output tokens/s per engine."""
        columns = {"requests_per_s": "requests/s", "latency_s_mean": "mean latency s",
                   "throughput_tok_s": "output tok/s", "ttft_s_p50": "TTFT p50 s",
                   "tpot_s_p50": "TPOT p50 s"}
        return self.sweep[list(columns)].rename(columns=columns).unstack(0).swaplevel(
            axis=1).sort_index(axis=1, level=0)

    def speedup(self, concurrency: int, engine: str = BATCHING, baseline: str = ONE_AT_A_TIME) -> float:
        """Output tokens/s of ``engine`` over ``baseline``'s at the same concurrency."""
        rate = self.sweep["throughput_tok_s"]
        return float(rate[(engine, concurrency)] / rate[(baseline, concurrency)])

    def scaling(self, engine: str) -> float:
        """Output tokens/s of ``engine`` at its highest concurrency over its lowest (c8 / c1)."""
        rate = self.sweep["throughput_tok_s"][engine]
        return float(rate[max(rate.index)] / rate[min(rate.index)])

    def merged(self, other: "BatchingResult") -> "BatchingResult":
        """Both runs' engines in one result (one table, one plot); ``other``'s vLLM samples kept."""
        return BatchingResult(
            sweep=pd.concat([self.sweep, other.sweep]), late=pd.concat([self.late, other.late]),
            records=pd.concat([self.records, other.records], ignore_index=True),
            settings={**self.settings, "engines": self.engines + other.engines},
            metrics=other.metrics if other.metrics is not None else self.metrics,
            prefix=other.prefix or self.prefix)

    @property
    def engines(self) -> list[str]:
        return list(dict.fromkeys(self.sweep.index.get_level_values("engine")))


async def measure_batching_async(
    *, levels: Sequence[int] = (1, 2, 4, 8), requests: int = 16, max_tokens: int = 64,
    threads: int = 1, parallel: int | None = None, long_requests: int = 4,
    long_tokens: int = 96, progress: Callable[[str], None] | None = print,
    engines: Sequence[str] = (ONE_AT_A_TIME, BATCHING),
) -> BatchingResult:
    """Measure each of ``engines``; ``parallel`` (llama-server's slots) defaults to ``max(levels)``."""
    say = progress or (lambda text: None)
    parallel = parallel or max(levels)
    n_ctx = max(512, 2 * long_tokens + 256)
    sweeps, lates, metrics, prefix, facts = {}, {}, None, None, {}
    for engine in engines:
        if engine == VLLM:
            server = VllmServer(threads=threads, max_model_len=max(1024, n_ctx), progress=say)
            described = f"vLLM, {threads} thread{'s' if threads > 1 else ''}"
        else:
            slots = parallel if engine == BATCHING else 1
            server = LlamaServer(engine=engine, parallel=slots, threads=threads, n_ctx=n_ctx)
            described = (f"{slots} slot{'s' if slots > 1 else ''}, "
                         f"{threads} thread{'s' if threads > 1 else ''}")
        with server:
            say(f"measuring {engine} ({described})...")
            provider = _provider(server)
            try:
                sampler = MetricsSampler(server.url if engine == VLLM else None)
                async with sampler:
                    sweeps[engine] = await _sweep(provider, levels, sampler, requests=requests,
                                                  max_tokens=max_tokens)
                    sampler.phase = "late arrival"
                    lates[engine] = await late_arrival_async(
                        provider, long_requests=long_requests, long_tokens=long_tokens)
                if engine == VLLM:
                    metrics = sampler.frame()
                    prefix = await prefix_cache_experiment(provider, server.url)
                    facts = {"vllm_version": server.version, "vllm_dtype": server.dtype,
                             "vllm_kv_cache_gib": server.kv_cache_gib, "vllm_startup_s": server.startup_s}
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
                "long_tokens": long_tokens, "engines": list(engines), **facts,
                **sweeps[list(engines)[-1]].attrs.get("settings", {})}
    settings.pop("load", None)
    return BatchingResult(sweep=sweep, late=late, records=records, settings=settings,
                          metrics=metrics, prefix=prefix)


async def _sweep(provider: Any, levels: Sequence[int], sampler: "MetricsSampler",
                 **options: Any) -> pd.DataFrame:
    """``sweep_async`` one level at a time, so the sampler knows which level is running; the
    same table (only the first level warms up)."""
    tables = []
    for position, level in enumerate(levels):
        sampler.phase = level
        tables.append(await sweep_async(provider, concurrency=[level],
                                        warmup=1 if position == 0 else 0, **options))
    table = pd.concat(tables)
    table.attrs = {"records": [row for part in tables for row in part.attrs["records"]],
                   "settings": {**tables[-1].attrs["settings"],
                                "load": {"shape": "concurrency", "levels": list(levels)}}}
    return table


class MetricsSampler:
    """``async with MetricsSampler(url):`` reads vLLM's ``/metrics`` every ``every_s`` while the
    block runs, each sample labelled with ``phase`` (what the caller says is running);
    ``frame()`` gives them. With ``url=None`` it samples nothing (an engine without them)."""

    def __init__(self, url: str | None, every_s: float = 0.25):
        self.url, self.every_s = url, every_s
        self.phase: Any = None
        self.samples: list[dict[str, Any]] = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "MetricsSampler":
        if self.url is not None:
            self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sample(self) -> None:
        started = time.perf_counter()
        async with httpx.AsyncClient(timeout=5.0) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    values = parse_metrics((await client.get(f"{self.url}/metrics")).text)
                    self.samples.append({"t_s": time.perf_counter() - started, "load": self.phase,
                                         **{short: values.get(name) for name, short in SAMPLED.items()}})
                await asyncio.sleep(self.every_s)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.samples)


# About 250 tokens, the same for every request: a system prompt as a support bot would have.
SHARED_SYSTEM_PROMPT = " ".join([
    "You are the support assistant of a small online bookshop.",
    "Answer in one short sentence, politely, without inventing order numbers or prices.",
    "The shop ships within Europe in three to five working days; returns are free for 30 days;",
    "gift cards never expire; orders can be changed until they are packed; customers reach a",
    "person by email at any time and by phone on weekdays from nine to five.",
] * 4)


async def prefix_cache_experiment(provider: Any, url: str, *, requests: int = 6,
                                  max_tokens: int = 8) -> dict[str, Any]:
    """``requests`` questions, each distinct, all after the same long system prompt, one after
    another: vLLM's prefix cache reuses the prompt's KV-cache blocks from the first. Returns the
    prompt tokens it was asked for and found, from its own counters."""
    from ..ai import Message

    before = parse_metrics(httpx.get(f"{url}/metrics", timeout=5).text)
    for index in range(requests):
        await provider.chat([Message("system", SHARED_SYSTEM_PROMPT),
                             Message("user", f"Question {index + 1}: how long does shipping take?")],
                            max_tokens=max_tokens, temperature=0.0)
    after = parse_metrics(httpx.get(f"{url}/metrics", timeout=5).text)
    queries = after.get("vllm:prefix_cache_queries_total", 0) - before.get("vllm:prefix_cache_queries_total", 0)
    hits = after.get("vllm:prefix_cache_hits_total", 0) - before.get("vllm:prefix_cache_hits_total", 0)
    return {"requests": requests, "prompt_tokens_queried": int(queries), "prompt_tokens_hit": int(hits),
            "hit_rate": hits / queries if queries else float("nan")}


def measure_batching(**options: Any) -> BatchingResult:
    """``measure_batching_async`` for sync code (scripts; Jupyter via a worker thread)."""
    return run_sync(lambda: measure_batching_async(**options))


def _provider(server: LlamaServer):
    from ..ai import create_ai_provider

    return create_ai_provider(server.settings("vllm"))


__all__ = ["BATCHING", "BatchingResult", "MetricsSampler", "ONE_AT_A_TIME", "VLLM",
           "measure_batching", "measure_batching_async", "prefix_cache_experiment"]
