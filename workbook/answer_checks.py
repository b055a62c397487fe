"""Checking a model's answer against what was expected (not grading students: that is
``workbook.instructor``): one definition of each check, used by
the comparison tool (``workbook.compare``) and the course's evaluations alike.

Checks (all applied to the whole answer text):

``exact``     the answer, stripped of surrounding whitespace and quotes and of one final
              full stop, equals ``expected`` ignoring case: the strict format a program
              reading the output needs ("Lisbon." passes for Lisbon, "It is Lisbon" fails).
``contains``  ``expected`` (or any of a list of alternatives) appears, ignoring case.
``regex``     ``re.search(expected, answer)`` finds a match (use ``(?i)`` for no case).
``json``      the answer holds a JSON object (bare, in a ```json fence, or amid text)
              whose keys include every key of the ``expected`` dict with equal values
              (nested dicts are compared the same way, as subsets).
``number``    the *first* number in the answer equals ``expected`` within ``tolerance``
              (absolute, default 1e-6). ``1,234`` reads as 1234.
``choice``    the answer names ``expected`` and no other entry of ``choices`` (whole words,
              ignoring case): "The review is negative" passes, "positive or negative" and
              "positive, I mean negative" fail. A program acting on a label needs one label;
              this is the one rule the course grades a label answer by (06, 08, compare).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable

CHECKS = ("exact", "contains", "regex", "json", "number", "choice")
DEFAULT_TOLERANCE = 1e-6


_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def first_number(text: str) -> float | None:
    """The first number written in ``text`` (``"1,234.5"`` -> 1234.5), or ``None``."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    return float(match.group().replace(",", ""))


def extract_json_object(text: str) -> dict | None:
    """The first JSON object in ``text``: the whole text, a fenced block, or a ``{...}`` span."""
    candidates = [text.strip()]
    candidates += [block.strip() for block in _FENCE.findall(text)]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(value, dict):
            return value
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().casefold() == actual.strip().casefold()
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(actual, str):  # "34" for 34: the value is right, the type lenient
            try:
                actual = float(actual)
            except ValueError:
                return False
        return (isinstance(actual, (int, float)) and not isinstance(actual, bool)
                and math.isclose(float(actual), float(expected), abs_tol=DEFAULT_TOLERANCE))
    return expected == actual


_ARTICLE_AFTER_NOT = re.compile(r"(?<!\w)not\s+(?:a|an|the)\s+", re.IGNORECASE)


def named_choices(choices: Iterable[str], answer: str) -> list[str]:
    """Which choices the answer names, longest first so "not spam" is not also "spam" (and "not a
    spam" reads as "not spam": the article does not turn a denial into the label it denies)."""
    text, named = _ARTICLE_AFTER_NOT.sub("not ", answer), []
    for label in sorted(choices, key=len, reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(label)}(?!\w)", re.IGNORECASE)
        if pattern.search(text):
            named.append(label)
            text = pattern.sub(" ", text)
    return named


def only_choice(choices: Iterable[str], answer: str) -> str | None:
    """The one entry of ``choices`` the answer names, or ``None`` when it names none or several."""
    named = named_choices(choices, answer)
    return named[0] if len(named) == 1 else None


def normalise_exact(answer: str) -> str:
    text = answer.strip().strip("\"'`").strip()
    if text.endswith(".") and not re.search(r"\d\.$", text[-3:]):
        text = text[:-1]
    return text.strip().lower()


def passes(check: str, answer: str, expected: Any, *, choices: Iterable[str] = (),
           tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Does ``answer`` pass ``check`` against ``expected``? (See the module docstring.)"""
    if not isinstance(answer, str):
        return False
    if check == "exact":
        return normalise_exact(answer) == str(expected).strip().lower()
    if check == "contains":
        options = [expected] if isinstance(expected, str) else list(expected)
        folded = answer.casefold()
        return any(option.casefold() in folded for option in options)
    if check == "regex":
        return re.search(expected, answer) is not None
    if check == "json":
        found = extract_json_object(answer)
        return found is not None and _subset(expected, found)
    if check == "number":
        value = first_number(answer)
        return value is not None and math.isclose(value, float(expected), rel_tol=0.0,
                                                  abs_tol=tolerance)
    if check == "choice":
        if not choices:
            raise ValueError("a 'choice' check needs the list of choices")
        return only_choice(choices, answer) == expected
    raise ValueError(f"unknown check {check!r}; use one of {', '.join(CHECKS)}")


__all__ = ["CHECKS", "DEFAULT_TOLERANCE", "extract_json_object", "first_number", "named_choices",
           "normalise_exact", "only_choice", "passes"]
