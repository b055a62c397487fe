"""Running cases against providers and timing every call.

One call = one ``chat_stream`` of one case, consumed to the end and timed by
``workbook.timing.time_reply`` -- the same clock, TTFT, token count and decode rate the
widgets and the doctor show, so a reply gets the same figures in every tool:

* ``ttft_s``: time to the first *non-empty* text chunk, from just before ``chat_stream``.
* ``latency_s``: time to the end of the stream.
* ``tokens_per_s``: ``(output_tokens - 1) / (latency_s - ttft_s)``, the decode rate after
  the first token (``1 / TPOT`` in vLLM's terms); ``NaN`` below two tokens.
* ``tpot_s``: time per output token after the first, ``(latency_s - ttft_s) /
  (output_tokens - 1)``, as vLLM's ``vllm bench serve`` defines it.
* ``itl_s``: inter-token latencies, the gaps between consecutive streamed chunks (vLLM's
  ITL: a chunk carrying several tokens is one gap, so ITL and TPOT can differ).
* Tokens: what the provider reported, else ~4 characters per token, flagged
  ``tokens_estimated`` (``tokens_source`` says ``reported`` or ``estimated``).

Providers are measured one after another, never at the same time, so that one does not
slow another down (the local model and a mock would share the CPU). Within a provider,
``concurrency`` calls may be in flight at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

# decode_rate and estimate_tokens stay importable from here: workbook.compare exports them.
from ..timing import decode_rate, estimate_tokens, reported_or_estimated, time_reply
from .cases import Case, check_answer



@dataclass
class CallRecord:
    """Everything measured about one call. ``passed`` is ``None`` when the call failed."""

    provider: str
    case_id: str
    category: str
    check: str
    run: int                    # 0, 1, ... ; warm-up calls have run == -1
    warmup: bool
    started_s: float            # since the start of this provider's measurement
    ttft_s: float
    latency_s: float
    input_tokens: int
    output_tokens: int
    tokens_estimated: bool
    tokens_per_s: float
    chunks: int
    passed: bool | None
    error: str | None           # exception class name
    error_message: str | None
    answer: str
    finish_reason: str | None
    concurrency: int = 1
    tpot_s: float = math.nan
    itl_s: list[float] = field(default_factory=list)
    tokens_source: str = "reported"
    scheduled_s: float = math.nan  # a rate-driven request's planned start (Poisson arrival)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def measure_call(provider: Any, case: Case, *, label: str, run: int = 0,
                       warmup: bool = False, max_tokens: int = 128, temperature: float = 0.0,
                       timeout_s: float | None = None, origin: float | None = None,
                       concurrency: int = 1, scheduled_s: float = math.nan,
                       messages: list | None = None) -> CallRecord:
    """Stream one case from one provider and time it. Never raises for provider errors:
    the exception's class name and message end up in the record. ``messages``: what to
    send instead of the case's own (a load test makes each prompt distinct)."""
    messages = messages if messages is not None else case.messages()
    reply = await time_reply(provider, messages, max_tokens=max_tokens,
                             temperature=temperature, timeout_s=timeout_s)
    error = reply.error
    reported_in, reported_out = reply.reported_usage()
    input_tokens, input_estimated = reported_or_estimated(
        reported_in, "\n".join(m.content for m in messages))
    output_tokens, output_estimated = reported_or_estimated(reported_out, reply.text)
    itl: list[float] = []
    if error is not None:
        ttft, latency, rate = math.nan, math.nan, math.nan
    else:
        ttft = math.nan if reply.ttft_s is None else reply.ttft_s
        latency = reply.latency_s
        rate = reply.tokens_per_s()
        times = reply.chunk_times
        itl = [later - earlier for earlier, later in zip(times, times[1:])]
    tpot = 1.0 / rate if rate and math.isfinite(rate) else math.nan
    return CallRecord(
        provider=label, case_id=case.id, category=case.category, check=case.check,
        run=-1 if warmup else run, warmup=warmup,
        started_s=reply.started_at - (origin if origin is not None else reply.started_at),
        ttft_s=ttft, latency_s=latency,
        input_tokens=input_tokens, output_tokens=output_tokens,
        tokens_estimated=input_estimated or output_estimated, tokens_per_s=rate,
        chunks=reply.chunks,
        passed=None if error is not None else check_answer(case, reply.text),
        error=None if error is None else type(error).__name__,
        error_message=None if error is None else _one_line(error),
        answer=reply.text, finish_reason=reply.finish_reason, concurrency=concurrency,
        tpot_s=tpot, itl_s=itl,
        tokens_source="estimated" if input_estimated or output_estimated else "reported",
        scheduled_s=scheduled_s,
    )


def _one_line(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())[:500]


class _Progress:
    """A tqdm.auto bar (a widget in Jupyter, text in a terminal), or nothing."""

    def __init__(self, total: int, enabled: bool, desc: str = "compare"):
        self._bar, self._desc = None, desc
        if enabled:
            from ..progress import progress_bar

            self._bar = progress_bar(total=total, desc=desc, unit="call", leave=True)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_description(text, refresh=False)

    def update(self, record: CallRecord | None = None) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.set_description(self._desc, refresh=False)  # the whole run's, not its last provider's
            self._bar.close()


async def run_provider(provider: Any, cases: list[Case], *, label: str, runs: int,
                       concurrency: int, warmup: int, max_tokens: int, temperature: float,
                       timeout_s: float | None, progress: _Progress) -> tuple[list[CallRecord], float]:
    """All calls for one provider: warm-up first (one at a time), then ``runs`` x cases.

    Returns the records and the wall time of the measured part.
    """
    records: list[CallRecord] = []
    options = dict(label=label, max_tokens=max_tokens, temperature=temperature,
                   timeout_s=timeout_s, concurrency=concurrency)
    for index in range(warmup):
        record = await measure_call(provider, cases[index % len(cases)], warmup=True, **options)
        records.append(record)
        progress.update(record)

    origin = time.perf_counter()
    jobs = [(run, case) for run in range(runs) for case in cases]
    if concurrency <= 1:
        for run, case in jobs:
            record = await measure_call(provider, case, run=run, origin=origin, **options)
            records.append(record)
            progress.update(record)
    else:
        gate = asyncio.Semaphore(concurrency)

        async def one(run: int, case: Case) -> CallRecord:
            async with gate:
                record = await measure_call(provider, case, run=run, origin=origin, **options)
            progress.update(record)
            return record

        records += await asyncio.gather(*(one(run, case) for run, case in jobs))
    return records, time.perf_counter() - origin


def check_providers(providers: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(providers, Mapping) or not providers:
        raise TypeError("providers must be a non-empty dict mapping a label to a provider, "
                        'e.g. {"mock": create_ai_provider(provider="mock")}')
    for label, provider in providers.items():
        if not callable(getattr(provider, "chat_stream", None)):
            raise TypeError(f"provider {label!r} ({type(provider).__name__}) has no chat_stream method")
    return {str(label): provider for label, provider in providers.items()}


def check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")


__all__ = ["CallRecord", "decode_rate", "estimate_tokens", "measure_call", "run_provider"]
