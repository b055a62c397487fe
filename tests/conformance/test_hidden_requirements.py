"""What grading grades, the checker shows: for each hidden test of exercises 09 and 12, a
provider that breaks exactly that requirement fails a visible check, with a hint.

A hidden test may use other data than the visible checks (other statuses, its own prompt),
never another requirement: a student who sees every row green must not lose points. The
classes are in ``student_providers.py``; each differs from a correct one in one thing.
"""

from __future__ import annotations

import asyncio
import re

import nbformat
import pytest

from workbook.ai import AISettings, Message, errors
from workbook.ai.providers.lmstudio import LMStudioProvider
from workbook.conformance import check_provider
from workbook.instructor.course import SOURCE

ROOT = SOURCE.parents[1]

from . import student_providers as students

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
OWN = students.LLAMACPP_HINTS
EXTRA = students.LLAMACPP_FIELDS


def solution_class(exercise: str, class_name: str, namespace: dict) -> type:
    """The class exactly as the exercise's solution notebook writes it (its cell, executed)."""
    path = ROOT / "notebooks" / "solutions" / f"{exercise}_solution.ipynb"
    cell = next(c for c in nbformat.read(path, as_version=4).cells
                if c.cell_type == "code" and f"class {class_name}" in c.source)
    exec(cell.source, namespace)  # noqa: S102 - the course's own solution
    return namespace[class_name]


def bedrock_solution() -> type:
    import time
    from typing import AsyncIterator

    import boto3
    import botocore.exceptions
    from botocore.config import Config

    from workbook.ai import ChatResponse, Usage
    from workbook.ai.catalog import default_model, inference_profile_id
    from workbook.conformance.blocking import iterate_in_thread

    return solution_class(EXERCISE_10, "BedrockConverseProvider", {
        "asyncio": asyncio, "time": time, "AsyncIterator": AsyncIterator, "boto3": boto3,
        "botocore": botocore, "Config": Config, "AISettings": AISettings, "ChatResponse": ChatResponse,
        "Message": Message, "Usage": Usage, "errors": errors, "default_model": default_model,
        "inference_profile_id": inference_profile_id,
        "iterate_in_thread": iterate_in_thread})


def bedrock_without_fallback() -> type:
    """The solution's Bedrock class, but its _error forgets "anything else": a code it does not
    list (AccessDeniedException, ValidationException) gives None."""
    import botocore.exceptions

    solution = bedrock_solution()

    def _error(self, error):
        code = error.response["Error"]["Code"] if isinstance(error, botocore.exceptions.ClientError) else ""
        known = ("UnrecognizedClientException", "ThrottlingException", "InternalServerException",
                 "ResourceNotFoundException")
        listed = ("model identifier is invalid", "on-demand throughput")  # messages it maps by their text
        if code in known or any(text in str(error) for text in listed) or not code:
            return solution._error(self, error)
        return None

    return type("BedrockWithoutFallback", (solution,), {"_error": _error})


def bedrock_logs_in_for_a_refused_permission() -> type:
    """The solution's Bedrock class, but AccessDeniedException gets the hint of refused
    credentials (`aws sso login`): the fix for another failure (notebook 02's table)."""
    import botocore.exceptions

    solution = bedrock_solution()

    def _error(self, error):
        mapped = solution._error(self, error)
        if isinstance(error, botocore.exceptions.ClientError) and \
                error.response["Error"]["Code"] == "AccessDeniedException":
            refused = botocore.exceptions.ClientError(
                {"Error": {"Code": "UnrecognizedClientException", "Message": "refused"}}, "Converse")
            return errors.AuthenticationError(mapped.message, provider=self.name,
                                              hint=solution._error(self, refused).hint)
        return mapped

    return type("BedrockLogsInForAPermission", (solution,), {"_error": _error})


def hidden_tests() -> dict[tuple[str, str], tuple[list[str], str]]:
    """(exercise, grade_id) -> (the checks its visible part requires, its hidden code)."""
    found = {}
    for folder in sorted(SOURCE.iterdir()):
        path = folder / f"{folder.name}.ipynb"
        if not path.is_file():
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            grading = cell.metadata.get("nbgrader", {})
            if grading.get("grade") and HIDDEN_BEGIN in cell.source:
                visible, _, rest = cell.source.partition(HIDDEN_BEGIN)
                names = [n for call in re.findall(r"require\((.*?)\)", visible, re.S)
                         for n in re.findall(r'"([^"]+)"', call)]
                found[(folder.name, grading["grade_id"])] = (names, rest.partition(HIDDEN_END)[0])
    return found


