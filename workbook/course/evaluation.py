"""Small labelled evaluations: load a JSONL set shipped with the workbook, score answers.

The data sets use three of ``workbook.answer_checks``'s checks, because a small model's answers
need fair grading: ``contains`` (facts), ``label`` (classification: the first label the
answer mentions) and ``exact`` (the strict format a program reading the output needs).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Callable, Iterable

from ..answer_checks import first_label, passes  # noqa: F401 -- first_label: notebooks label answers

CHECKS = ("contains", "label", "exact")  # the checks the course's data sets use


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """A JSONL file from ``workbook/data`` (``"slm_eval.jsonl"``), one dict per line."""
    text = resources.files("workbook").joinpath("data", name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def is_correct(answer: str, expected: str, check: str = "contains",
               labels: Iterable[str] | None = None) -> bool:
    """Grade one answer with ``workbook.answer_checks``'s checks (``labels`` for ``label``)."""
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; use one of {', '.join(CHECKS)}")
    return passes(check, answer, expected, choices=labels or ())


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
