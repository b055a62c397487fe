"""The serving metrics, load shapes and goodput on records whose timings are known."""

from __future__ import annotations

import asyncio
import math

import pandas as pd
import pytest

from workbook.ai import AISettings, create_ai_provider
from workbook.ai.providers.mock import MockProvider
from workbook.compare import Case, run_comparison_async
from workbook.compare.load import (
    goodput, late_arrival_async, max_load_meeting_slo, meets_slo, poisson_arrivals, run_load_async,
    sweep_async,
)
from workbook.compare.metrics import confidence_interval, serving_stats, serving_summary


def frame(rows):
    base = {"error": None, "warmup": False, "output_tokens": 5, "itl_s": []}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_tpot_itl_and_percentiles_follow_vllms_definitions():
    calls = frame([
        {"ttft_s": 0.1, "latency_s": 0.5, "tpot_s": 0.1, "tokens_per_s": 10.0, "itl_s": [0.1, 0.1]},
        {"ttft_s": 0.3, "latency_s": 1.1, "tpot_s": 0.2, "tokens_per_s": 5.0, "itl_s": [0.2, 0.6]},
    ])
    stats = serving_stats(calls)
    assert stats["ttft_s_p50"] == pytest.approx(0.2)
    assert stats["ttft_s_p99"] == pytest.approx(0.1 + 0.2 * 0.99)
    assert stats["tpot_s_mean"] == pytest.approx(0.15)
    # ITL pools every gap of every call: [0.1, 0.1, 0.2, 0.6]
    assert stats["itl_s_p50"] == pytest.approx(0.15)
    assert stats["itl_s_mean"] == pytest.approx(0.25)
    summary = serving_summary(calls, wall_s=2.0)
    assert summary["throughput_tok_s"] == pytest.approx(10 / 2.0)
    assert summary["requests_per_s"] == pytest.approx(1.0)


def test_confidence_interval_uses_students_t():
    low, high = confidence_interval([1.0, 2.0, 3.0])
    # mean 2, sd 1, n 3: t(2) = 4.303 -> 2 +- 4.303 / sqrt(3)
    assert (low, high) == pytest.approx((2 - 4.303 / math.sqrt(3), 2 + 4.303 / math.sqrt(3)))
    assert all(math.isnan(v) for v in confidence_interval([1.0]))


def test_goodput_counts_only_calls_meeting_every_objective():
    calls = frame([
        {"ttft_s": 0.1, "tpot_s": 0.05, "latency_s": 1.0},
        {"ttft_s": 2.0, "tpot_s": 0.05, "latency_s": 3.0},   # first token too late
        {"ttft_s": 0.1, "tpot_s": 0.5, "latency_s": 3.0},    # streams too slowly
        {"ttft_s": math.nan, "tpot_s": math.nan, "latency_s": math.nan, "error": "TimeoutError"},
    ])
    slo = {"ttft_s": 1.0, "tpot_s": 0.1}
    assert list(meets_slo(calls, slo)) == [True, False, False, False]
    assert goodput(calls, slo, wall_s=2.0) == {"slo_met": 0.25, "goodput_req_s": 0.5}
    with pytest.raises(ValueError, match="ttft_s"):
        meets_slo(calls, {"speed": 1})


def test_poisson_arrivals_are_seeded_and_have_the_asked_rate():
    first = poisson_arrivals(20.0, requests=2000, seed=7)
    assert first == poisson_arrivals(20.0, requests=2000, seed=7)
    assert first != poisson_arrivals(20.0, requests=2000, seed=8)
    assert len(first) == 2000 and first == sorted(first)
    assert 2000 / first[-1] == pytest.approx(20.0, rel=0.1)
    timed = poisson_arrivals(5.0, duration_s=10.0, seed=1)
    assert timed and timed[-1] <= 10.0
    with pytest.raises(ValueError):
        poisson_arrivals(5.0)