# (exercise, grade_id) -> for each requirement its hidden test checks: a provider breaking
# only that one, the checker's arguments, and the visible row that must fail.
EXERCISE_09, EXERCISE_10, EXERCISE_12 = ("09_exercise_ollama_provider", "10_exercise_bedrock",
                                         "12_exercise_lmstudio")
OLLAMA = {"protocol": "ollama"}
LLAMACPP = {"protocol": "openai", "extra_fields": EXTRA}
HINTED_ROWS = ("bad key → AuthenticationError", "unknown model → ModelNotFoundError",
               "unreachable server → ProviderUnavailableError")  # each takes a hint from `hints`
VIOLATIONS = {
    (EXERCISE_09, "errors"): [
        ("404 hint without `ollama pull`", students.NoPullHint, OLLAMA,
         "unknown model → ModelNotFoundError", "ollama pull"),
        ("another status is no typed error", students.NoFallbackError, OLLAMA,
         "500 exhausted → ProviderError", "validation"),
    ],
    (EXERCISE_10, "errors"): [
        ("a code it does not list is no typed error", bedrock_without_fallback, {"protocol": "bedrock"},
         ("bad key → AuthenticationError", "500 exhausted → ProviderError"), "access_denied"),
        ("AccessDeniedException with the credentials' hint", bedrock_logs_in_for_a_refused_permission,
         {"protocol": "bedrock"}, "bad key → AuthenticationError", "IAM"),
    ],
    (EXERCISE_12, "hints"): [
        ("no hints at all", students.llamacpp_with_hints({}), LLAMACPP, HINTED_ROWS, "default"),
        ("LM Studio's hints", students.llamacpp_with_hints(dict(LMStudioProvider.hints)), LLAMACPP,
         HINTED_ROWS, "LMStudioProvider"),
        ("a hint still a TODO", students.llamacpp_with_hints({**OWN, "not_found": "TODO"}), LLAMACPP,
         "unknown model → ModelNotFoundError", "TODO"),
        ("the parent's hint for a server that is not there",
         students.llamacpp_with_hints({**OWN, "unavailable": students.OpenAIProvider.hints["unavailable"]}),
         LLAMACPP, "unreachable server → ProviderUnavailableError", "OpenAIProvider"),
    ],
    (EXERCISE_12, "request"): [
        ("no extra_body", students.NoExtraBody, LLAMACPP, "request fields", "cache_prompt"),
    ],
}


def test_every_hidden_test_has_its_violations_listed():
    """A hidden test added to an exercise needs its cases here, so this file keeps up."""
    assert set(hidden_tests()) == set(VIOLATIONS)


def test_each_violation_is_a_row_its_graded_cell_requires():
    hidden = hidden_tests()
    for key, cases in VIOLATIONS.items():
        required, _ = hidden[key]
        for label, _, _, row, _ in cases:
            for name in (row,) if isinstance(row, str) else row:
                assert name in required, f"{key} ({label}): {name!r} is not among {required}: no points"


CASES = [(key, *case) for key, cases in VIOLATIONS.items() for case in cases]


@pytest.mark.parametrize("key, label, provider, options, row, words", CASES,
                         ids=[f"{key[1]}-{case[0]}" for key, *case in CASES])
def test_a_provider_breaking_one_hidden_requirement_fails_a_visible_check(
        emu, key, label, provider, options, row, words):
    if not isinstance(provider, type):
        provider = provider()  # built here: it reads a solution notebook
    report = check_provider(provider, emulator=emu, **options)
    rows = (row,) if isinstance(row, str) else row
    for name in rows:
        check = report[name]
        assert check.passed is False, f"{label}: {name} passed ({check.detail})"
        assert check.hint, f"{label}: {name} failed without a hint"
    first = report[rows[0]]
    assert words in first.detail + first.hint, (label, first.detail, first.hint)
    others = [c.name for c in report.failed if c.name not in rows]
    assert not others, f"{label}: only {rows} should fail, also failed: {others}"


