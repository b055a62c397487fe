"""Running cases against providers and timing every call.

One call = one ``chat_stream`` of one case, consumed to the end. The clock is
``time.perf_counter``; it starts just before ``chat_stream`` is called and stops when the
stream is exhausted, so a provider's own validation and connection set-up count.

* ``ttft_s``: time to the first *non-empty* text chunk.
* ``latency_s``: time to the end of the stream.
* ``tokens_per_s``: ``(output_tokens - 1) / (latency_s - ttft_s)`` -- the decode rate
  after the first token (the first token's time is already TTFT; the other ``n - 1``
  arrive in ``latency - ttft``). It is ``1 / TPOT`` in vLLM's terms, and ``NaN`` when a
  reply has fewer than two tokens.
* Tokens: what the provider reported (a ``ChatStream``'s ``.usage`` after the stream ended);
  where it reported nothing -- a student's plain async generator, a server that omits
  stream usage -- an estimate of ~4 characters per token, flagged ``tokens_estimated``.

Providers are measured one after another, never at the same time, so that one does not
slow another down (the local model and a mock would share the CPU). Within a provider,
``concurrency`` calls may be in flight at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from .cases import Case, check_answer

T = TypeVar("T")

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About 4 characters per token (the usual rule of thumb for English BPE tokenizers)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode_rate(output_tokens: float, ttft_s: float, latency_s: float) -> float:
    """Output tokens per second after the first token: ``(n - 1) / (latency - ttft)``."""
    if output_tokens is None or output_tokens < 2:
        return math.nan
    if any(v is None or not math.isfinite(v) for v in (ttft_s, latency_s)):
        return math.nan
    decode_s = latency_s - ttft_s
    if decode_s <= 0:
        return math.nan
    return (output_tokens - 1) / decode_s


def _reported_usage(stream: Any) -> tuple[int | None, int | None]:
    usage = getattr(stream, "usage", None)
    if usage is None:
        return None, None
    return getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)


async def _open_stream(provider: Any, messages, max_tokens: int, temperature: float):
    stream = provider.chat_stream(messages, max_tokens=max_tokens, temperature=temperature)
    # A student's ``async def chat_stream`` that *returns* an iterator needs one await.
    if inspect.isawaitable(stream) and not hasattr(stream, "__aiter__"):
        stream = await stream
    if not hasattr(stream, "__aiter__"):
        raise TypeError(
            f"chat_stream returned {type(stream).__name__}, not an async iterator of str"
        )
    return stream


async def measure_call(provider: Any, case: Case, *, label: str, run: int = 0,
                       warmup: bool = False, max_tokens: int = 128, temperature: float = 0.0,
                       timeout_s: float | None = None, origin: float | None = None,
                       concurrency: int = 1) -> CallRecord:
    """Stream one case from one provider and time it. Never raises for provider errors:
    the exception's class name and message end up in the record."""
    messages = case.messages()
    pieces: list[str] = []
    chunks = 0
    ttft = math.nan
    error: BaseException | None = None
    stream = None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            stream = await _open_stream(provider, messages, max_tokens, temperature)
            async for piece in stream:
                if piece and math.isnan(ttft):
                    ttft = time.perf_counter() - started
                if piece:
                    chunks += 1
                    pieces.append(piece if isinstance(piece, str) else str(piece))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 -- one failing provider never stops the run
        error = exc
    finished = time.perf_counter()
    if stream is not None and hasattr(stream, "aclose"):
        try:
            await stream.aclose()
        except Exception:  # noqa: BLE001
            pass

    answer = "".join(pieces)
    reported_in, reported_out = _reported_usage(stream) if error is None else (None, None)
    estimated = reported_in is None or reported_out is None
    input_tokens = reported_in if reported_in is not None else estimate_tokens(
        "\n".join(m.content for m in messages))
    output_tokens = reported_out if reported_out is not None else estimate_tokens(answer)
    latency = finished - started
    if error is not None:
        ttft_value, latency_value, rate = math.nan, math.nan, math.nan
    else:
        ttft_value, latency_value = ttft, latency
        rate = decode_rate(output_tokens, ttft, latency)
    return CallRecord(
        provider=label, case_id=case.id, category=case.category, check=case.check,
        run=-1 if warmup else run, warmup=warmup,
        started_s=started - (origin if origin is not None else started),
        ttft_s=ttft_value, latency_s=latency_value,
        input_tokens=int(input_tokens), output_tokens=int(output_tokens),
        tokens_estimated=estimated, tokens_per_s=rate, chunks=chunks,
        passed=None if error is not None else check_answer(case, answer),
        error=None if error is None else type(error).__name__,
        error_message=None if error is None else _one_line(error),
        answer=answer,
        finish_reason=getattr(stream, "finish_reason", None) if error is None else None,
        concurrency=concurrency,
    )


def _one_line(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())[:500]


class _Progress:
    """A tqdm.auto bar (a widget in Jupyter, text in a terminal), or nothing."""

    def __init__(self, total: int, enabled: bool, desc: str = "compare"):
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="call", leave=True)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_description(text, refresh=False)

    def update(self, record: CallRecord | None = None) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
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


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code: ``asyncio.run`` in a script; in a thread with its
    own event loop when this thread already runs one (Jupyter), since ``asyncio.run``
    cannot nest. ``make`` builds the coroutine inside the loop that runs it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workbook-compare") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


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


__all__ = ["CallRecord", "decode_rate", "estimate_tokens", "measure_call", "run_provider",
           "run_sync"]
