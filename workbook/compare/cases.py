"""Test cases for a comparison: a prompt, an expected answer, and how to check it.

A cases file is JSON Lines, one case per line::

    {"id": "capital-fr", "prompt": "What is the capital of France?", "check": "contains", "expected": "Paris"}

Fields: ``prompt`` (required), ``system`` (optional system message), ``id`` (optional,
default ``case-<line>``), ``category`` (optional, for your own grouping), ``check`` and
``expected``; ``choices`` for ``choice``; ``tolerance`` for ``number``.

Checks: ``exact``, ``contains``, ``regex``, ``json``, ``number``, ``choice``, defined once in
``workbook.answer_checks``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Iterable

from ..answer_checks import CHECKS, DEFAULT_TOLERANCE, passes


class CaseError(ValueError):
    """A case (or a line of a cases file) is malformed; the message says where and why."""


@dataclass(frozen=True)
class Case:
    prompt: str
    check: str
    expected: Any
    id: str = ""
    system: str | None = None
    category: str = ""
    choices: tuple[str, ...] = ()
    tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        where = f"case {self.id!r}" if self.id else "case"
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise CaseError(f"{where}: prompt must be a non-empty string")
        if self.check not in CHECKS:
            raise CaseError(f"{where}: check {self.check!r} is not one of {', '.join(CHECKS)}")
        expected = self.expected
        if self.check in ("exact", "regex") and not isinstance(expected, str):
            raise CaseError(f"{where}: a {self.check} check needs a string 'expected'")
        if self.check == "contains" and not (
            isinstance(expected, str)
            or (isinstance(expected, (list, tuple)) and expected
                and all(isinstance(item, str) for item in expected))
        ):
            raise CaseError(f"{where}: a contains check needs a string (or list of strings) 'expected'")
        if self.check == "regex":
            try:
                re.compile(expected)
            except re.error as error:
                raise CaseError(f"{where}: bad regex {expected!r}: {error}") from None
        if self.check == "json" and not isinstance(expected, dict):
            raise CaseError(f"{where}: a json check needs an object 'expected' (key -> value)")
        if self.check == "number" and (
            isinstance(expected, bool) or not isinstance(expected, (int, float))
        ):
            raise CaseError(f"{where}: a number check needs a numeric 'expected'")
        if self.check == "choice":
            if len(self.choices) < 2:
                raise CaseError(f"{where}: a choice check needs 'choices' with two or more labels")
            if expected not in self.choices:
                raise CaseError(f"{where}: expected {expected!r} is not among choices {list(self.choices)}")
        if not (isinstance(self.tolerance, (int, float)) and math.isfinite(self.tolerance)
                and self.tolerance >= 0):
            raise CaseError(f"{where}: tolerance must be a finite number >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, default_id: str = "") -> "Case":
        if not isinstance(data, dict):
            raise CaseError(f"a case must be a JSON object, got {type(data).__name__}")
        known = {"id", "prompt", "system", "category", "check", "expected", "choices", "tolerance"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CaseError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for required in ("prompt", "check", "expected"):
            if required not in data:
                raise CaseError(f"missing field {required!r}")
        _check_types(data)
        return cls(
            prompt=data["prompt"], check=data["check"], expected=data["expected"],
            id=str(data.get("id") or default_id), system=data.get("system"),
            category=str(data.get("category") or ""),
            choices=tuple(data.get("choices") or ()),
            tolerance=float(data.get("tolerance", DEFAULT_TOLERANCE)),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "prompt": self.prompt}
        if self.system is not None:
            out["system"] = self.system
        if self.category:
            out["category"] = self.category
        out["check"], out["expected"] = self.check, self.expected
        if self.choices:
            out["choices"] = list(self.choices)
        if self.tolerance != DEFAULT_TOLERANCE:
            out["tolerance"] = self.tolerance
        return out

    def messages(self):
        from ..ai.types import Message

        system = [Message("system", self.system)] if self.system else []
        return [*system, Message("user", self.prompt)]

    def passes(self, answer: str) -> bool:
        return check_answer(self, answer)


def _check_types(data: dict[str, Any]) -> None:
    """Each optional field's JSON type, named when wrong (else a raw TypeError, or a string
    of choices read as its letters)."""
    wanted = {"id": ((str, int), "a string"), "system": ((str,), "a string"),
              "category": ((str,), "a string"), "check": ((str,), "a string"),
              "choices": ((list,), "a list of strings"), "tolerance": ((int, float), "a number")}
    for name, (types, described) in wanted.items():
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise CaseError(f"field {name!r} must be {described}, not {_json_type(value)}")
    if not all(isinstance(choice, str) for choice in data.get("choices") or ()):
        raise CaseError("field 'choices' must be a list of strings")


def _json_type(value: Any) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- loading

# A longer line is not a prompt any model here could read: refused before it is parsed.
MAX_LINE_BYTES = 1_000_000

def parse_cases(lines: Iterable[str], *, source: str = "cases") -> list[Case]:
    """Cases from JSON Lines text; blank lines and lines starting with ``#`` are skipped."""
    cases: list[Case] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise CaseError(f"{source} line {number}: not valid JSON ({error.msg})") from None
        except RecursionError:
            raise CaseError(f"{source} line {number}: JSON nested too deeply to be a case") from None
        except ValueError as error:  # an integer of more than 4300 digits
            reason = str(error).split(":")[0]
            raise CaseError(f"{source} line {number}: not a usable JSON value ({reason})") from None
        try:
            cases.append(Case.from_dict(data, default_id=f"case-{number}"))
        except CaseError as error:
            raise CaseError(f"{source} line {number}: {error}") from None
    ids = [case.id for case in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CaseError(f"{source}: duplicate id(s) {', '.join(duplicates)}")
    if not cases:
        raise CaseError(f"{source}: no cases found")
    return cases


def load_cases(source: "str | PathLike | Iterable[Case | dict] | None" = None) -> list[Case]:
    """Cases from a JSONL path, from a list of ``Case``/dicts, or (``None``) the built-in set."""
    if source is None:
        return default_cases()
    if isinstance(source, (str, PathLike)):
        path = Path(source)
        if not path.exists():
            raise CaseError(f"cases file {path} does not exist")
        if not path.is_file():  # a folder; a FIFO or a device would block or never end
            raise CaseError(f"cases file {path} is not a regular file; give a .jsonl file")
        with path.open("rb") as handle:
            return parse_cases(_text_lines(handle, path.name), source=path.name)
    cases = []
    for index, item in enumerate(source):
        if isinstance(item, Case):
            cases.append(item)
        else:
            try:
                cases.append(Case.from_dict(item, default_id=f"case-{index + 1}"))
            except CaseError as error:
                raise CaseError(f"cases[{index}]: {error}") from None
    if not cases:
        raise CaseError("no cases given")
    return cases


def _text_lines(handle, source: str) -> Iterable[str]:
    """The file's lines as text, each checked to be UTF-8 and at most ``MAX_LINE_BYTES``."""
    for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), start=1):
        if len(line) > MAX_LINE_BYTES:
            raise CaseError(f"{source} line {number}: longer than {MAX_LINE_BYTES:,} bytes "
                            "(one case per line, each a short JSON object)")
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise CaseError(f"{source} line {number}: not UTF-8 text (byte 0x{line[error.start]:02x} "
                            f"at column {error.start + 1}); save the file as UTF-8") from None


def default_cases() -> list[Case]:
    """The built-in set shipped as ``workbook/data/compare_cases.jsonl`` (about 20 cases)."""
    text = resources.files("workbook").joinpath("data/compare_cases.jsonl").read_text("utf-8")
    return parse_cases(text.splitlines(), source="compare_cases.jsonl")


def check_answer(case: Case, answer: str) -> bool:
    """Does ``answer`` pass ``case``'s check? (``workbook.answer_checks`` defines each check.)"""
    return passes(case.check, answer, case.expected, choices=case.choices, tolerance=case.tolerance)


__all__ = [
    "CHECKS", "Case", "CaseError", "check_answer", "default_cases", "load_cases", "parse_cases",
]
