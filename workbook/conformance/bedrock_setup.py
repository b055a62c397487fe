"""``check_bedrock_env``: is a ``.env`` block for Bedrock right? Exercise 10, part 1.

A student writes the block (provider, region, model id); this checks it step by step and,
when everything before it is right, makes one test call through the built-in ``bedrock``
provider -- against the emulator offline, against AWS live. The answer is a
``ConformanceReport`` (one row per step, a hint on each failed one), so it renders like the
checker's report and goes into ``pr_evidence.md`` the same way. Its graded cell
(``setup.require()``) fails in one line naming the steps left: the table above it has the hints.
Offline, the emulator's dummy AWS keys are shown but not counted: they test nothing of the
student's.
"""

from __future__ import annotations

import io
import re

from ..ai import AISettings, Message, create_ai_provider, errors
from ..aio import aclose_quietly
from ..ai.catalog import default_model
from ..ai.registry import get_spec
from ..ai.settings import settings_from_mapping
from .report import CheckResult, ConformanceReport, NotPassedYet

REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
# provider.model-version, optionally behind a cross-Region inference profile prefix (us., eu., global.…)
MODEL_ID = re.compile(r"^((us|eu|apac|jp|au|ca|us-gov|global)\.)?[a-z0-9-]+\.[A-Za-z0-9.\-:]+$")


def _values(block: str) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(stream=io.StringIO(block)).items() if v is not None}


def settings_from_block(block: str) -> AISettings | None:
    """The settings a ``.env`` block describes, or ``None`` while it is not valid yet."""
    try:
        return settings_from_mapping(_values(block))
    except errors.ConfigurationError:
        return None


def _secret_names(values: dict[str, str]) -> list[str]:
    return [k for k in values if "SECRET" in k or k.endswith("_KEY") or k.startswith("AWS_")
            or "TOKEN" in k]


SHOWN = 50  # characters of the test call's reply in the report: enough to see it is a reply


class SetupReport(ConformanceReport):
    """Part 1's steps. A row not counted (``passed is None``: the emulator's dummy keys) is
    shown and left out of the count and of ``require``."""

    def require(self, *names: str):
        counted = names or tuple(c.name for c in self.checks if c.passed is not None)
        try:
            return super().require(*counted)
        except NotPassedYet as failed:   # one line: part 1's table, above, has each step's hint
            raise NotPassedYet(failed.problems, failed.names, failed.untouched,
                               f"✗ Not passed yet: {', '.join(failed.names)} (part 1's table above "
                               "shows what each step got, and its hint).") from None

    def _left_out(self, count: int) -> str:
        return f", {count} not counted" if count else ""


async def check_bedrock_env(block: str, *, endpoint_url: str | None = None) -> SetupReport:
    """Check a Bedrock ``.env`` block; ``endpoint_url`` points the test call at the emulator."""
    import boto3

    report = SetupReport("the .env block", "bedrock")

    def step(name: str, ok: bool, detail: str, hint: str) -> bool:
        report.checks.append(CheckResult(name, ok, detail, "" if ok else hint))
        return ok

    values = _values(block)
    step("AI__PROVIDER", values.get("AI__PROVIDER") == "bedrock",
         values.get("AI__PROVIDER", "(unset)"), "Set AI__PROVIDER=bedrock.")
    region, model = values.get("AI__AWS_REGION", ""), values.get("AI__MODEL", "")
    current = default_model("bedrock")
    # The same region facts the notebook prints beside the model: by its id in us-east-1, elsewhere its profile.
    ok = step("AI__AWS_REGION", bool(REGION.match(region)), region or "(unset)",
              f"A region code: us-east-1 serves {current} by its id; from another region, call it by its "
              f"inference-profile id instead (AI__MODEL, notebook 02).")
    ok &= step("AI__MODEL", bool(MODEL_ID.match(model)), model or "(unset)",
               f"A Bedrock model id such as {current}, or an inference profile id "
               "(us.…, eu.…, global.…) for models that need one (notebook 02).")
    secrets = _secret_names(values)
    ok &= step("no secrets in .env", not secrets, ", ".join(secrets) or "none",
               "Remove AWS keys from the block: credentials come from the AWS chain "
               "(`aws sso login`, AWS_PROFILE, a role).")
    credentials = boto3.Session().get_credentials()
    # Offline, the notebook itself may have put the emulator's dummy keys in the environment:
    # they test nothing of the student's, so the row says so and is not counted (no ✓, no point).
    dummy = credentials is not None and endpoint_url is not None and credentials.access_key == get_spec("bedrock").emulator_env["AWS_ACCESS_KEY_ID"]
    if dummy:
        report.checks.append(CheckResult("credentials chain", None, "not counted: the emulator's dummy keys "
                                         "(offline; set by the notebook, not yours)"))
    else:
        ok &= step("credentials chain", credentials is not None,
                   f"found via {credentials.method}" if credentials else "none found",
                   "Run `aws configure sso` then `aws sso login`, or set AWS_PROFILE.")
    if not ok:
        step("test call", False, "not attempted", "Fix the steps above first.")
        return report
    try:
        settings: AISettings = settings_from_mapping(values)
        if endpoint_url:
            settings = settings.with_(bedrock_endpoint_url=endpoint_url)
        provider = create_ai_provider(settings)
        try:
            reply = await provider.chat([Message("user", "Hello, Bedrock!")], max_tokens=20)
        finally:
            await aclose_quietly(provider, 2)
        text = " ".join(reply.content.split())
        shown = repr(text[:SHOWN]) + (f" [… its first {SHOWN} characters]" if len(text) > SHOWN else "")
        answered = "the emulator answered (a scripted reply, no model)" if endpoint_url else f"Bedrock ({settings.model}) answered"
        step("test call", bool(reply.content),
             f"{answered}, {reply.usage.input_tokens} tokens in, {reply.usage.output_tokens} out: {shown}",
             "The reply was empty: try another model.")
    except errors.ProviderError as error:
        step("test call", False, f"{type(error).__name__}: {error.message}", error.hint)
    return report


__all__ = ["SetupReport", "check_bedrock_env", "settings_from_block"]
