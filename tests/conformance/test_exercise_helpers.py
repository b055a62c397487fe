"""What the package writes so an exercise's student does not: the Bedrock ``.env`` check
(exercise 10, part 1) and reading a blocking iterator from async code (ConverseStream)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from workbook.ai.catalog import default_model
from workbook.conformance.bedrock_setup import check_bedrock_env, settings_from_block
from workbook.conformance.blocking import iterate_in_thread
from workbook.emulator.aws import emulator_credentials

MODEL = default_model("bedrock")  # the catalogue's current model, which the emulator serves
GOOD_BLOCK = f"AI__PROVIDER=bedrock\nAI__AWS_REGION=us-east-1\nAI__MODEL={MODEL}\n"


async def test_a_right_block_passes_and_makes_a_test_call(emu):
    with emulator_credentials(emu.env("bedrock")):
        report = await check_bedrock_env(GOOD_BLOCK, endpoint_url=emu.url)
    assert report.passed, str(report)
    assert report["test call"].detail.startswith("the emulator answered")
    assert "[… its first 50 characters]" in report["test call"].detail  # the scripted reply is longer
    assert [r.path for r in emu.requests if r.protocol == "bedrock"], "no call reached the emulator"


async def test_each_wrong_step_fails_with_a_hint_and_no_call_is_made(emu):
    block = ("AI__PROVIDER=openai\nAI__AWS_REGION=TODO\nAI__MODEL=TODO\n"
             "AWS_SECRET_ACCESS_KEY=abc\n")
    with emulator_credentials(emu.env("bedrock")):
        report = await check_bedrock_env(block, endpoint_url=emu.url)
    failed = {c.name: c for c in report.failed}
    assert set(failed) == {"AI__PROVIDER", "AI__AWS_REGION", "AI__MODEL", "no secrets in .env",
                           "test call"}, str(report)
    assert all(c.hint for c in failed.values())
    assert "AWS_SECRET_ACCESS_KEY" in failed["no secrets in .env"].detail
    assert "abc" not in report.to_markdown()
    assert not [r for r in emu.requests if r.protocol == "bedrock"]


async def test_an_unknown_model_is_reported_by_the_test_call(emu):
    block = GOOD_BLOCK.replace(MODEL, "amazon.no-such-model-v9:0")
    with emulator_credentials(emu.env("bedrock")):
        report = await check_bedrock_env(block, endpoint_url=emu.url)
    call = report["test call"]
    assert call.passed is False and "ModelNotFoundError" in call.detail and call.hint


async def test_items_arrive_in_order_and_the_loop_keeps_running():
    def slow():
        for n in range(5):
            time.sleep(0.05)  # blocking, as boto3's event stream is
            yield n

    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.ensure_future(ticker())
    items = [item async for item in iterate_in_thread(slow)]
    task.cancel()
    assert items == [0, 1, 2, 3, 4]
    assert ticks > 5, "the event loop was blocked while the iterator was read"


async def test_an_error_while_reading_reaches_the_consumer_as_raised():
    def breaks():
        yield "first"
        raise ConnectionResetError("cut")

    seen = []
    with pytest.raises(ConnectionResetError):
        async for item in iterate_in_thread(breaks):
            seen.append(item)
    assert seen == ["first"]


async def test_a_consumer_that_stops_early_closes_the_iterator():
    closed = threading.Event()

    def endless():
        try:
            while True:
                time.sleep(0.01)
                yield "more"
        finally:
            closed.set()

    async for _ in iterate_in_thread(endless):
        break
    assert await asyncio.to_thread(closed.wait, 5), "the reading thread never stopped"


def test_a_block_becomes_settings_once_it_is_valid():
    assert settings_from_block(GOOD_BLOCK).model == MODEL
    assert settings_from_block("AI__PROVIDER=bedrock\nAI__TIMEOUT_S=soon\n") is None


def test_require_passes_quietly_and_fails_with_each_rows_detail_and_hint():
    from workbook.conformance import CheckResult, ConformanceReport

    report = ConformanceReport("Mine", "ollama", [
        CheckResult("has chat and chat_stream", True, "ok"),
        CheckResult("round trip", True, "ok"),
        CheckResult("usage reported", False, "usage is None", "Fill Usage(...)."),
        CheckResult("retry after 429 succeeds", None, "skipped: needs settings"),
    ])
    assert report.require("round trip") == "✓ round trip"
    with pytest.raises(AssertionError) as failed:
        report.require("round trip", "usage reported", "retry after 429 succeeds", "cut stream → error")
    message = str(failed.value)
    assert "✗ usage reported: usage is None.\n  Hint: Fill Usage(...)." in message
    assert "✗ retry after 429 succeeds: skipped: needs settings." in message
    assert "✗ cut stream → error: not checked (the checker stopped after 'usage reported' failed" in message
    assert "round trip" not in message
    with pytest.raises(AssertionError, match="usage reported"):
        report.require()  # no names: every row
