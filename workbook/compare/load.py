"""Load shapes for sizing one server, measured the way serving benchmarks measure them.

Two shapes, as in vLLM's ``vllm bench serve`` and GuideLLM:

* **fixed concurrency** (a closed loop): ``concurrency=N`` requests in flight; each one
  that finishes lets the next start. What N users who wait for each answer produce.
* **request rate** (an open loop): ``rate=R`` requests per second arriving at Poisson
  times (exponential gaps, seeded, so a rerun sends the same schedule); a request starts
  at its arrival time whether or not earlier ones have finished. What a public endpoint
  sees. ``requests=`` or ``duration_s=`` bound it.

Warm-up calls go first and are left out. Every prompt is made distinct (a request number
in front of it) so a server's prefix cache cannot answer a repeated prompt from memory.

``run_load`` measures one load; ``sweep`` several (one row per load level); ``goodput``
and ``max_load_meeting_slo`` judge them against service-level objectives (SLOs);
``late_arrival`` shows what continuous batching does for a request joining long ones.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Iterable, Mapping, Sequence

import pandas as pd

from ..aio import run_sync
from ..ai.types import Message
from .cases import Case, load_cases
from .metrics import serving_stats
from .provenance import run_metadata
from .result import records_frame
from .runner import CallRecord, _Progress, measure_call

DEFAULT_MAX_TOKENS = 64
SLO_FIELDS = ("ttft_s", "tpot_s", "latency_s")
_ANY_ANSWER = r"[\s\S]*"  # a load test times answers; it does not grade them
STORY_TOPICS = ("a lighthouse keeper", "a dragon who bakes bread", "the first city on Mars",
                "a lost umbrella", "a chess tournament", "a river that runs uphill")


def story_cases() -> list[Case]:
    """The default load: requests for long stories, so every answer runs to ``max_tokens``
    (as ``vllm bench serve`` fixes the output length) and rows compare like for like."""
    return [Case(id=f"story-{i}", prompt=f"Write a long story about {topic}.",
                 expected=_ANY_ANSWER, check="regex", category="load")
            for i, topic in enumerate(STORY_TOPICS)]


def poisson_arrivals(rate: float, *, requests: int | None = None, duration_s: float | None = None,
                     seed: int = 0) -> list[float]:
    """Arrival times (seconds from the start) of a Poisson process with ``rate`` per second:
    exponential gaps with mean ``1/rate``; ``requests`` of them, or all before ``duration_s``."""
    if not rate or rate <= 0 or not math.isfinite(rate):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
    if (requests is None) == (duration_s is None):
        raise ValueError("give exactly one of requests= or duration_s=")
    generator = random.Random(seed)
    times, now = [], 0.0
    while True:
        now += generator.expovariate(rate)
        if (requests is not None and len(times) >= requests) or (
                duration_s is not None and now > duration_s):
            return times
        times.append(now)


def distinct_messages(case: Case, index: int) -> list[Message]:
    """The case's messages with a request number in front of the last one: no two prompts
    of a load test share their text, so a prefix cache cannot flatter the figures."""
    messages = list(case.messages())
    last = messages[-1]
    messages[-1] = Message(last.role, f"(request {index}) {last.content}")
    return messages


@dataclass
class LoadRun:
    """One load measured: per-call ``records`` (warm-up flagged), the measured span
    ``wall_s`` and how it was run (``settings``)."""

    records: pd.DataFrame
    wall_s: float
    settings: dict[str, Any] = field(default_factory=dict)

    def measured(self) -> pd.DataFrame:
        return self.records[~self.records["warmup"]] if len(self.records) else self.records

    def answered(self) -> pd.DataFrame:
        measured = self.measured()
        return measured[measured["error"].isna()] if len(measured) else measured

    def summary(self, slo: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Requests, errors, throughput and the serving metrics (p50/p90/p99/mean); with an
        ``slo``, also ``slo_met`` and ``goodput_req_s``."""
        measured, ok = self.measured(), self.answered()
        wall = self.wall_s if self.wall_s > 0 else math.nan
        row = {
            "requests": len(measured), "errors": len(measured) - len(ok), "wall_s": self.wall_s,
            "requests_per_s": len(ok) / wall,
            "throughput_tok_s": float(ok["output_tokens"].sum()) / wall if len(ok) else 0.0,
            "tokens_estimated": bool(ok["tokens_estimated"].any()) if len(ok) else False,
            **serving_stats(ok),
        }
        if slo:
            row.update(goodput(measured, slo, self.wall_s))
        return row


def _check_slo(slo: Mapping[str, float]) -> dict[str, float]:
    unknown = set(slo) - set(SLO_FIELDS)
    if unknown or not slo:
        raise ValueError(f"an SLO sets thresholds in seconds for some of {', '.join(SLO_FIELDS)}; "
                         f"got {dict(slo)!r}")
    return {name: float(limit) for name, limit in slo.items()}


