"""Small labelled evaluations: load a JSONL set shipped with the workbook, score answers.

The data sets use three of ``workbook.answer_checks``'s checks, because a small model's answers
need fair grading: ``contains`` (facts), ``choice`` (classification: the answer names one label,
the expected one) and ``exact`` (the strict format a program reading the output needs).

An answer the token limit cut (``finish_reason == "length"``) that fails its check is not always
a miss: ``verdict`` says "could not tell" when the cut came before the answer said anything its
check can judge, and "wrong" when what it said before the cut already fails.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Callable, Iterable

from ..answer_checks import named_choices, normalise_exact, only_choice, passes  # noqa: F401 -- only_choice: 06 shows the label picked

CHECKS = ("contains", "choice", "exact")  # the checks the course's data sets use
VERDICTS = ("right", "wrong", "could not tell")
# The end of a first clause: a comma, semicolon or sentence end before a space or the end of the
# text (not inside "1,000" or "3.5"), or a "but" that turns to another claim.
_CLAUSE_END = re.compile(r"[,;.!?](?=\s|$)|\sbut\s", re.IGNORECASE)


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """A JSONL file from ``workbook/data`` (``"slm_eval.jsonl"``), one dict per line."""
    text = resources.files("workbook").joinpath("data", name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def is_correct(answer: str, expected: str, check: str = "contains",
               labels: Iterable[str] | None = None) -> bool:
    """Grade one answer with ``workbook.answer_checks``'s checks (``labels`` for ``choice``)."""
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; use one of {', '.join(CHECKS)}")
    return passes(check, answer, expected, choices=labels or ())


def known_wrong_named(answer: str, item: dict[str, Any]) -> list[str]:
    """Which of ``item``'s ``known_wrong`` answers (a few wrong answers to its question) ``answer``
    names, as whole words. ``contains`` passes an answer that holds the expected text whatever else
    it says ("Romeo and Juliet by William Shakespeare is attributed to the 17th-century French
    playwright"): a right verdict beside one of these is a sentence to read, not a fact it knew.
    It changes no grade: a sentence can also name a wrong answer to deny it."""
    return named_choices(item.get("known_wrong", ()), answer)


def said_something(answer: str) -> bool:
    """Whether an answer finished its first clause -- "The largest planet is Neptune, but" has,
    "The largest planet in the solar system is" has not: what a check can judge of a cut answer."""
    text = answer.strip() + " "   # a clause that ends the text ends before a space too
    end = _CLAUSE_END.search(text)
    return end is not None and bool(text[:end.start()].strip())


def verdict(answer: str, expected: str, check: str = "contains", *, cut: bool,
            labels: Iterable[str] | None = None) -> str:
    """"right", "wrong" or "could not tell" (see ``VERDICTS``) for one answer.

    An answer that passes is right, and one that fails is wrong -- unless the token limit
    ``cut`` it before it said anything its check can judge: for ``exact``, what it wrote is
    still the start of the value; for ``choice``, it named no label yet and its first clause
    was cut; for ``contains``, its first clause was cut. A cut answer whose start already
    fails ("The largest planet is Neptune, but i...", or a wrong label) is wrong.
    """
    if is_correct(answer, expected, check, labels):
        return "right"
    if not cut:
        return "wrong"
    if check == "exact":
        started = normalise_exact(answer)
        return "could not tell" if str(expected).strip().lower().startswith(started) else "wrong"
    if check == "choice" and named_choices(labels or (), answer):
        return "wrong"   # a wrong label, or several: more text cannot make it one right label
    return "wrong" if said_something(answer) else "could not tell"


@dataclass
class Graded:
    id: str
    task: str
    expected: str
    answer: str
    correct: bool
    input_tokens: int | None
    output_tokens: int | None
    latency_s: float
    # "length" when max_tokens cut the answer: a value it would have named later is then not "found".
    finish_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def grade(provider, items: list[dict[str, Any]],
                build: Callable[[dict[str, Any]], list], *, max_tokens: int = 32,
                temperature: float = 0.0, progress: bool = True, description: str = "",
                check: Callable[[str, dict[str, Any]], bool] | None = None,
                response_format: Any = None) -> list[Graded]:
    """Ask ``provider`` each item (messages from ``build(item)``) and grade the answers.

    Requests go one at a time (a local model serves one request at a time anyway).
    ``check(answer, item)`` overrides the item's own check. ``response_format`` (a pydantic
    class or a JSON schema) asks for schema-enforced answers; the answer graded is the JSON text.
    """
    from ..progress import progress_bar

    graded: list[Graded] = []
    for item in progress_bar(items, desc=description or "items", disable=not progress, leave=False):
        # Only when asked: a student's provider with the two-method chat need not take it.
        schema = {} if response_format is None else {"response_format": response_format}
        reply = await provider.chat(build(item), max_tokens=max_tokens, temperature=temperature, **schema)
        ok = (check(reply.content, item) if check is not None else
              is_correct(reply.content, item["expected"], item.get("check", "contains"), item.get("labels")))
        graded.append(Graded(item.get("id", str(len(graded))), item.get("task", ""), item["expected"],
                             reply.content, bool(ok), reply.usage.input_tokens, reply.usage.output_tokens,
                             reply.latency_s, reply.finish_reason))
    return graded


def accuracy(graded: list[Graded]) -> float:
    return sum(g.correct for g in graded) / len(graded) if graded else float("nan")
