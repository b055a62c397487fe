"""The conformance suite: every built-in provider passes over the emulator, and broken
providers fail with the hint a student needs.

This is also the main integration test of the providers: each runs through its real SDK
against the emulator's wire protocol, faults included.
"""

from __future__ import annotations

import asyncio

import pytest

from workbook.ai.registry import get_spec, network_names, provider_factory
from workbook.conformance import check_provider, check_provider_async

from . import student_providers as sp

BUILTINS = network_names()
ALL_CHECKS = 15
STRUCTURED = "structured output (response_format)"


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_provider_passes_every_check(name, emu):
    cls = provider_factory(get_spec(name))
    report = check_provider(cls, emulator=emu)
    assert report.protocol == get_spec(name).protocol  # its wire, found from the class's `name`
    assert report.passed, str(report)
    assert len(report.checks) == ALL_CHECKS and not report.skipped, str(report)


def test_private_emulator_is_started_and_stopped():
    report = check_provider(provider_factory(get_spec("ollama")))
    assert report.passed, str(report)


async def test_async_version_runs_on_the_current_loop(emu):
    report = await check_provider_async(sp.StudentOllama, protocol="ollama", emulator=emu)
    assert report.passed, str(report)


def test_a_row_names_the_type_its_title_expects(emu):
    # The 500 row is titled "→ ProviderError" and passes a subclass: the detail names both,
    # so a reader never sees one name in the title and another in the result.
    report = check_provider(provider_factory(get_spec("ollama")), emulator=emu)
    detail = report["500 exhausted → ProviderError"].detail
    assert detail.startswith("raised ProviderUnavailableError (a ProviderError)"), detail
    assert report["bad key → AuthenticationError"].detail.startswith("raised AuthenticationError (hint"), \
        report["bad key → AuthenticationError"].detail


async def test_sync_version_works_inside_a_running_loop(emu):
    asyncio.get_running_loop()
    report = check_provider(sp.StudentOllama, protocol="ollama", emulator=emu)
    assert report.passed, str(report)


def _failed(report, name):
    check = report[name]
    assert check.passed is False, str(report)
    return check


def test_swallowed_errors_fail_the_error_checks(emu):
    report = check_provider(sp.SwallowsErrors, protocol="ollama", emulator=emu)
    assert not report.passed
    auth = _failed(report, "bad key → AuthenticationError")
    assert "swallowed" in auth.detail and "401/403" in auth.hint
    assert "404" in _failed(report, "unknown model → ModelNotFoundError").hint
    assert "429" in _failed(report, "429 exhausted → RateLimitError").hint
    _failed(report, "unreachable server → ProviderUnavailableError")
    assert report["round trip"].passed and report["streams in pieces"].passed


def test_silently_truncated_stream_fails_with_the_done_hint(emu):
    report = check_provider(sp.SilentlyTruncates, protocol="ollama", emulator=emu)
    cut = _failed(report, "cut stream → error")
    assert "swallowed" in cut.detail
    assert "done:true" in cut.hint and "IncompleteResponseError" in cut.hint
    assert [c.name for c in report.failed] == ["cut stream → error"]


def test_chat_stream_that_is_not_a_generator(emu):
    report = check_provider(sp.StreamNotAGenerator, protocol="ollama", emulator=emu)
    stream = _failed(report, "streams in pieces")
    assert "coroutine" in stream.detail
    assert "async iterator of str pieces" in stream.hint and "`yield piece`" in stream.hint


def test_raw_library_errors_are_reported_not_raised(emu):
    report = check_provider(sp.LeaksHttpxErrors, protocol="ollama", emulator=emu)
    auth = _failed(report, "bad key → AuthenticationError")
    assert "HTTPStatusError" in auth.detail and "leaked" in auth.detail
    unreachable = _failed(report, "unreachable server → ProviderUnavailableError")
    assert "ConnectError" in unreachable.detail and "ProviderUnavailableError" in unreachable.hint


def test_request_fields_in_the_wrong_place(emu):
    report = check_provider(sp.WrongFields, protocol="ollama", emulator=emu)
    fields = _failed(report, "request fields")
    assert "num_predict" in fields.detail and "options.num_predict" in fields.hint


def test_skeleton_fails_every_behaviour_check_without_a_traceback(emu):
    report = check_provider(sp.Skeleton, protocol="ollama", emulator=emu)
    assert not report.passed
    assert report["has chat and chat_stream"].passed and report["builds from settings"].passed
    round_trip = _failed(report, "round trip")
    assert "not implemented" in round_trip.detail and round_trip.hint
    behaviour = [c for c in report.checks[2:] if c.name != STRUCTURED]
    assert all(c.passed is False for c in behaviour), str(report)
    assert report[STRUCTURED].passed is None  # its chat takes no response_format: optional, skipped
    assert all(c.hint for c in report.failed)


def test_hanging_provider_fails_after_the_timeout(emu):
    # Every check whose call hangs waits the whole timeout: a short one keeps the suite quick,
    # and a call that never answers misses any bound.
    report = check_provider(sp.Hangs, protocol="ollama", emulator=emu, timeout_s=0.25)
    check = _failed(report, "round trip")
    assert "within 0.25 s" in check.detail and "timeout" in check.hint


def test_class_without_settings_skips_what_needs_control():
    report = check_provider(sp.Echo)
    assert report.protocol is None
    assert report.passed, str(report)
    assert report["round trip"].passed and report["streams in pieces"].passed
    assert report["8 concurrent calls overlap"].passed
    assert "needs a class that takes settings" in report["unreachable server → ProviderUnavailableError"].detail
    assert report["retry after 429 succeeds"].passed is None