def meets_slo(records: pd.DataFrame, slo: Mapping[str, float]) -> pd.Series:
    """Per call: answered, and within every threshold the SLO sets (vLLM's goodput rule)."""
    limits = _check_slo(slo)
    good = records["error"].isna()
    for name, limit in limits.items():
        values = records[name]
        # A one-token answer has no TPOT: it cannot break a TPOT objective.
        within = values <= limit if name != "tpot_s" else (values <= limit) | values.isna()
        good &= within.fillna(False)
    return good


def goodput(records: pd.DataFrame, slo: Mapping[str, float], wall_s: float) -> dict[str, float]:
    """``slo_met``: the fraction of measured calls meeting the SLO; ``goodput_req_s``: such
    calls per second of the measured span."""
    if not len(records):
        return {"slo_met": math.nan, "goodput_req_s": math.nan}
    good = int(meets_slo(records, slo).sum())
    return {"slo_met": good / len(records),
            "goodput_req_s": good / wall_s if wall_s > 0 else math.nan}


async def run_load_async(
    provider: Any, cases: "str | Iterable[Case | dict] | None" = None, *,
    concurrency: int | None = None, rate: float | None = None, requests: int | None = None,
    duration_s: float | None = None, warmup: int = 1, seed: int = 0,
    max_tokens: int = DEFAULT_MAX_TOKENS, temperature: float = 0.0,
    timeout_s: float | None = 120.0, label: str = "provider", progress: bool = False,
) -> LoadRun:
    """Measure one load on ``provider``: ``concurrency=N`` (closed loop, ``requests`` calls,
    default ``4 * N``) or ``rate=R`` per second (Poisson arrivals, ``requests`` or
    ``duration_s``, ``seed``). Cases are used in turn, each prompt made distinct."""
    if (concurrency is None) == (rate is None):
        raise ValueError("give exactly one of concurrency= or rate=")
    case_list = load_cases(cases) if cases is not None else story_cases()
    if concurrency is not None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
        count = requests if requests is not None else 4 * concurrency
        arrivals = None
        shape = {"shape": "concurrency", "concurrency": concurrency, "requests": count}
    else:
        arrivals = poisson_arrivals(rate, requests=requests, duration_s=duration_s, seed=seed)
        count = len(arrivals)
        shape = {"shape": "rate", "rate": rate, "requests": count, "duration_s": duration_s,
                 "seed": seed, "arrivals": "poisson"}
    options = dict(label=label, max_tokens=max_tokens, temperature=temperature,
                   timeout_s=timeout_s, concurrency=concurrency or 0)
    bar = _Progress(warmup + count, progress, desc=f"load {label}")
    records: list[CallRecord] = []
    try:
        for index in range(warmup):
            case = case_list[index % len(case_list)]
            record = await measure_call(provider, case, warmup=True,
                                        messages=distinct_messages(case, -1 - index), **options)
            records.append(record)
            bar.update(record)
        origin = time.perf_counter()
        gate = asyncio.Semaphore(concurrency) if concurrency else None

        async def one(index: int) -> CallRecord:
            case = case_list[index % len(case_list)]
            scheduled = math.nan
            if arrivals is not None:
                scheduled = arrivals[index]
                await asyncio.sleep(max(0.0, origin + scheduled - time.perf_counter()))
            if gate is not None:
                async with gate:
                    record = await measure_call(provider, case, run=index, origin=origin,
                                                messages=distinct_messages(case, index), **options)
            else:
                record = await measure_call(provider, case, run=index, origin=origin,
                                            scheduled_s=scheduled,
                                            messages=distinct_messages(case, index), **options)
            bar.update(record)
            return record

        records += await asyncio.gather(*(one(i) for i in range(count)))
        wall = time.perf_counter() - origin
    finally:
        bar.close()
    settings = {"load": shape, "warmup": warmup, "max_tokens": max_tokens,
                "temperature": temperature, "cases": [c.id for c in case_list],
                "provider": label, **run_metadata()}
    return LoadRun(records=records_frame(records), wall_s=wall, settings=settings)


def run_load(provider: Any, cases=None, **options: Any) -> LoadRun:
    """``run_load_async`` for sync code (scripts; Jupyter via a worker thread)."""
    return run_sync(lambda: run_load_async(provider, cases, **options))