async def test_a_rate_load_starts_each_request_at_its_arrival_time():
    provider = create_ai_provider(provider="mock", mock_ttft_s=0.01, mock_tokens_per_s=2000)
    run = await run_load_async(provider, rate=20.0, requests=6, seed=3, max_tokens=8, warmup=1)
    measured = run.measured()
    assert len(measured) == 6 and run.records["warmup"].sum() == 1
    lateness = measured["started_s"] - measured["scheduled_s"]
    # Never before its arrival time, in the arrivals' order; late only by what a busy machine
    # adds (arrivals are ~50 ms apart at 20/s: 5x that bounds it).
    assert (lateness >= 0).all() and (lateness < 0.25).all(), lateness.tolist()
    assert list(measured.sort_values("scheduled_s")["started_s"]) == sorted(measured["started_s"])
    assert run.settings["load"]["shape"] == "rate" and run.settings["load"]["seed"] == 3
    assert {"measured_at", "versions", "machine", "cpus"} <= set(run.settings)


async def test_a_sweep_gives_one_row_per_level_and_the_capacity_under_an_slo():
    provider = create_ai_provider(provider="mock", mock_ttft_s=0.02, mock_tokens_per_s=500)
    table = await sweep_async(provider, concurrency=[1, 2], requests=4, max_tokens=8,
                              slo={"ttft_s": 5.0})
    assert list(table.index) == [1, 2] and table.index.name == "concurrency"
    assert {"requests_per_s", "throughput_tok_s", "tpot_s_p99", "itl_s_p50", "slo_met",
            "goodput_req_s"} <= set(table.columns)
    assert (table["requests"] == 4).all() and (table["slo_met"] == 1.0).all()
    assert max_load_meeting_slo(table) == 2
    assert max_load_meeting_slo(table, {"ttft_s": 1e-6}) is None
    assert len(pd.DataFrame(table.attrs["records"])) == 4 * 2 + 1  # plus one warm-up


async def test_the_summary_keeps_its_columns_and_adds_the_serving_ones():
    provider = create_ai_provider(provider="mock", mock_ttft_s=0.01, mock_tokens_per_s=1000)
    cases = [Case("What is 7 + 5?", "number", 12, id="add")]
    result = await run_comparison_async({"m": provider}, cases, runs=3, progress=False)
    row = result.summary.loc["m"]
    for column in ("ttft_s_p50", "tokens_per_s_p50", "ttft_s_p99", "latency_s_p99", "tpot_s_p50",
                   "tpot_s_p99", "itl_s_p50", "itl_s_p99", "throughput_tok_s", "requests_per_s",
                   "latency_s_p50_ci_low", "latency_s_p50_ci_high"):
        assert column in result.summary.columns
    assert row["tpot_s_p50"] == pytest.approx(1 / row["tokens_per_s_p50"], rel=0.05)
    assert row["latency_s_p50_ci_low"] <= row["latency_s_p50"] <= row["latency_s_p50_ci_high"]
    assert set(result.records["tokens_source"]) <= {"reported", "estimated"}
    assert result.settings["load"] == {"shape": "concurrency", "concurrency": 1}


async def test_a_load_figure_draws_throughput_and_latency_against_load():
    from workbook.compare import load_figure

    provider = create_ai_provider(provider="mock", mock_ttft_s=0.01, mock_tokens_per_s=2000)
    table = await sweep_async(provider, rate=[20.0, 40.0], requests=3, max_tokens=4)
    figure = load_figure({"mock": table})
    left, right = figure.axes
    assert "Poisson" in left.get_xlabel()
    assert [list(line.get_xdata()) for line in left.lines] == [[20.0, 40.0]]
    assert len(right.lines) == 2  # p50 and p99


class _OneAtATime:
    """A server that answers one request at a time: the rest queue behind a lock."""

    def __init__(self, inner):
        self.inner = inner
        self.lock = asyncio.Lock()

    async def chat_stream(self, messages, **options):
        async with self.lock:
            async for piece in self.inner.chat_stream(messages, **options):
                yield piece


def _long_talker():
    settings = AISettings(provider="mock", mock_ttft_s=0.02, mock_tokens_per_s=200)
    return MockProvider(settings, reply=lambda messages: "word " * 200)


async def test_the_late_question_is_first_to_finish_only_where_requests_run_together():
    # Read from the order the answers ended in: the async mock serves all five at once, so the
    # 4-token question sent 0.05 s in ends long before the 96-token answers; queued, it cannot.
    together = await late_arrival_async(_long_talker(), long_tokens=96, short_tokens=4, delay_s=0.05)
    queued = await late_arrival_async(_OneAtATime(_long_talker()), long_tokens=96, short_tokens=4,
                                      delay_s=0.05)
    assert together["finished_before_long_ones"] is True
    assert queued["finished_before_long_ones"] is False
