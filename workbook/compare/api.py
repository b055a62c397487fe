"""The entry points: ``compare`` / ``run_comparison`` and ``measure_concurrency``.

Each comes twice: ``await …_async(...)`` for code that already runs an event loop (a
notebook cell with top-level ``await``), and a plain function for scripts. The plain one
also works inside Jupyter -- it then runs the comparison in a worker thread with its own
event loop -- but a provider holding an async client tied to the notebook's loop is safer
with the ``await`` form.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from ..aio import run_sync
from .cases import Case, load_cases
from .load import sweep_async
from .metrics import errors_by_type, percentile, quality_by_check, summarize
from .prices import normalise_prices, price_table
from .provenance import run_metadata
from .result import ComparisonResult, records_frame
from .runner import (
    _Progress, check_positive, check_providers, run_provider,
)

DEFAULT_MAX_TOKENS = 128


def _cases(cases: Any) -> list[Case]:
    return load_cases(cases)


async def run_comparison_async(
    providers: Mapping[str, Any], cases: "str | Iterable[Case | dict] | None" = None, *,
    runs: int = 3, concurrency: int = 1, progress: bool = True, warmup: int = 1,
    prices: Any = None, max_tokens: int = DEFAULT_MAX_TOKENS, temperature: float = 0.0,
    timeout_s: float | None = 120.0,
) -> ComparisonResult:
    """Run every case ``runs`` times against every provider; return a ``ComparisonResult``.

    ``providers``: ``{label: provider}`` -- any object with ``chat_stream`` (a student's own
    class too). ``cases``: a JSONL path, a list of ``Case``/dicts, or ``None`` for the
    built-in set. ``concurrency``: calls in flight at once *per provider* (providers are
    measured one after another). ``warmup``: calls per provider made first and left out of
    the summary (they pay for model loading, connection set-up, caches). ``prices``: your
    own entries over ``DEFAULT_PRICES``. ``timeout_s``: a call taking longer fails with
    ``TimeoutError`` (``None``: no limit). Temperature defaults to 0 for repeatable answers.
    """
    providers = check_providers(providers)
    case_list = _cases(cases)
    check_positive(runs=runs, warmup=warmup)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    price_map = normalise_prices(prices)
    total = len(providers) * (warmup + runs * len(case_list))
    # The finished bar's line says where its total comes from ("compare: 52 of 52 calls ...").
    bar = _Progress(total, progress, desc=(
        f"compare ({len(providers)} providers x ({len(case_list)} cases x {runs} run{'' if runs == 1 else 's'}"
        f" + {warmup} warm-up))"))
    all_records, busy = [], {}
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        for label, provider in providers.items():
            bar.describe(label)
            records, busy[label] = await run_provider(
                provider, case_list, label=label, runs=runs, concurrency=concurrency,
                warmup=warmup, max_tokens=max_tokens, temperature=temperature,
                timeout_s=timeout_s, progress=bar)
            all_records += records
    finally:
        bar.close()
    frame = records_frame(all_records)
    labels = list(providers)
    summary = summarize(frame, labels, prices=price_map, providers=providers, busy_s=busy)
    settings = {
        "started_at": started_at, "runs": runs, "concurrency": concurrency, "warmup": warmup,
        "cases": len(case_list), "case_ids": [c.id for c in case_list],
        "max_tokens": max_tokens, "temperature": temperature, "timeout_s": timeout_s,
        "providers": {label: _describe(p) for label, p in providers.items()},
        "load": {"shape": "concurrency", "concurrency": concurrency},
        **run_metadata(),
        "tokens_per_s": "(output_tokens - 1) / (latency_s - ttft_s)",
    }
    return ComparisonResult(
        summary=summary, records=frame, quality_by_check=quality_by_check(frame, labels),
        errors_by_type=errors_by_type(frame, labels), settings=settings,
        prices=price_table(price_map),
    )


def run_comparison(providers: Mapping[str, Any], cases=None, **options: Any) -> ComparisonResult:
    """``run_comparison_async`` for sync code (scripts; Jupyter via a worker thread)."""
    return run_sync(lambda: run_comparison_async(providers, cases, **options))


async def compare_async(providers: Mapping[str, Any], cases=None, *, runs: int = 3,
                        concurrency: int = 1, progress: bool = True, warmup: int = 1,
                        prices: Any = None, **options: Any) -> pd.DataFrame:
    """Like ``compare``, awaitable (use it in notebooks: ``await compare_async(...)``)."""
    result = await run_comparison_async(providers, cases, runs=runs, concurrency=concurrency,
                                        progress=progress, warmup=warmup, prices=prices,
                                        **options)
    return _summary_with_attrs(result)


def compare(providers: Mapping[str, Any], cases=None, *, runs: int = 3, concurrency: int = 1,
            progress: bool = True, warmup: int = 1, prices: Any = None,
            **options: Any) -> pd.DataFrame:
    """Compare providers side by side; one row per provider label.

    Returns the summary DataFrame (columns in ``workbook.compare.metrics``). The whole
    ``ComparisonResult`` -- per-call ``records``, ``quality_by_check``, ``save()``,
    ``figures()`` -- is ``df.attrs["result"]``; ``run_comparison`` returns it directly.
    Options: see ``run_comparison_async``.
    """
    result = run_comparison(providers, cases, runs=runs, concurrency=concurrency,
                            progress=progress, warmup=warmup, prices=prices, **options)
    return _summary_with_attrs(result)


def _summary_with_attrs(result: ComparisonResult) -> pd.DataFrame:
    # Only the result object goes into attrs: a DataFrame there would make pd.concat of
    # two summaries fail (pandas compares attrs values with ==).
    summary = result.summary.copy()
    summary.attrs["result"] = result
    return summary


def _describe(provider: Any) -> str:
    name = getattr(provider, "name", None) or type(provider).__name__
    model = getattr(provider, "model", None)
    return f"{name} ({model})" if model else str(name)


# --------------------------------------------------------------------------- concurrency

async def measure_concurrency_async(
    provider: Any, cases: "str | Iterable[Case | dict] | None" = None, *,
    levels: Sequence[int] = (1, 4, 8), requests: int | None = None, warmup: int = 1,
    max_tokens: int = DEFAULT_MAX_TOKENS, temperature: float = 0.0,
    timeout_s: float | None = 120.0, progress: bool = True, label: str = "provider",
) -> pd.DataFrame:
    """Throughput and latency of one provider at each concurrency level.

    At each level N, ``requests`` calls (default: twice the highest level, the same count
    at every level so the rows compare) go out with at most N in flight. Returns one row
    per N (index ``concurrency``): ``requests``, ``errors``, ``wall_s``, ``requests_per_s``
    (completed calls / wall time), ``latency_s_p50/p95``, ``ttft_s_p50/p95`` and
    ``output_tokens_per_s`` (all output tokens / wall time: the server's aggregate rate).
    A server that batches (vLLM, llama.cpp's ``llama-server``) gains requests/s as N grows
    with little extra latency; one that serves a request at a time (``python -m
    llama_cpp.server``) keeps requests/s flat while latency grows with N. For Poisson
    request rates, p99s, TPOT/ITL and goodput see ``workbook.compare.load``, whose
    ``sweep(concurrency=...)`` measures this table too (one load driver; every prompt made
    distinct so that no server answers from a cache). Per-call records are in
    ``.attrs["records"]`` as a list of dicts (``pd.DataFrame(table.attrs["records"])``).
    """
    case_list = _cases(cases)
    levels = [int(n) for n in levels]
    if not levels or any(n < 1 for n in levels):
        raise ValueError(f"levels must be whole numbers >= 1, got {levels!r}")
    count = requests if requests is not None else 2 * max(levels)
    check_positive(requests=count, warmup=warmup)
    table = await sweep_async(provider, case_list, concurrency=levels, requests=count, warmup=warmup,
                              max_tokens=max_tokens, temperature=temperature, timeout_s=timeout_s,
                              label=label, progress=progress)
    records = pd.DataFrame(table.attrs["records"])
    answered = records[~records["warmup"] & records["error"].isna()] if len(records) else records
    for level in table.index:
        mine = answered[answered["load"] == level] if len(answered) else answered
        # The p95s this table has always shown beside the sweep's p50/p90/p99.
        table.loc[level, "latency_s_p95"] = percentile(list(mine["latency_s"]) if len(mine) else [], 95)
        table.loc[level, "ttft_s_p95"] = percentile(list(mine["ttft_s"]) if len(mine) else [], 95)
    table["output_tokens_per_s"] = table["throughput_tok_s"]
    return table


def measure_concurrency(provider: Any, cases=None, **options: Any) -> pd.DataFrame:
    """``measure_concurrency_async`` for sync code (scripts; Jupyter via a worker thread)."""
    return run_sync(lambda: measure_concurrency_async(provider, cases, **options))


__all__ = ["run_metadata", "compare", "compare_async", "measure_concurrency", "measure_concurrency_async",
           "run_comparison", "run_comparison_async"]
