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

The serving metrics, as vLLM's ``vllm bench serve`` defines them:

``ttft_s_p99``, ``latency_s_p99``   the slow end of time to first token and latency
``tpot_s_p50/p99``   time per output token after the first: (latency - ttft) / (tokens - 1)
``itl_s_p50/p99``    inter-token latency: every gap between two streamed chunks, all calls pooled
``throughput_tok_s`` output tokens of the answered calls / ``busy_s`` (the server's aggregate rate)
``requests_per_s``   answered calls / ``busy_s``
``quality_ci_low/high``, ``latency_s_p50_ci_low/high``   95% confidence interval over the
                     ``runs`` repetitions (Student's t on the per-run values; NaN below 2 runs)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from .prices import Price, cost_usd, find_price

@dataclass(frozen=True)
class SummaryRow:
    """One provider's row of the summary. ``summarize`` fills it by keyword: a figure it
    computes that is not a field here (or a field it does not compute) is a TypeError,
    never a column pandas silently drops."""

    calls: int
    errors: int
    error_types: str
    ttft_s_p50: float
    ttft_s_p95: float
    ttft_s_mean: float
    latency_s_p50: float
    latency_s_p95: float
    latency_s_mean: float
    tokens_per_s_p50: float
    tokens_per_s_p95: float
    tokens_per_s_mean: float
    input_tokens: int
    output_tokens: int
    tokens_estimated: bool
    quality: float
    cost_usd: float
    price: str
    busy_s: float
    ttft_s_p99: float
    latency_s_p99: float
    tpot_s_p50: float
    tpot_s_p99: float
    itl_s_p50: float
    itl_s_p99: float
    throughput_tok_s: float
    requests_per_s: float
    quality_ci_low: float
    quality_ci_high: float
    latency_s_p50_ci_low: float
    latency_s_p50_ci_high: float


SUMMARY_COLUMNS = [item.name for item in fields(SummaryRow)]

# What a serving benchmark reports per metric (vLLM prints mean, median and p99; GuideLLM p90).
SERVING_METRICS = ("ttft_s", "tpot_s", "itl_s", "latency_s", "tokens_per_s")
SERVING_STATS = (("p50", 50), ("p90", 90), ("p99", 99))


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
        row.update(serving_summary(ok, busy))
        row.update(run_intervals(ok))
        rows[label] = asdict(SummaryRow(**row))
    summary = pd.DataFrame.from_dict(rows, orient="index", columns=SUMMARY_COLUMNS)
    summary.index.name = "provider"
    return summary


def all_gaps(itl_lists: Iterable) -> list[float]:
    """Every inter-token gap of every call, pooled (vLLM's ITL percentiles are over gaps)."""
    return [gap for gaps in itl_lists if isinstance(gaps, (list, tuple)) for gap in gaps]


def serving_stats(records: pd.DataFrame) -> dict[str, float]:
    """p50, p90, p99 and mean of each of ``SERVING_METRICS`` over answered ``records``."""
    stats: dict[str, float] = {}
    for metric in SERVING_METRICS:
        if metric == "itl_s":
            values = all_gaps(records["itl_s"]) if len(records) else []
        else:
            values = list(records[metric]) if len(records) else []
        for name, q in SERVING_STATS:
            stats[f"{metric}_{name}"] = percentile(values, q)
        stats[f"{metric}_mean"] = mean(values)
    return stats


def serving_summary(ok: pd.DataFrame, wall_s: float) -> dict[str, float]:
    """The summary's serving columns from answered calls measured over ``wall_s`` seconds."""
    stats = serving_stats(ok)
    has_wall = wall_s and math.isfinite(wall_s) and wall_s > 0
    return {
        **{name: stats[name] for name in ("ttft_s_p99", "latency_s_p99", "tpot_s_p50",
                                          "tpot_s_p99", "itl_s_p50", "itl_s_p99")},
        "throughput_tok_s": float(ok["output_tokens"].sum()) / wall_s if has_wall else math.nan,
        "requests_per_s": len(ok) / wall_s if has_wall else math.nan,
    }


# Two-sided 95% Student's t quantiles by degrees of freedom (1.96 beyond the table).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def confidence_interval(values: Sequence[float]) -> tuple[float, float]:
    """95% interval for the mean of ``values`` (Student's t); NaNs ignored; NaN below two."""
    data = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(data)
    if n < 2:
        return math.nan, math.nan
    centre = sum(data) / n
    sd = math.sqrt(sum((v - centre) ** 2 for v in data) / (n - 1))
    df = n - 1
    t = _T95.get(df) or next((_T95[k] for k in sorted(_T95) if k >= df), 1.96)
    half = t * sd / math.sqrt(n)
    return centre - half, centre + half


def run_intervals(ok: pd.DataFrame) -> dict[str, float]:
    """Confidence intervals for quality and p50 latency from the per-run values: each run
    (one pass over the cases) gives one quality and one p50; their spread is the noise."""
    per_run = ok.groupby("run") if len(ok) else None
    qualities = [float(g["passed"].astype(bool).mean()) for _, g in per_run] if per_run else []
    medians = [percentile(g["latency_s"], 50) for _, g in per_run] if per_run else []
    q_low, q_high = confidence_interval(qualities)
    l_low, l_high = confidence_interval(medians)
    return {"quality_ci_low": max(0.0, q_low) if not math.isnan(q_low) else q_low,
            "quality_ci_high": min(1.0, q_high) if not math.isnan(q_high) else q_high,
            "latency_s_p50_ci_low": l_low, "latency_s_p50_ci_high": l_high}


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


__all__ = ["SERVING_METRICS", "SUMMARY_COLUMNS", "SummaryRow", "all_gaps", "confidence_interval",
           "serving_stats", "serving_summary", "describe", "error_types", "errors_by_type", "mean", "percentile",
           "quality_by_check", "summarize"]
