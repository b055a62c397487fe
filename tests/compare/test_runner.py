"""Running comparisons: timing accuracy against the mock, failing providers, student classes."""

import asyncio
import math

import pandas as pd
import pytest

from workbook.ai import AISettings, ChatResponse, Usage, create_ai_provider
from workbook.ai.errors import RateLimitError
from workbook.ai.providers.mock import MockProvider
from workbook.compare import (
    SUMMARY_COLUMNS, Case, ComparisonResult, compare, compare_async, measure_concurrency_async,
    run_comparison, run_comparison_async,
)

CASES = [
    Case("What is the capital of France?", "contains", "Paris", id="capital"),
    Case("What is 7 + 5?", "number", 12, id="add"),
]
ANSWERS = {"capital": "The capital of France is Paris.", "add": "7 + 5 makes 12 in total."}


def key_answers(messages):
    """A reply function that answers every case right."""
    prompt = messages[-1].content
    return ANSWERS["capital"] if "France" in prompt else "12 is the answer, clearly."


def fast_mock(reply=None):
    return MockProvider(AISettings(provider="mock", mock_ttft_s=0.0, mock_tokens_per_s=10_000),
                        reply=reply)


class Flaky:
    """Raises RateLimitError on every other call; otherwise answers like the mock."""

    def __init__(self):
        self.calls = 0
        self.inner = fast_mock(key_answers)

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        return await self.inner.chat(messages, max_tokens=max_tokens, temperature=temperature)

    def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        self.calls += 1
        if self.calls % 2 == 0:
            raise RateLimitError("429 Too Many Requests", provider="flaky")
        return self.inner.chat_stream(messages, max_tokens=max_tokens, temperature=temperature)


class StudentProvider:
    """What a student writes: two methods, a plain async generator, no usage reported."""

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        text = "".join([piece async for piece in self.chat_stream(messages)])
        return ChatResponse(content=text, model="student", provider="student", usage=Usage())

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        for word in "Paris is the capital of France , and 12 is 7 + 5".split():
            await asyncio.sleep(0.001)
            yield word + " "


async def test_mock_timings_are_measured_on_the_mocks_schedule():
    # The mock never answers before its schedule (first token at 0.2 s, then 50 tokens/s), so
    # the tool's figures cannot be below it; a busy machine only adds lateness, bounded here with
    # a 5x margin. How close they come on a quiet machine is benchmarks/timing_accuracy.py's.
    mock = create_ai_provider(provider="mock", mock_ttft_s=0.2, mock_tokens_per_s=50)
    short = MockProvider(AISettings(provider="mock", mock_ttft_s=0.2, mock_tokens_per_s=50),
                         reply=lambda messages: "one two three four five six seven eight nine ten eleven")
    result = await run_comparison_async({"configured": short}, CASES, runs=2, progress=False)
    row = result.summary.loc["configured"]
    assert row["calls"] == 4 and row["errors"] == 0
    scheduled_latency = 0.2 + 10 / 50
    assert 0.2 - 0.002 <= row["ttft_s_p50"] < 5 * 0.2
    assert scheduled_latency - 0.002 <= row["latency_s_p50"] < 5 * scheduled_latency
    assert row["tokens_per_s_p50"] > 0
    assert not row["tokens_estimated"] and row["output_tokens"] == 4 * 11
    assert mock.pace.ttft_s == 0.2  # the factory-built mock has the same pace as `short`


async def test_warmup_is_recorded_but_excluded():
    result = await run_comparison_async({"m": fast_mock()}, CASES, runs=1, warmup=2, progress=False)
    assert result.records["warmup"].sum() == 2
    assert result.summary.loc["m", "calls"] == len(CASES)
    assert len(result.measured_records()) == len(CASES)


async def test_a_failing_provider_is_counted_and_does_not_stop_the_run():
    flaky = Flaky()
    result = await run_comparison_async({"good": fast_mock(key_answers), "flaky": flaky},
                                        CASES, runs=3, warmup=0, progress=False)
    summary = result.summary
    assert flaky.calls == 6
    assert summary.loc["flaky", "calls"] == 6 and summary.loc["flaky", "errors"] == 3
    assert summary.loc["flaky", "error_types"] == "RateLimitError x3"
    assert summary.loc["flaky", "quality"] == 1.0  # the answered half was right
    assert summary.loc["good", "errors"] == 0 and summary.loc["good", "quality"] == 1.0
    assert result.errors_by_type.loc["flaky", "RateLimitError"] == 3
    failed = result.records[result.records["error"].notna()]
    assert failed["passed"].isna().all() and failed["ttft_s"].isna().all()
    assert "429" in failed["error_message"].iloc[0]
    assert "RateLimitError x3" in result.to_text()


