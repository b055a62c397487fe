"""Markdown tables for pull requests and reports (GitHub-flavoured).

One place decides how a value becomes a table cell: a ``|`` would end the cell early and
a line break would end the row, so both are escaped; ``None`` shows as an empty cell.
pandas' own ``to_markdown`` needs the optional ``tabulate`` package, which the workbook
does not install.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence


def cell(value: Any) -> str:
    """``value`` as the text of one table cell."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").strip()
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          align: Sequence[str] | None = None) -> str:
    """A Markdown table; ``align`` gives one of ``"left"``, ``"right"``, ``"center"`` per column."""
    markers = {"left": ":---", "right": "---:", "center": ":---:"}
    rule = [markers[a] for a in align] if align else ["---"] * len(headers)
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "| " + " | ".join(rule) + " |"]
    for row in rows:
        values = list(row)
        if len(values) != len(headers):
            raise ValueError(f"a row has {len(values)} cells for {len(headers)} headers")
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines)