async def sweep_async(provider: Any, cases=None, *, concurrency: Sequence[int] | None = None,
                      rate: Sequence[float] | None = None, slo: Mapping[str, float] | None = None,
                      warmup: int = 1, **options: Any) -> pd.DataFrame:
    """One ``run_load`` per level of ``concurrency`` (or of ``rate``): one row per level.

    Columns: ``requests``, ``errors``, ``wall_s``, ``requests_per_s``, ``throughput_tok_s``
    and p50/p90/p99/mean of ``ttft_s``, ``tpot_s``, ``itl_s``, ``latency_s``,
    ``tokens_per_s``; with ``slo``, ``slo_met`` and ``goodput_req_s``. The per-call records
    of every level are ``.attrs["records"]`` (a list of dicts with a ``load`` key:
    ``pd.DataFrame(table.attrs["records"])``; a DataFrame in ``attrs`` would break
    ``pd.concat``), the settings ``.attrs["settings"]``. Only the first level warms up.
    """
    if (concurrency is None) == (rate is None):
        raise ValueError("give exactly one of concurrency=[...] or rate=[...]")
    axis, levels = ("concurrency", list(concurrency)) if concurrency is not None else (
        "rate", list(rate))
    if slo:
        _check_slo(slo)
    rows, frames, settings = {}, [], {}
    for position, level in enumerate(levels):
        run = await run_load_async(provider, cases, **{axis: level},
                                   warmup=warmup if position == 0 else 0, **options)
        rows[level] = run.summary(slo)
        frames.append(run.records.assign(load=level))
        settings = run.settings
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = axis
    table.attrs["records"] = pd.concat(frames, ignore_index=True).to_dict("records") if frames else []
    table.attrs["settings"] = {**settings, "load": {"shape": axis, "levels": levels},
                               "slo": dict(slo) if slo else None}
    return table


def sweep(provider: Any, cases=None, **options: Any) -> pd.DataFrame:
    """``sweep_async`` for sync code (scripts; Jupyter via a worker thread)."""
    return run_sync(lambda: sweep_async(provider, cases, **options))


def max_load_meeting_slo(table: pd.DataFrame, slo: Mapping[str, float] | None = None, *,
                         fraction: float = 0.9) -> float | None:
    """The highest level of a ``sweep`` at which at least ``fraction`` of the calls met the
    SLO (``None`` if none did). ``slo``: judge the sweep's records against this one instead
    of the one it was run with."""
    if slo is not None:
        records = pd.DataFrame(table.attrs["records"])
        measured = records[~records["warmup"].astype(bool)]
        met = {level: float(meets_slo(part, slo).mean())
               for level, part in measured.groupby("load")}
    elif "slo_met" in table:
        met = table["slo_met"].to_dict()
    else:
        raise ValueError("run the sweep with slo=..., or pass slo= here")
    passing = [level for level in table.index if met.get(level, 0.0) >= fraction]
    return max(passing) if passing else None


async def late_arrival_async(provider: Any, *, long_requests: int = 4, long_tokens: int = 96,
                             short_tokens: int = 8, delay_s: float = 0.5,
                             timeout_s: float | None = 120.0) -> dict[str, float]:
    """Start ``long_requests`` long answers, then after ``delay_s`` one short question.

    Returns the short request's ``ttft_s`` and ``latency_s`` (from *its* start), and
    ``long_latency_s`` (mean of the long ones, from theirs), and ``finished_before_long_ones``:
    whether the short answer completed first, read from the order the answers ended in (no
    clock: a busy machine slows a server, it does not reorder it). A server that serves one
    request at a time makes the short one wait for every long one before it; continuous
    batching lets it join the running batch at the next decoding step."""
    long_case = story_cases()[0]
    short_case = Case(id="short", prompt="What is 2 + 2?", expected=_ANY_ANSWER, check="regex",
                      category="load")
    options = dict(label="late-arrival", temperature=0.0, timeout_s=timeout_s)

    async def short() -> CallRecord:
        await asyncio.sleep(delay_s)
        return await measure_call(provider, short_case, max_tokens=short_tokens,
                                  messages=distinct_messages(short_case, 0), **options)

    finished: list[str] = []  # the order in which the answers completed: an event order, not a time

    async def noting_the_end(name: str, call: Awaitable[CallRecord]) -> CallRecord:
        record = await call
        finished.append(name)
        return record

    records = await asyncio.gather(
        *(noting_the_end("long", measure_call(provider, long_case, max_tokens=long_tokens,
                                              messages=distinct_messages(long_case, i + 1), **options))
          for i in range(long_requests)), noting_the_end("short", short()))
    *longs, late = records
    failed = [r for r in records if r.error]
    if failed:
        raise RuntimeError(f"the late-arrival experiment failed: {failed[0].error_message}")
    return {"ttft_s": late.ttft_s, "latency_s": late.latency_s,
            "long_latency_s": sum(r.latency_s for r in longs) / len(longs),
            "finished_before_long_ones": finished[0] == "short"}


def late_arrival(provider: Any, **options: Any) -> dict[str, float]:
    """``late_arrival_async`` for sync code."""
    return run_sync(lambda: late_arrival_async(provider, **options))


__all__ = ["LoadRun", "SLO_FIELDS", "story_cases", "distinct_messages", "goodput", "late_arrival",
           "late_arrival_async", "max_load_meeting_slo", "meets_slo", "poisson_arrivals",
           "run_load", "run_load_async", "sweep", "sweep_async"]
