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


async def test_the_emulators_dummy_keys_are_shown_but_not_counted(emu, monkeypatch):
    """Offline, the notebook lends boto3 the emulator's dummy keys: that row tests nothing of the
    student's, so it carries no ✓ and the count and ``require`` leave it out."""
    for name, value in emu.env("bedrock").items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    report = await check_bedrock_env(GOOD_BLOCK, endpoint_url=emu.url)
    row = report["credentials chain"]
    assert row.passed is None and row.mark == "–" and row.detail.startswith("not counted: the emulator's dummy keys")
    counted = [c for c in report.checks if c.passed is not None]
    assert report.passed and all(c.passed for c in counted) and len(counted) == len(report.checks) - 1
    assert report.summary().endswith(f"{len(counted)}/{len(counted)} checks passed, 1 not counted"), report.summary()
    assert "credentials chain" not in report.require()
    assert report["test call"].passed, "the dummy keys still reach the emulator: the test call is made"


async def test_real_looking_keys_are_a_counted_step(emu, monkeypatch):
    """Credentials the chain finds that are not the emulator's (live, or a student's own) are a ✓
    that counts; none at all is a ✗ with its hint."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA" + "X" * 16)  # key-shaped, built here: no key-like literal in git
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    block = GOOD_BLOCK.replace("us-east-1", "TODO")  # a step fails first: no call leaves this machine
    report = await check_bedrock_env(block, endpoint_url=None)
    row = report["credentials chain"]
    assert row.passed is True and row.detail == "found via env", row
    assert report.summary().endswith("checks passed"), "nothing left out of the count, nothing said about it"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    report = await check_bedrock_env(block, endpoint_url=None)
    row = report["credentials chain"]
    assert row.passed is False and row.detail == "none found" and "aws sso login" in row.hint


async def test_the_graded_cell_fails_in_one_line_naming_the_steps_left(emu):
    """``setup.require()`` (exercise 10's graded part-1 cell) raises, so nbgrader scores it 0, with
    one line: the steps left and where their hints are; the table above has the rest."""
    from workbook.conformance.report import NotPassedYet

    block = GOOD_BLOCK.replace("us-east-1", "TODO").replace(MODEL, "TODO")
    with emulator_credentials(emu.env("bedrock")):
        report = await check_bedrock_env(block, endpoint_url=emu.url)
    with pytest.raises(NotPassedYet) as failed:
        report.require()
    message = str(failed.value)
    assert isinstance(failed.value, AssertionError)
    assert message == ("✗ Not passed yet: AI__AWS_REGION, AI__MODEL, test call (part 1's table above "
                       "shows what each step got, and its hint)."), message
    assert failed.value._render_traceback_() == [message], "a notebook shows that one line, no traceback"
    assert {c.name for c in report.failed} == {"AI__AWS_REGION", "AI__MODEL", "test call"}
    assert all(c.hint for c in report.failed), "the table keeps each failed step's hint"


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
