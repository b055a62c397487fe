"""The conformance report: one ``CheckResult`` per check, gathered in a ``ConformanceReport``.

The report is what a notebook shows and what an exercise saves for CI: ``str()`` for a
terminal and a notebook's plain-text view, ``_repr_html_`` for Jupyter, ``to_markdown()`` for a pull request,
``to_dataframe()`` for pandas, ``to_dict()`` / ``save(path)`` for JSON. ``passed`` counts
only the checks that ran (skipped ones do not).

Each check is *core* (what the module asks of a provider: the round trip, streaming,
usage, the request fields, each error mapped to its typed error) or *stretch* (what a
production client also does: retries, a cut stream detected, calls that overlap).
``core_passed`` says whether the core ones all passed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from ..markdown import table

CORE, STRETCH = "core", "stretch"
NOT_WRITTEN = "not implemented yet"  # how a row begins whose call reached a TODO stub


class NotPassedYet(AssertionError):
    """A graded cell whose checks have not passed: an ``AssertionError``, so nbgrader scores the
    cell 0. While every row still waits for a TODO its message is one line (the checker's table
    above has the hints); once some code runs, it gives each row's detail and hint. A report can
    pass its own one-line ``message`` instead (exercise 10's part 1: its table is the hint). A
    notebook shows the message alone, without a traceback."""

    def __init__(self, problems: list[str], names: list[str], untouched: bool, message: str | None = None):
        self.problems, self.names, self.untouched = problems, names, untouched
        super().__init__(message or (
            f"✗ Not passed yet: {', '.join(names)}: {NOT_WRITTEN} (the checker's table above says "
            "which TODO each row waits for)." if untouched else "\n".join(problems)))

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return str(self).splitlines()


class Passed(str):
    """What ``require`` returns: a graded cell's last value, shown as its line, not as a quoted repr."""

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


@dataclass
class CheckResult:
    name: str
    passed: bool | None  # None: skipped
    detail: str = ""
    hint: str = ""
    seconds: float = 0.0
    level: str = CORE  # CORE or STRETCH

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "–"}[self.passed]


