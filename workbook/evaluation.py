"""Small labelled evaluations: load a JSONL set shipped with the workbook, score answers.

Three kinds of check, because a small model's answers need fair grading:

* ``contains`` -- the expected text appears anywhere in the answer (lenient: facts).
* ``label``    -- the first of the allowed labels the answer mentions is the expected one
  ("The review is negative, not positive" counts as negative). Longer labels are matched
  first, so "not spam" is not read as "spam".
* ``exact``    -- the answer, stripped of whitespace, quotes and a final full stop, *is* the
  expected text: the strict format a program parsing the output would need.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Awaitable, Callable, Iterable

CHECKS = ("contains", "label", "exact")


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """A JSONL file from ``workbook/data`` (``"slm_eval.jsonl"``), one dict per line."""
    text = resources.files("workbook").joinpath("data", name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def first_label(answer: str, labels: Iterable[str]) -> str | None:
    """The label mentioned first in ``answer`` (whole words, case-insensitive), or ``None``."""
    text = answer.lower()
    best: tuple[int, int, str] | None = None
    # Longest labels first so that "not spam" claims its span before "spam" does.
    taken: list[tuple[int, int]] = []
    for label in sorted(labels, key=len, reverse=True):
        for match in re.finditer(r"\b" + re.escape(label.lower()) + r"\b", text):
            span = match.span()
            if any(start < span[1] and span[0] < end for start, end in taken):
                continue
            taken.append(span)
            if best is None or span[0] < best[0]:
                best = (span[0], -len(label), label)
            break
    return best[2] if best else None


def normalise_exact(answer: str) -> str:
    text = answer.strip().strip("\"'`").strip()
    if text.endswith(".") and not re.search(r"\d\.$", text[-3:]):
        text = text[:-1]
    return text.strip().lower()


def is_correct(answer: str, expected: str, check: str = "contains",
               labels: Iterable[str] | None = None) -> bool:
    if check == "contains":
        return expected.lower() in answer.lower()
    if check == "label":
        if not labels:
            raise ValueError("a 'label' check needs the list of labels")
        return first_label(answer, labels) == expected
    if check == "exact":
        return normalise_exact(answer) == expected.strip().lower()
    raise ValueError(f"unknown check {check!r}; use one of {', '.join(CHECKS)}")


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def grade(provider, items: list[dict[str, Any]],
                build: Callable[[dict[str, Any]], list], *, max_tokens: int = 32,
                temperature: float = 0.0, progress: bool = True, description: str = "",
                check: Callable[[str, dict[str, Any]], bool] | None = None) -> list[Graded]:
    """Ask ``provider`` each item (messages from ``build(item)``) and grade the answers.

    Requests go one at a time (a local model serves one request at a time anyway).
    ``check(answer, item)`` overrides the item's own check.
    """
    from tqdm.auto import tqdm

    graded: list[Graded] = []
    for item in tqdm(items, desc=description or "items", disable=not progress, leave=False):
        reply = await provider.chat(build(item), max_tokens=max_tokens, temperature=temperature)
        ok = (check(reply.content, item) if check is not None else
              is_correct(reply.content, item["expected"], item.get("check", "contains"), item.get("labels")))
        graded.append(Graded(item.get("id", str(len(graded))), item.get("task", ""), item["expected"],
                             reply.content, bool(ok), reply.usage.input_tokens, reply.usage.output_tokens,
                             reply.latency_s))
    return graded


def accuracy(graded: list[Graded]) -> float:
    return sum(g.correct for g in graded) / len(graded) if graded else float("nan")
