"""Metric arithmetic on known inputs: percentiles, tokens/s, cost, the summary table."""

import math

import pytest

from workbook.compare.metrics import error_types, percentile, quality_by_check, summarize
from workbook.ai import catalog
from workbook.compare.prices import DEFAULT_PRICES, Price, cost_usd, find_price, normalise_prices, price_table
from workbook.compare.result import records_frame
from workbook.compare.runner import CallRecord, decode_rate, estimate_tokens


def test_percentile_interpolates_linearly_like_numpy():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 10
    assert percentile([3.0], 95) == 3.0


def test_percentile_ignores_nan_and_is_nan_when_empty():
    assert percentile([1.0, math.nan, 3.0], 50) == pytest.approx(2.0)
    assert math.isnan(percentile([], 50))
    assert math.isnan(percentile([math.nan], 50))
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_decode_rate_counts_tokens_after_the_first():
    # 11 tokens: the first at 0.2 s, the other 10 arrive over the next 0.5 s -> 20 tokens/s.
    assert decode_rate(11, ttft_s=0.2, latency_s=0.7) == pytest.approx(20.0)
    assert math.isnan(decode_rate(1, ttft_s=0.2, latency_s=0.7))  # one token: no rate
    assert math.isnan(decode_rate(5, ttft_s=0.5, latency_s=0.5))  # no decode time
    assert math.isnan(decode_rate(5, ttft_s=math.nan, latency_s=0.5))


def test_estimate_tokens_is_four_characters_per_token():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_cost_per_token_and_per_hour():
    api = Price(input_per_1m=0.15, output_per_1m=0.60)
    assert cost_usd(api, input_tokens=1_000_000, output_tokens=500_000, busy_s=99) == pytest.approx(0.45)
    hosted = Price(per_hour=0.72)
    # 0.72 $/h for 50 s busy = 0.01 $, whatever the token counts
    assert cost_usd(hosted, input_tokens=10, output_tokens=10, busy_s=50) == pytest.approx(0.01)
    assert math.isnan(cost_usd(None, input_tokens=1, output_tokens=1, busy_s=1))


def test_price_lookup_label_then_model_then_name():
    class P:
        name, model = "openai", catalog.default_model("openai")

    prices = normalise_prices({"mine": Price(1, 2)})
    assert find_price(prices, "mine", P())[0] == "mine"
    assert find_price(prices, "other", P())[0] == catalog.default_model("openai")
    assert find_price(normalise_prices(), "x", type("Q", (), {"name": "openai"})())[0] == "openai"
    assert find_price(prices, "x", object()) == (None, None)


def test_price_table_round_trips_as_editable_dataframe():
    table = price_table()
    assert set(DEFAULT_PRICES) <= set(table.index)
    # Every price says where it comes from: a dated catalogue entry, or an illustrative rate.
    assert all("verified on" in note or "illustrative" in note for note in table["note"])
    assert "mock" not in table.index, "a scripted reply is unpriced, not free: its cost reads —"
    model = catalog.default_model("bedrock")
    table.loc[model, "output_per_1m"] = 9.0
    assert normalise_prices(table)[model].output_per_1m == 9.0


def test_api_prices_are_the_catalogues():
    for provider in ("bedrock", "openai", "azure_openai"):
        listed = catalog.price(provider, catalog.default_model(provider))
        assert (DEFAULT_PRICES[provider].input_per_1m, DEFAULT_PRICES[provider].output_per_1m) == \
            (listed.input_per_1m, listed.output_per_1m)


def _record(provider, ttft, latency, out, *, error=None, passed=True, check="contains", warmup=False):
    return CallRecord(
        provider=provider, case_id="c", category="", check=check, run=-1 if warmup else 0,
        warmup=warmup, started_s=0.0, ttft_s=ttft, latency_s=latency, input_tokens=10,
        output_tokens=out, tokens_estimated=False, tokens_per_s=decode_rate(out, ttft, latency),
        chunks=out, passed=None if error else passed, error=error, error_message=error,
        answer="", finish_reason="stop")


def test_summary_on_known_records():
    records = records_frame([
        _record("a", 9.0, 9.0, 2, warmup=True),  # excluded
        _record("a", 0.1, 0.6, 11),
        _record("a", 0.3, 0.8, 11, passed=False, check="number"),
        _record("a", math.nan, math.nan, 0, error="RateLimitError"),
        _record("b", 0.2, 1.2, 51),
    ])
    summary = summarize(records, ["a", "b"], prices={"a": Price(1.0, 2.0)},
                        busy_s={"a": 2.0, "b": 1.2})
    a = summary.loc["a"]
    assert a["calls"] == 3 and a["errors"] == 1 and a["error_types"] == "RateLimitError x1"
    assert a["ttft_s_p50"] == pytest.approx(0.2) and a["ttft_s_mean"] == pytest.approx(0.2)
    assert a["latency_s_p95"] == pytest.approx(0.79)
    assert a["tokens_per_s_p50"] == pytest.approx(20.0)
    assert a["input_tokens"] == 20 and a["output_tokens"] == 22
    assert a["quality"] == pytest.approx(0.5)
    assert a["cost_usd"] == pytest.approx((20 * 1.0 + 22 * 2.0) / 1e6)
    assert summary.loc["b", "tokens_per_s_p50"] == pytest.approx(50.0)
    assert math.isnan(summary.loc["b", "cost_usd"]) and summary.loc["b", "price"] == "no price"
    by_check = quality_by_check(records, ["a", "b"])
    assert by_check.loc["a", "contains"] == 1.0 and by_check.loc["a", "number"] == 0.0
    assert math.isnan(by_check.loc["b", "number"]) and by_check.loc["a", "overall"] == 0.5


def test_error_types_sorted_by_count():
    assert error_types([None, "B", "A", "B"]) == "B x2, A x1"
    assert error_types([None]) == ""
