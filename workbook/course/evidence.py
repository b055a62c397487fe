"""The evidence an exercise's pull request carries: ``pr_evidence.md``.

The module's Part 3 asks a student to open a pull request showing the provider, its
configuration, screenshots or logs, and the challenges met. Each exercise ends by writing
that evidence as Markdown, ready to paste into the PR description:

* **Provider**: the name it is registered under and its class;
* **Configuration**: the settings, secrets masked (``AISettings.public_dict()``) and only
  the fields that differ from the defaults, plus provider, model, timeout and retries;
* **Checker**: the conformance report (``ConformanceReport.to_markdown()``);
* **Timing sample**: one streamed reply timed by ``workbook.timing.time_reply`` (and, when
  given, a comparison's summary, ``ComparisonResult.to_markdown()``);
* **Challenges**: a section the student writes.

Whatever the text ends up holding, every secret value in the settings is replaced by
``**********`` before it is returned or written: a key that leaked into an error message
does not reach a pull request.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any, Mapping

from ..ai import AISettings, Message
from ..markdown import table
from ..timing import TimedReply, time_reply
from .backends import EMULATED, SCRIPTED, cut_note

MASK = "**********"
EVIDENCE_NAME = "pr_evidence.md"  # git-ignored
EVIDENCE_DIR_VARIABLE = "WORKBOOK_EVIDENCE_DIR"  # a test run sends the evidence out of the tree
ALWAYS_SHOWN = ("provider", "model", "timeout_s", "max_retries")
SAMPLE_PROMPT = "In one sentence, what is a pull request?"
SAMPLE_MAX_TOKENS = 32
SHOWN_CHARACTERS = 200  # of the sample's answer: enough to read it, short enough for a PR
CHALLENGES_PROMPT = ("_Replace this with what was hard and how you solved it: an error you "
                     "met, a check that failed and why, what you would do next._")


async def timing_sample(provider: Any, *, prompt: str = SAMPLE_PROMPT,
                        max_tokens: int = SAMPLE_MAX_TOKENS) -> TimedReply:
    """One streamed reply to ``prompt``, timed (time to first token, latency, pieces)."""
    return await time_reply(provider, [Message("user", prompt)], max_tokens=max_tokens,
                            temperature=0.0, timeout_s=30)


def configuration_rows(settings: AISettings) -> list[tuple[str, str]]:
    """``(AI__ variable, value)`` for what the student configured, secrets masked."""
    shown = settings.public_dict()
    defaults = AISettings().public_dict()
    rows = []
    for name, value in shown.items():
        if value is None or (name not in ALWAYS_SHOWN and value == defaults.get(name)):
            continue
        rows.append((f"AI__{name.upper()}", f"`{value}`"))
    return rows


def _timing_markdown(reply: TimedReply, report=None, where: str = "") -> str:
    if reply.error is not None:
        return f"The sample call failed: `{type(reply.error).__name__}: {reply.error}`"
    tokens, estimated = reply.output_tokens()
    rows = [("time to first token", _seconds(reply.ttft_s)),
            ("latency (whole reply)", _seconds(reply.latency_s)),
            ("pieces streamed", str(reply.chunks)),
            ("output tokens", _estimated_count(tokens) if estimated else f"{tokens} (reported by the stream)"),
            ("finish reason", reply.finish_reason or "not passed on by chat_stream")]
    answer = reply.text.strip().replace("\n", " ")
    # Every way the shown text can stop short of the reply says so, next to the text.
    ending = f" [… shortened here to its first {SHOWN_CHARACTERS} characters]" if len(answer) > SHOWN_CHARACTERS else ""
    if reply.finish_reason is None:
        ending += (" [… the stream did not say why it stopped: it may be cut at the sample's "
                   f"max_tokens ({SAMPLE_MAX_TOKENS})]")
    else:
        ending += cut_note(reply.finish_reason)
    source = f" (from {where})" if where else ""
    # "timing", not "measure": a sample from the emulator or the mock is not a measurement.
    text = (table(("timing", "value"), rows)
            + f"\n\nPrompt: “{SAMPLE_PROMPT}” — answer{source}: “{answer[:SHOWN_CHARACTERS]}”{ending}"
            + "\n\nThe sample shows a reply streamed through the provider end to end, and how long it took "
              "to its first piece and to its last; nobody checked whether the answer is right.")
    if where in (SCRIPTED, EMULATED):
        text += (" The reply was scripted, so those times are the pace the scripted responder is set to, "
                 "plus the provider's own code: they say nothing of a model's speed.")
    if estimated and _usage_reported(report):
        # Both are true of one provider: its chat returns the counts, its chat_stream passed on none.
        # Only what this sample showed is said: not why (the finish reason row may show the stream
        # passed other things on).
        text += ("\n\nThe checker's “usage reported” row passed: a whole answer (`chat`) came with "
                 "its token counts. This sample streamed, and `chat_stream` passed on no token counts "
                 "(whatever the server sent), so the output-tokens row gives what can be said without them.")
    return text


def _estimated_count(tokens: int) -> str:
    """The estimate (characters / 4) as what it is. Above the sample's max_tokens, which no real
    count exceeds, the estimate is wrong and is not shown: only the cap is known."""
    if tokens > SAMPLE_MAX_TOKENS:
        return (f"not reported (chat_stream passed on no usage); at most {SAMPLE_MAX_TOKENS}, "
                "the sample's max_tokens")
    return f"~{tokens} (estimated: chat_stream passed on no usage; characters / 4)"


def _usage_reported(report) -> bool:
    try:
        return report["usage reported"].passed is True
    except (KeyError, TypeError):
        return False


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def evidence_markdown(*, title: str, provider: str, settings: AISettings, report,
                      timing: TimedReply | None = None, comparison=None,
                      where: str = "", sections: Mapping[str, str] | None = None,
                      challenges: str = CHALLENGES_PROMPT) -> str:
    """The pull request's evidence as Markdown (see the module's docstring).

    ``provider`` names what was built (e.g. ``"my_ollama (OllamaProvider, notebook 09)"``);
    ``report`` is the conformance report; ``where`` says what the timing ran against;
    ``sections`` adds an exercise's own sections (heading -> Markdown) before *Challenges*.
    """
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    core = "every core check passes" if report.core_passed else "some core checks still fail"
    parts = [
        f"# {title}",
        f"_Written {now} by the exercise notebook: {core}._",
        "## Provider",
        provider,
        "## Configuration (secrets masked)",
        table(("variable", "value"), configuration_rows(settings)),
        "## Conformance checker",
        report.to_markdown(),
    ]
    if timing is not None:
        parts += ["## Timing sample" + (f" ({where})" if where else ""), _timing_markdown(timing, report, where)]
    if comparison is not None:
        parts += ["## Comparison", comparison.to_markdown()]
    for heading, text in (sections or {}).items():
        parts += [f"## {heading}", text]
    parts += ["## Challenges", challenges]
    return _mask_secrets("\n\n".join(parts) + "\n", settings)


def _mask_secrets(text: str, settings: AISettings) -> str:
    for secret in settings.secret_values():  # an OpenAI-compatible entry's key too
        text = text.replace(secret, MASK)
    return text


def evidence_path(result_path: str | os.PathLike | None = None) -> Path:
    """Where an exercise writes its evidence.

    A student's run: ``pr_evidence.md`` beside the notebook (git-ignored). A test run keeps the
    repository clean: beside the checker's ``RESULT_PATH`` when papermill passes one, else in
    the folder ``$WORKBOOK_EVIDENCE_DIR`` names.
    """
    if result_path:
        return Path(result_path).with_suffix(".pr_evidence.md")
    folder = os.environ.get(EVIDENCE_DIR_VARIABLE)
    return Path(folder) / EVIDENCE_NAME if folder else Path(EVIDENCE_NAME)


def write_evidence(path: str | Path, **fields: Any) -> Path:
    """Write ``evidence_markdown(**fields)`` to ``path`` and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(evidence_markdown(**fields), encoding="utf-8")
    return path


__all__ = ["EVIDENCE_NAME", "configuration_rows", "evidence_markdown", "evidence_path", "timing_sample",
           "write_evidence"]