async def test_instance_pointed_at_the_emulator_runs_the_checks_it_can(emu):
    from workbook.ai import create_ai_provider

    provider = create_ai_provider(emu.settings("ollama"))
    try:
        report = await check_provider_async(provider, emulator=emu)
    finally:
        await provider.aclose()
    assert report.passed, str(report)
    assert report["request fields"].passed and report["cut stream → error"].passed
    assert report["429 exhausted → RateLimitError"].passed is None


def test_report_renders_as_text_html_and_dataframe(emu):
    report = check_provider(sp.SilentlyTruncates, protocol="ollama", emulator=emu)
    text = str(report)
    assert "✗ cut stream" in text and "Hint:" in text and "FAILED" in text
    assert max(map(len, text.splitlines())) <= 120, "the text table fits a notebook's width: long lines wrap"
    page = report._repr_html_()
    assert "<table>" in page and "✓" in page and "done:true" in page
    frame = report.to_dataframe()
    assert list(frame.columns) == ["level", "result", "passed", "detail", "hint", "seconds"]
    assert frame.loc["cut stream → error", "passed"] == False  # noqa: E712


def test_a_settings_class_without_protocol_is_a_clear_error():
    class Nameless(sp.StudentOllama):
        name = "my_ollama"

    with pytest.raises(ValueError, match="protocol="):
        check_provider(Nameless)


def test_a_todo_inside_a_built_in_subclass_reads_as_not_implemented(emu):
    # Exercise 12's skeleton: the OpenAI provider wraps the TODO's NotImplementedError into a
    # ProviderError, which must not pass the error checks nor read as a server failure.
    from workbook.ai.providers.openai import OpenAIProvider

    class Unfinished(OpenAIProvider):
        def _request(self, messages, max_tokens, temperature):
            raise NotImplementedError("TODO core 3: _request")

    report = check_provider(Unfinished, protocol="openai", emulator=emu)
    calls = report.checks[2:]  # after the shape and build checks, every check makes a call
    assert calls and all(c.passed is False for c in calls), str(report)
    assert all("not implemented yet" in c.detail and "TODO core 3" in c.detail and c.hint
               for c in calls), str(report)


def test_a_class_is_checked_with_the_model_asked_for(emu):
    from workbook.ai.catalog import default_model

    builtin = provider_factory(get_spec("bedrock"))
    built: list[str] = []

    class Recording(builtin):
        def __init__(self, settings, **options):
            built.append(settings.model)
            super().__init__(settings, **options)

    model = default_model("bedrock")
    report = check_provider(Recording, emulator=emu, model=model)
    assert report.passed, str(report)
    assert built and set(built) == {model}, built


def test_a_provider_passing_bedrocks_own_stop_reason_fails_the_round_trip(emu):
    # Exercise 10's provider once copied stopReason as it came ("end_turn", "max_tokens"),
    # while every built-in provider says "stop" or "length".
    from dataclasses import replace

    builtin = provider_factory(get_spec("bedrock"))

    class RawStopReason(builtin):
        async def chat(self, messages, **options):
            answer = await super().chat(messages, **options)
            raw = {"stop": "end_turn", "length": "max_tokens"}[answer.finish_reason]
            return replace(answer, finish_reason=raw)

    report = check_provider(RawStopReason, emulator=emu)
    trip = _failed(report, "round trip")
    assert "end_turn" in trip.detail and "'stop'" in trip.detail, str(report)
    assert "max_tokens -> 'length'" in trip.hint, trip.hint


def test_protocol_is_a_wire_and_a_provider_name_still_means_its_wire(emu):
    from workbook.ai.registry import PROTOCOLS

    class NoMethods:  # stops at the first check: the report's protocol is all this is about
        pass

    by_wire = check_provider(NoMethods, protocol="openai", emulator=emu)
    by_name = check_provider(NoMethods, protocol="vllm", emulator=emu)  # how older notebooks call it
    assert by_wire.protocol == by_name.protocol == "openai"
    with pytest.raises(ValueError) as caught:
        check_provider(NoMethods, protocol="grpc", emulator=emu)
    assert all(wire in str(caught.value) for wire in PROTOCOLS)


# The Responses API (AI__OPENAI_API=responses): one run per wire it travels on. vllm and
# lmstudio are the openai wire's classes with other settings; their run adds nothing here.
@pytest.mark.parametrize("name", ["openai", "azure_openai"])
def test_builtin_provider_passes_every_check_over_the_responses_api(name, emu):
    report = check_provider(provider_factory(get_spec(name)), emulator=emu, openai_api="responses")
    assert report.passed, str(report)
    assert len(report.checks) == ALL_CHECKS and not report.skipped, str(report)
    # ...and its requests went to .../responses (a provider that ignores the setting fails: below).
    assert report["request fields"].detail.startswith("POST .../responses, max_output_tokens=7")


def test_a_provider_that_ignores_the_setting_fails_the_responses_run(emu):
    report = check_provider(sp.IgnoresOpenAIApi, emulator=emu, openai_api="responses")
    assert "not to the Responses API" in _failed(report, "request fields").detail
    assert "text.format" in _failed(report, STRUCTURED).detail


def test_a_hint_repeated_by_the_rows_below_is_shown_once(emu):
    """A stub fails most rows with the same hint: the table gives it once, then says "same as above"."""
    report = check_provider(sp.LlamaCppStub, protocol="openai", emulator=emu, extra_fields={"cache_prompt": False})
    failed = report.failed
    repeats = sum(a.hint == b.hint for a, b in zip(failed, failed[1:]))   # a row repeating the one above
    assert repeats, "the stub's failed rows repeat a hint"
    text = str(report)
    assert text.count("Hint: ") == len(failed) - repeats, text
    assert report._repr_html_().count("same as above") == repeats