@dataclass
class ConformanceReport:
    subject: str
    protocol: str | None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check that ran passed (skipped checks do not count)."""
        ran = [c for c in self.checks if c.passed is not None]
        return bool(ran) and all(c.passed for c in ran)

    @property
    def core_passed(self) -> bool:
        """True when every core check that ran passed: the module's part is done."""
        ran = [c for c in self.checks if c.level == CORE and c.passed is not None]
        return bool(ran) and all(c.passed for c in ran)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.passed is False]

    @property
    def skipped(self) -> list[CheckResult]:
        return [c for c in self.checks if c.passed is None]

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def require(self, *names: str) -> Passed:
        """Raise ``NotPassedYet`` (an ``AssertionError``) unless every named check (no names: every
        check) passed: an exercise's autograded test cell. The message gives, for each check that
        did not pass, what happened and its hint (a check the suite never reached names the one
        that stopped it). Returns a line saying what passed, for the cell's output."""
        names = names or tuple(c.name for c in self.checks)
        problems, missing = [], []
        for name in names:
            try:
                check = self[name]
            except KeyError:
                stopped = next((c for c in self.checks if c.passed is False), None)
                reason = (f"the checker stopped after '{stopped.name}' failed: fix that first"
                          if stopped else "the checker did not run it")
                problems.append(f"✗ {name}: not checked ({reason}).")
                missing.append(name)
                continue
            if check.passed is None:
                problems.append(f"✗ {name}: {check.detail or 'skipped'}.")
                missing.append(name)
            elif not check.passed:
                problems.append(f"✗ {name}: {check.detail}." + (f"\n  Hint: {check.hint}" if check.hint else ""))
                missing.append(name)
        if problems:
            untouched = all(self[name].detail.startswith(NOT_WRITTEN) for name in missing
                            if any(c.name == name for c in self.checks))
            raise NotPassedYet(problems, missing, untouched)
        return Passed("✓ " + ", ".join(names))

    def summary(self) -> str:
        ran = [c for c in self.checks if c.passed is not None]
        ok = sum(1 for c in ran if c.passed)
        verdict = "PASSED" if self.passed else "FAILED"
        # Counted apart only when there is a stretch part to tell from the core.
        levels = "; ".join(
            f"{level} {sum(1 for c in ran if c.level == level and c.passed)}/"
            f"{sum(1 for c in ran if c.level == level)}"
            for level in (CORE, STRETCH)) if self._has_stretch() else ""
        return (f"{self.subject} ({self.protocol or 'no protocol'}): {verdict} — "
                f"{ok}/{len(ran)} checks passed{self._left_out(len(self.checks) - len(ran))}"
                + (f" ({levels})" if levels else ""))

    def _left_out(self, count: int) -> str:
        """The summary's words for the rows that did not run (``passed is None``)."""
        return f", {count} skipped"

    def __repr__(self) -> str:
        return f"<ConformanceReport {self.summary()}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        # A notebook's plain-text view (a saved copy, a terminal) shows the table, not the repr.
        printer.text(str(self))

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "protocol": self.protocol, "passed": self.passed,
                "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail,
                            "hint": c.hint, "seconds": round(c.seconds, 3), "level": c.level}
                           for c in self.checks]}

    def save(self, path) -> None:
        """Write the report as JSON (an exercise's last cell does this for CI)."""
        import json
        from pathlib import Path

        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False),
                              encoding="utf-8")

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame(
            [{"check": c.name, "level": c.level, "result": c.mark, "passed": c.passed,
              "detail": c.detail,
              "hint": c.hint, "seconds": round(c.seconds, 3)} for c in self.checks]
        ).set_index("check")

    def to_markdown(self) -> str:
        """The summary and the table of checks in Markdown, for a pull request's description."""
        leveled = self._has_stretch()
        rows = [(c.mark, c.name, *([c.level] if leveled else []), c.detail,
                 c.hint if c.passed is False else "") for c in self.checks]
        headers = ("", "check", *(["level"] if leveled else []), "what happened", "hint")
        return f"**{self.summary()}**\n\n" + table(headers, rows)

    def _has_stretch(self) -> bool:
        return any(c.level == STRETCH for c in self.checks)

    def _new_hints(self) -> list[str]:
        """Each failed row's hint, or "" where it repeats the failed row's above it (a stub
        fails many rows with one hint: a student reads it once)."""
        shown, previous = [], None
        for c in self.checks:
            hint = c.hint if c.passed is False else ""
            shown.append("" if hint and hint == previous else hint)
            if c.passed is False:
                previous = hint
        return shown

    def __str__(self) -> str:
        width = max((len(c.name) for c in self.checks), default=5)
        lines = [self.summary()]
        previous = None
        for c, hint in zip(self.checks, self._new_hints()):
            level = "" if c.level == CORE else " (stretch)"
            # A reason many rows share (skipped: no wire protocol) is read once, as the hints are.
            detail = "same as above" if c.detail and c.detail == previous else c.detail
            previous = c.detail
            lines += _wrapped(f"  {c.mark} {c.name:<{width}}  ", f"{detail}{level}")
            if hint:
                lines += _wrapped(f"    {'':<{width}}  ", f"Hint: {hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {True: "#1a7f37", False: "#cf222e", None: "#6e7781"}
        rows = []
        for c, new_hint in zip(self.checks, self._new_hints()):
            hint = html.escape(new_hint) if new_hint else ("same as above" if c.passed is False and c.hint else "")
            rows.append(
                f"<tr><td style='color:{colour[c.passed]};font-weight:bold;text-align:center'>"
                f"{c.mark}</td><td style='text-align:left'>{html.escape(c.name)}</td>"
                f"<td style='text-align:left'>{c.level}</td>"
                f"<td style='text-align:left'>{html.escape(c.detail)}</td>"
                f"<td style='text-align:left'><i>{hint}</i></td></tr>")
        head = ("<tr><th></th><th style='text-align:left'>check</th>"
                "<th style='text-align:left'>level</th>"
                "<th style='text-align:left'>what happened</th>"
                "<th style='text-align:left'>hint</th></tr>")
        return (f"<p><b>{html.escape(self.summary())}</b></p>"
                f"<table>{head}{''.join(rows)}</table>")


TEXT_WIDTH = 120  # a notebook's saved text and a terminal: wider lines wrap or scroll sideways


def _wrapped(lead: str, text: str) -> list[str]:
    """``lead + text`` within ``TEXT_WIDTH``, its further lines indented under the text's start."""
    import textwrap

    room = max(TEXT_WIDTH - len(lead), 40)
    pieces = textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False) or [""]
    return [lead + pieces[0], *(" " * len(lead) + piece for piece in pieces[1:])]
