"""From per-call records to the per-provider summary.

Percentiles use linear interpolation between the sorted values (numpy's default), ignore
``NaN`` (failed calls have no timings) and are ``NaN`` when there is nothing to rank.
With few calls p95 is close to the maximum: read it as "the slow end", and measure more
runs before trusting a difference in it.

Summary columns (one row per provider label):

``calls``            measured calls (warm-up excluded)
``errors``           calls that raised; ``error_types`` says which (class name x count)
``ttft_s_*``         time to first token, seconds: ``p50``, ``p95``, ``mean``
``latency_s_*``      total time of a call, seconds
``tokens_per_s_*``   decode rate after the first token: (output tokens - 1) / (latency - ttft)
``input_tokens``     total over the measured calls; ``output_tokens`` likewise
``tokens_estimated`` True if any count was estimated (~4 chars/token) rather than reported
``quality``          fraction of *answered* calls whose answer passed its check
``cost_usd``         estimated cost of the measured calls (see ``prices``); ``price`` says
                     which price entry was used
``busy_s``           wall time of the measured calls
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .prices import Price, cost_usd, find_price

SUMMARY_COLUMNS = [
    "calls", "errors", "error_types",
    "ttft_s_p50", "ttft_s_p95", "ttft_s_mean",
    "latency_s_p50", "latency_s_p95", "latency_s_mean",
    "tokens_per_s_p50", "tokens_per_s_p95", "tokens_per_s_mean",
    "input_tokens", "output_tokens", "tokens_estimated",
    "quality", "cost_usd", "price", "busy_s",
]


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear interpolation, NaN ignored."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    data = sorted(float(v) for v in values if v is not None and not math.isnan(float(v)))
    if not data:
        return math.nan
    position = (len(data) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def mean(values: Iterable[float]) -> float:
    data = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return sum(data) / len(data) if data else math.nan


def describe(values: Sequence[float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_p50": percentile(values, 50), f"{prefix}_p95": percentile(values, 95),
            f"{prefix}_mean": mean(values)}


def error_types(errors: Iterable[str | None]) -> str:
    counts: dict[str, int] = {}
    for name in errors:
        if isinstance(name, str) and name:
            counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name} x{count}" for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def summarize(records: pd.DataFrame, labels: Sequence[str], *, prices: Mapping[str, Price],
              providers: Mapping[str, Any] | None = None,
              busy_s: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per label from the measured (non-warm-up) records."""
    providers = providers or {}
    busy_s = busy_s or {}
    rows = {}
    measured = records[~records["warmup"]] if len(records) else records
    for label in labels:
        mine = measured[measured["provider"] == label] if len(measured) else measured
        ok = mine[mine["error"].isna()] if len(mine) else mine
        row: dict[str, Any] = {
            "calls": int(len(mine)),
            "errors": int(mine["error"].notna().sum()) if len(mine) else 0,
            "error_types": error_types(mine["error"]) if len(mine) else "",
        }
        for column, prefix in (("ttft_s", "ttft_s"), ("latency_s", "latency_s"),
                               ("tokens_per_s", "tokens_per_s")):
            row.update(describe(list(ok[column]) if len(ok) else [], prefix))
        row["input_tokens"] = int(ok["input_tokens"].sum()) if len(ok) else 0
        row["output_tokens"] = int(ok["output_tokens"].sum()) if len(ok) else 0
        row["tokens_estimated"] = bool(ok["tokens_estimated"].any()) if len(ok) else False
        row["quality"] = float(ok["passed"].astype(bool).mean()) if len(ok) else math.nan
        key, price = find_price(prices, label, providers.get(label))
        busy = float(busy_s.get(label, math.nan))
        row["cost_usd"] = cost_usd(price, input_tokens=row["input_tokens"],
                                   output_tokens=row["output_tokens"], busy_s=busy)
        row["price"] = _describe_price(key, price)
        row["busy_s"] = busy
        rows[label] = row
    summary = pd.DataFrame.from_dict(rows, orient="index", columns=SUMMARY_COLUMNS)
    summary.index.name = "provider"
    return summary


def _describe_price(key: str | None, price: Price | None) -> str:
    if price is None:
        return "no price"
    if price.per_hour:
        return f"{key}: ${price.per_hour:g}/hour"
    return f"{key}: ${price.input_per_1m:g} in / ${price.output_per_1m:g} out per 1M"


def quality_by_check(records: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Fraction passed per provider (rows) and check type (columns), plus ``overall``.

    Only answered, measured calls count; a check type a provider never answered is NaN.
    """
    measured = records[~records["warmup"] & records["error"].isna()] if len(records) else records
    checks = sorted(set(records["check"])) if len(records) else []
    table = pd.DataFrame(index=pd.Index(list(labels), name="provider"),
                         columns=[*checks, "overall"], dtype=float)
    for label in labels:
        mine = measured[measured["provider"] == label] if len(measured) else measured
        for check in checks:
            part = mine[mine["check"] == check]
            table.loc[label, check] = float(part["passed"].astype(bool).mean()) if len(part) else math.nan
        table.loc[label, "overall"] = float(mine["passed"].astype(bool).mean()) if len(mine) else math.nan
    return table


def errors_by_type(records: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Count of measured calls per provider (rows) and exception class (columns)."""
    measured = records[~records["warmup"] & records["error"].notna()] if len(records) else records
    if not len(measured):
        return pd.DataFrame(index=pd.Index(list(labels), name="provider"))
    table = pd.crosstab(measured["provider"], measured["error"]).reindex(list(labels), fill_value=0)
    table.index.name, table.columns.name = "provider", None
    return table


__all__ = ["SUMMARY_COLUMNS", "describe", "error_types", "errors_by_type", "mean", "percentile",
           "quality_by_check", "summarize"]
