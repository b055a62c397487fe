"""What a pull request carries: the checker's report and a comparison as Markdown, and the
``pr_evidence.md`` an exercise writes (secrets masked, the module's four parts present)."""

from __future__ import annotations

import re

from pathlib import Path

import pytest

from workbook.ai import AISettings, Message, create_ai_provider
from workbook.compare import Case, run_comparison_async
from workbook.conformance import CheckResult, ConformanceReport, check_provider
from workbook.course.backends import SCRIPTED
from workbook.course.evidence import (SAMPLE_MAX_TOKENS, evidence_markdown, evidence_path, timing_sample,
                                      write_evidence)
from workbook.markdown import table

from . import student_providers as sp

SECRET = "sk-test-" + "s3cr3t" * 5


def table_rows(markdown: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``markdown``, split into cells."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        rows.append(line[2:-2].split(" | "))
    return rows


def test_markdown_cells_escape_what_would_break_the_table():
    text = table(("a", "b"), [("x | y", "two\nlines"), (None, 3)])
    assert table_rows(text) == [["x \\| y", "two<br>lines"], ["", "3"]]
    with pytest.raises(ValueError):
        table(("a", "b"), [("only one",)])


def test_report_markdown_has_one_row_per_check_with_hints_on_failures(emu):
    report = check_provider(sp.SilentlyTruncates, protocol="ollama", emulator=emu)
    assert not report.passed and report.core_passed, str(report)
    markdown = report.to_markdown()
    assert markdown.startswith(f"**{report.summary()}**")
    rows = {row[1]: row for row in table_rows(markdown)}
    assert list(rows) == [c.name for c in report.checks]
    cut = rows["cut stream → error"]
    assert cut[0] == "✗" and cut[2] == "stretch" and "IncompleteResponseError" in cut[4]
    assert rows["round trip"][0] == "✓" and rows["round trip"][4] == ""


def test_core_and_stretch_are_counted_apart():
    report = ConformanceReport("Student", "ollama", [
        CheckResult("round trip", True, "ok"),
        CheckResult("retry after 429 succeeds", False, "1 request", "retry", level="stretch"),
    ])
    assert report.core_passed and not report.passed
    assert report.summary().endswith("(core 1/1; stretch 0/1)")
    report.checks.append(CheckResult("streams in pieces", False, "one block", "yield"))
    assert not report.core_passed


def test_a_provider_doing_what_the_module_asks_passes_the_core_only(emu):
    report = check_provider(sp.CoreOnly, protocol="ollama", emulator=emu)
    core = [c for c in report.checks if c.level == "core"]
    assert len(core) == 11 and all(c.passed for c in core), str(report)
    assert report.core_passed and not report.passed
    assert {c.name for c in report.failed} == {"cut stream → error", "retry after 429 succeeds"}
    assert all(c.level == "stretch" and c.hint for c in report.failed)


async def test_comparison_markdown_has_a_row_per_provider():
    fast = AISettings(provider="mock", mock_ttft_s=0.0, mock_tokens_per_s=10_000)
    result = await run_comparison_async(
        {"first": create_ai_provider(fast), "second | piped": create_ai_provider(fast)},
        [Case("What is the capital of France?", "contains", "Paris", id="capital")],
        runs=1, warmup=0, progress=False)
    markdown = result.to_markdown()
    figures = table_rows(markdown)
    assert [row[0] for row in figures] == ["first", "second \\| piped"]
    assert len(figures[0]) == 1 + len(result.table().columns)
    assert "Quality by check type" in markdown and "estimated from list prices" in markdown
    assert "no price, not a measured zero" in markdown, "an unpriced provider's cost is a dash, said so"
    assert "2 calls: 2 provider(s) x (1 case(s) x 1 run(s) + 0 warm-up)" in markdown, "the call count is explained"


async def evidence_for(settings: AISettings, report) -> str:
    provider = create_ai_provider(AISettings(provider="mock", mock_ttft_s=0.0,
                                             mock_tokens_per_s=10_000))
    timing = await timing_sample(provider)
    return evidence_markdown(title="Add my provider", provider="`my_openai` (MyProvider)",
                             settings=settings, report=report, timing=timing, where="the mock")


async def test_evidence_has_the_modules_four_parts_and_no_secret():
    settings = AISettings(provider="openai", model="gpt-test", openai_api_key=SECRET,
                          openai_base_url="http://127.0.0.1:9/v1")
    leaked = ConformanceReport("MyProvider", "openai", [
        CheckResult("bad key → AuthenticationError", False, f"raised with key {SECRET}", "map 401")])
    text = await evidence_for(settings, leaked)
    assert SECRET not in text and "**********" in text
    for heading in ("## Provider", "## Configuration (secrets masked)", "## Conformance checker",
                    "## Timing sample (the mock)", "## Challenges"):
        assert heading in text, heading
    config = dict(table_rows(text.split("## Configuration")[1]))
    assert config["AI__OPENAI_API_KEY"] == "`**********`"
    assert config["AI__MODEL"] == "`gpt-test`" and "AI__AZURE_OPENAI_API_VERSION" not in config
    timing = dict(table_rows(text.split("## Timing sample")[1]))
    assert timing["pieces streamed"] != "0" and timing["time to first token"].endswith(("ms", "s"))


async def test_evidence_is_written_where_asked(tmp_path):
    report = ConformanceReport("P", "ollama", [CheckResult("round trip", True, "ok")])
    path = write_evidence(tmp_path / "out" / "pr_evidence.md", title="T", provider="p",
                          settings=AISettings(provider="mock"), report=report)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# T\n") and "every core check passes" in text
    assert "## Challenges" in text and "## Timing sample" not in text


def test_an_exercise_adds_its_own_sections_before_the_challenges():
    report = ConformanceReport("P", "bedrock", [CheckResult("round trip", True, "ok")])
    text = evidence_markdown(title="T", provider="p", settings=AISettings(provider="mock"),
                             report=report, sections={"Configuration check": "all ✓"})
    assert text.index("## Configuration check\n\nall ✓") < text.index("## Challenges")


def test_a_report_without_stretch_checks_shows_no_levels():
    report = ConformanceReport("the .env block", "bedrock", [CheckResult("AI__MODEL", True, "ok")])
    assert "core" not in report.summary()
    assert table_rows(report.to_markdown()) == [["✓", "AI__MODEL", "ok", ""]]


def test_the_evidence_goes_beside_the_notebook_unless_a_test_run_says_where(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBOOK_EVIDENCE_DIR", raising=False)
    assert evidence_path(None) == Path("pr_evidence.md")
    assert evidence_path(tmp_path / "09-emulator.result.json") == tmp_path / "09-emulator.result.pr_evidence.md"
    monkeypatch.setenv("WORKBOOK_EVIDENCE_DIR", str(tmp_path))
    assert evidence_path(None) == tmp_path / "pr_evidence.md"


class StreamsWithoutUsage:
    """A student's class: its stream is plain text, so it carries no token counts."""

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        raise NotImplementedError  # the evidence's sample streams; chat is the checker's business

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        for piece in ("A pull ", "request ", "proposes changes."):
            yield piece


async def test_the_timing_sample_says_why_its_token_count_is_estimated():
    """The checker's "usage reported" row (chat) passed, the streamed sample had none: the evidence
    says both, instead of an unexplained "estimated" beside a row saying usage was reported."""
    report = ConformanceReport("P", "openai", [CheckResult("usage reported", True, "input_tokens=4, output_tokens=16")])
    settings = AISettings(provider="mock")
    estimated = evidence_markdown(title="T", provider="p", settings=settings, report=report,
                                  timing=await timing_sample(StreamsWithoutUsage()))
    assert "(estimated: chat_stream passed on no usage; characters / 4)" in estimated
    assert "“usage reported” row passed" in estimated and "`chat_stream` passed on no token counts" in estimated
    assert "drops them" not in estimated, "the sample says what its stream carried, not why"
    assert "| timing | value |" in estimated and "| measure |" not in estimated, \
        "a sample's figures (the emulator's, the mock's) are not called measures"
    mock = create_ai_provider(AISettings(provider="mock", mock_ttft_s=0.0, mock_tokens_per_s=10_000))
    reported = evidence_markdown(title="T", provider="p", settings=settings, report=report,
                                 timing=await timing_sample(mock))
    assert "(reported by the stream)" in reported and "estimated" not in reported.split("## Timing sample")[1]


class StreamsLongWordsWithoutUsage(StreamsWithoutUsage):
    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        for _ in range(max_tokens):
            yield "characteristically "  # one token each, far more than 4 characters


async def test_an_estimate_above_max_tokens_is_shown_as_the_cap_it_cannot_exceed():
    settings = AISettings(provider="mock")
    report = ConformanceReport("P", "openai", [CheckResult("a check", True, "", "")])
    text = evidence_markdown(title="T", provider="p", settings=settings, report=report,
                             timing=await timing_sample(StreamsLongWordsWithoutUsage()))
    row = next(line for line in text.splitlines() if line.startswith("| output tokens"))
    assert f"at most {SAMPLE_MAX_TOKENS}, the sample's max_tokens" in row and "not reported" in row
    assert not re.search(r"~\d+", row), "an estimate above what any real count can be is not shown"


async def test_the_timing_samples_answer_says_where_it_came_from_and_where_it_stops():
    settings = AISettings(provider="mock", mock_ttft_s=0.0, mock_tokens_per_s=10_000)
    report = ConformanceReport("MyProvider", "openai", [CheckResult("a check", True, "", "")])
    cut = await timing_sample(create_ai_provider(settings), max_tokens=3)
    text = evidence_markdown(title="t", provider="p", settings=settings, report=report, timing=cut,
                             where="the mock, scripted")
    answer = text.split("— answer", 1)[1].split("\n", 1)[0]
    assert answer.startswith(" (from the mock, scripted): “"), "the answer is labelled where it appears"
    assert answer.endswith("[… cut here: it reached max_tokens (finish reason: length)]"), \
        "an answer max_tokens stopped says so"
    assert "nobody checked whether the answer is right" in text.split("— answer", 1)[1], \
        "a sample kept for its timing does not pass for a checked answer"
    assert "a model's speed" not in text, "a source not known to be scripted is not called scripted"
    scripted = evidence_markdown(title="t", provider="p", settings=settings, report=report, timing=cut,
                                 where=SCRIPTED)
    assert "they say nothing of a model's speed" in scripted.split("— answer", 1)[1], \
        "the times of a scripted reply are not passed off as a model's"