@pytest.mark.parametrize("provider, options", [(students.StudentOllama, OLLAMA),
                                               (bedrock_solution, {"protocol": "bedrock"}),
                                               (students.StudentLlamaCpp, LLAMACPP)],
                         ids=["09", "10", "12"])
def test_the_correct_providers_pass_every_check(emu, provider, options):
    if not isinstance(provider, type):
        provider = provider()
    report = check_provider(provider, emulator=emu, **options)
    assert report.passed, str(report)


def test_the_correct_providers_pass_the_hidden_tests_too():
    """The same classes pass the hidden code's assertions (run here as the grader runs it)."""
    hidden = hidden_tests()
    mine = students.StudentLlamaCpp(AISettings(provider="openai", openai_base_url="http://127.0.0.1:9/v1"))
    for grade_id in ("hints", "request"):
        exec(hidden[(EXERCISE_12, grade_id)][1],  # noqa: S102 - the exercise's own test code
             {"mine": mine, "Message": Message, "OpenAIProvider": students.OpenAIProvider})
    ollama = students.StudentOllama(AISettings(provider="ollama"))
    exec(hidden[(EXERCISE_09, "errors")][1], {"mine": ollama, "errors": errors})  # noqa: S102
    import botocore.exceptions

    bedrock = bedrock_solution()(AISettings(provider="bedrock", aws_region="us-east-1"))
    exec(hidden[(EXERCISE_10, "errors")][1], {"mine": bedrock, "errors": errors,  # noqa: S102
                                              "botocore": botocore})


def test_swapped_token_counts_fail_the_usage_check(emu):
    check = check_provider(students.SwapsUsage, emulator=emu, protocol="ollama")["usage reported"]
    assert check.passed is False and "swapped" in check.detail and "eval_count" in check.hint


def test_an_unfinished_subclass_says_not_implemented_not_retry(emu):
    """12's stub: the TODO's NotImplementedError reaches the student as itself."""
    provider = students.LlamaCppStub(emu.settings("openai"))
    with pytest.raises(NotImplementedError, match="TODO: write this part"):
        asyncio.run(provider.chat([Message("user", "Hi.")], max_tokens=8))
    report = check_provider(students.LlamaCppStub, emulator=emu, **LLAMACPP)
    for row in ("bad key → AuthenticationError", "request fields"):
        assert report[row].passed is False and "not implemented yet" in report[row].detail


@pytest.mark.parametrize("openai_api", ["chat_completions", "responses"])
def test_exercise_12s_request_hook_is_sent_under_either_openai_api(emu, openai_api):
    """The hook exercise 12 has students override, ``_request``, is what either API sends: the
    solution's class gets cache_prompt to the server, and the parent's request alone does not."""
    solution = solution_class(EXERCISE_12, "LlamaCppServerProvider",
                              {"OpenAIProvider": students.OpenAIProvider, "Message": Message})
    report = check_provider(solution, emulator=emu, openai_api=openai_api, **LLAMACPP)
    assert report.passed, str(report)
    without = check_provider(students.NoExtraBody, emulator=emu, openai_api=openai_api, **LLAMACPP)
    assert without["request fields"].passed is False and "cache_prompt" in without["request fields"].detail, \
        without["request fields"].detail


def test_bedrocks_on_demand_refusal_is_checked_as_a_model_error(emu):
    """Notebook 02's rule: "on-demand throughput isn't supported" is a ModelNotFoundError; an
    _error that sends it to "anything else" fails the unknown-model row."""
    solution = bedrock_solution()

    def _error(self, error):
        if "on-demand throughput" in str(error):
            return errors.ProviderError(str(error), provider=self.name, hint="Read the message.")
        return solution._error(self, error)

    generic = type("BedrockOnDemandAsAnythingElse", (solution,), {"_error": _error})
    row = "unknown model → ModelNotFoundError"
    failed = check_provider(generic, emulator=emu, protocol="bedrock")[row]
    assert failed.passed is False and "needs_inference_profile" in failed.detail, failed
    assert "on-demand" in failed.hint
    passed = check_provider(solution, emulator=emu, protocol="bedrock")[row]
    assert passed.passed and "needs_inference_profile too: raised ModelNotFoundError" in passed.detail, passed