async def test_student_provider_works_and_its_tokens_are_marked_estimated():
    result = await run_comparison_async({"student": StudentProvider()}, CASES, runs=1,
                                        progress=False)
    row = result.summary.loc["student"]
    assert row["errors"] == 0 and row["quality"] == 1.0
    assert row["tokens_estimated"] and row["output_tokens"] > 0 and row["input_tokens"] > 0
    assert row["ttft_s_p50"] > 0 and row["tokens_per_s_p50"] > 0
    assert "~" in result.table().loc["student", "out tok, total"]


async def test_timeout_counts_as_an_error():
    slow = MockProvider(AISettings(provider="mock", mock_ttft_s=5.0))
    result = await run_comparison_async({"slow": slow}, CASES[:1], runs=1, warmup=0,
                                        progress=False, timeout_s=0.05)
    assert result.summary.loc["slow", "error_types"] == "TimeoutError x1"


async def test_compare_async_returns_summary_with_records_attached():
    df = await compare_async({"right": fast_mock(key_answers), "scripted": fast_mock()}, CASES,
                             runs=1, progress=False, concurrency=2)
    assert list(df.index) == ["right", "scripted"]
    assert set(SUMMARY_COLUMNS) <= set(df.columns)
    assert df.loc["right", "quality"] == 1.0 and df.loc["scripted", "quality"] == 0.0
    result = df.attrs["result"]
    assert len(result.records) == 2 * (1 + len(CASES))
    assert "overall" in result.quality_by_check.columns
    both = pd.concat([df, df.rename(index=lambda label: label + "-again")])  # attrs do not break it
    assert len(both) == 4


async def test_sync_compare_works_inside_a_running_loop():
    # As in Jupyter: a loop is running in this thread, so compare() uses a worker thread.
    df = compare({"m": fast_mock(key_answers)}, CASES, runs=1, progress=False)
    assert df.loc["m", "quality"] == 1.0


def test_sync_compare_in_a_script_and_save(tmp_path):
    result = run_comparison({"m": fast_mock(key_answers), "s": StudentProvider()}, CASES, runs=1,
                            progress=False, prices={"m": {"input_per_1m": 1.0, "output_per_1m": 2.0}})
    assert isinstance(result, ComparisonResult)
    assert result.summary.loc["m", "cost_usd"] > 0 and math.isnan(result.summary.loc["s", "cost_usd"])
    written = result.save(tmp_path)
    for name in ("summary.csv", "summary.json", "records.csv", "records.json", "latency.png",
                 "speed.png", "quality.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert list(pd.read_csv(tmp_path / "summary.csv", index_col=0).index) == ["m", "s"]
    assert set(written) >= {"summary.csv", "quality.png"}


async def test_bad_arguments_are_refused_before_any_call():
    with pytest.raises(TypeError, match="chat_stream"):
        await run_comparison_async({"x": object()}, CASES)
    with pytest.raises(TypeError):
        await run_comparison_async({}, CASES)
    with pytest.raises(ValueError, match="concurrency"):
        await run_comparison_async({"m": fast_mock()}, CASES, concurrency=0)


async def test_measure_concurrency_overlaps_an_async_provider():
    mock = MockProvider(AISettings(provider="mock", mock_ttft_s=0.05, mock_tokens_per_s=1000),
                        reply=lambda m: "short reply")
    table = await measure_concurrency_async(mock, CASES, levels=(1, 4), requests=8, progress=False)
    assert list(table.index) == [1, 4]
    assert (table["errors"] == 0).all()
    # Four in flight: about four times the requests per second, and no call waits for another.
    # Calls queued one behind another would take 2.5 times as long at the median (1, 2, 3, 4
    # turns); overlapping calls take about as long as one alone, plus what a busy CPU adds.
    assert table.loc[4, "requests_per_s"] > 2.5 * table.loc[1, "requests_per_s"]
    assert table.loc[4, "latency_s_p50"] < 1.8 * table.loc[1, "latency_s_p50"], \
        "calls at concurrency 4 took far longer than one alone: they waited for each other"
    assert len(pd.DataFrame(table.attrs["records"])) == 1 + 16
    assert len(pd.concat({"a": table, "b": table})) == 4
