"""``ComparisonResult``: the summary, the raw records, and ways to save and draw them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from . import plots
from .runner import CallRecord

# One column per CallRecord field, in its order: a field added there is a column here.
RECORD_COLUMNS = [item.name for item in fields(CallRecord)]
# The one mark of every table here for a cell with no figure (no price, nothing measured, no case of
# that kind): a blank a reader cannot take for a measured zero. ``notes()`` says what it stands for.
NO_FIGURE = "—"


def records_frame(records) -> pd.DataFrame:
    frame = pd.DataFrame([r.as_dict() for r in records], columns=RECORD_COLUMNS)
    if not len(frame):
        frame = frame.astype({"warmup": bool, "tokens_estimated": bool})
    return frame


@dataclass(eq=False)  # identity equality: pandas compares DataFrame.attrs values in concat
class ComparisonResult:
    """What ``run_comparison`` measured.

    ``summary``           one row per provider (see ``workbook.compare.metrics`` for columns)
    ``records``           one row per call, warm-up calls included with ``warmup=True``
    ``quality_by_check``  fraction passed per provider x check type, plus ``overall``
    ``errors_by_type``    failed calls per provider x exception class
    ``settings``          how it was run (runs, concurrency, warm-up, cases, max_tokens…)
    ``prices``            the price table used for ``cost_usd``
    """

    summary: pd.DataFrame
    records: pd.DataFrame
    quality_by_check: pd.DataFrame
    errors_by_type: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    prices: pd.DataFrame | None = None

    def measured_records(self) -> pd.DataFrame:
        """The records without warm-up calls (what the summary is computed from)."""
        return self.records[~self.records["warmup"]] if len(self.records) else self.records

    # ---------------------------------------------------------------- figures
    def figures(self) -> dict[str, Any]:
        """``{"latency": Figure, "speed": Figure, "quality": Figure}``."""
        return {name: draw(self) for name, draw in plots.FIGURES.items()}

    def latency_figure(self):
        return plots.latency_figure(self)

    def speed_figure(self):
        return plots.speed_figure(self)

    def quality_figure(self):
        return plots.quality_figure(self)

    # ---------------------------------------------------------------- saving
    def save(self, out_dir: str | Path, *, figures: bool = True) -> dict[str, Path]:
        """Write CSV + JSON tables and (``figures=True``) PNG plots into ``out_dir``.

        Files: ``summary.csv/.json``, ``records.csv/.json``, ``quality_by_check.csv``,
        ``errors_by_type.csv``, ``run.json`` (settings and prices), and
        ``latency.png``, ``speed.png``, ``quality.png``. Returns ``{name: path}``.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}

        def keep(name: str, path: Path) -> None:
            written[name] = path

        self.summary.to_csv(out / "summary.csv")
        keep("summary.csv", out / "summary.csv")
        (out / "summary.json").write_text(
            self.summary.reset_index().to_json(orient="records", indent=2), encoding="utf-8")
        keep("summary.json", out / "summary.json")
        self.records.to_csv(out / "records.csv", index=False)
        keep("records.csv", out / "records.csv")
        (out / "records.json").write_text(
            self.records.to_json(orient="records", indent=2), encoding="utf-8")
        keep("records.json", out / "records.json")
        self.quality_by_check.to_csv(out / "quality_by_check.csv")
        keep("quality_by_check.csv", out / "quality_by_check.csv")
        self.errors_by_type.to_csv(out / "errors_by_type.csv")
        keep("errors_by_type.csv", out / "errors_by_type.csv")
        run = {"settings": self.settings,
               "prices": {} if self.prices is None else json.loads(self.prices.to_json(orient="index"))}
        (out / "run.json").write_text(json.dumps(run, indent=2, default=str), encoding="utf-8")
        keep("run.json", out / "run.json")
        if figures:
            for name, figure in self.figures().items():
                path = out / f"{name}.png"
                figure.savefig(path, dpi=110)
                keep(path.name, path)
        return written

    # ---------------------------------------------------------------- display
    def table(self) -> pd.DataFrame:
        """The summary's key columns with readable headers (what the CLI prints)."""
        s = self.summary
        est = s["tokens_estimated"].map(lambda flag: "~" if flag else "")
        return pd.DataFrame({
            "calls": s["calls"],
            "errors": s["errors"],
            "TTFT p50": s["ttft_s_p50"].map(_seconds),
            "TTFT p95": s["ttft_s_p95"].map(_seconds),
            "latency p50": s["latency_s_p50"].map(_seconds),
            "latency p95": s["latency_s_p95"].map(_seconds),
            "tok/s p50": est + s["tokens_per_s_p50"].map(lambda v: NO_FIGURE if _nan(v) else f"{v:.0f}"),
            "in tok, total": est + s["input_tokens"].astype(str),
            "out tok, total": est + s["output_tokens"].astype(str),
            "quality": s["quality"].map(lambda v: NO_FIGURE if _nan(v) else f"{v:.0%}"),
            "cost $": s["cost_usd"].map(_dollars),
        }, index=s.index)

    def notes(self) -> list[str]:
        """What the table's figures are, one line each: its call count, estimated token counts,
        the streaming rate's definition, where costs come from."""
        settings = self.settings
        calls = len(self.summary) * (settings["warmup"] + settings["runs"] * settings["cases"])
        estimated = [str(label) for label, flag in self.summary["tokens_estimated"].items() if flag]
        unpriced = [str(label) for label, cost in self.summary["cost_usd"].items() if not cost > 0]
        unmeasured = [str(label) for label, row in self.summary.iterrows()
                      if any(_nan(row[column]) for column in ("ttft_s_p50", "latency_s_p50", "tokens_per_s_p50",
                                                              "quality"))]
        return [
            f"{calls} calls: {len(self.summary)} provider(s) x ({settings['cases']} case(s) x "
            f"{settings['runs']} run(s) + {settings['warmup']} warm-up); \"calls\" counts each "
            "provider's measured ones, without its warm-up.",
            *([f"~ token counts estimated (~4 characters per token) for {', '.join(estimated)}: "
               "the comparison streams, and their streams reported no usage; their tok/s, computed "
               "from those counts, is as rough."] if estimated else []),
            "tok/s = (output tokens - 1) / (latency - TTFT): the streaming rate after the first token.",
            "cost $: estimated from list prices (API: the model catalogue, with the date each was "
            "verified; self-hosted: illustrative machine rates)"
            + (f"; {NO_FIGURE} for {', '.join(unpriced)}: no price, not a measured zero." if unpriced else "."),
            *([f"{NO_FIGURE} in a figure's column ({', '.join(unmeasured)}): no call measured it (see errors), "
               "not a zero."] if unmeasured else []),
        ]

    def to_text(self) -> str:
        """A plain-text report: key figures, quality by check, errors, notes."""
        lines = [self.table().to_string(), ""]
        quality = self.quality_by_check.map(lambda v: NO_FIGURE if _nan(v) else f"{v:.0%}")
        lines += ["Quality by check type (fraction of answered calls that passed):",
                  quality.to_string(), ""]
        failing = self.summary[self.summary["errors"] > 0]
        if len(failing):
            lines.append("Errors:")
            for label, row in failing.iterrows():
                example = self.records.loc[
                    (self.records["provider"] == label) & self.records["error"].notna(),
                    "error_message"].iloc[0]
                lines.append(f"  {label}: {row['error_types']}  e.g. {example}")
            lines.append("")
        lines += self.notes()
        lines.append("prices: " + "; ".join(f"{label} <- {p}" for label, p in self.summary["price"].items()))
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The key figures and quality by check as Markdown tables, for a pull request.

        Notes say what the figures are: estimated token counts (marked ~), the streaming
        rate's definition, and that costs come from illustrative prices."""
        from ..markdown import table

        figures = self.table()
        parts = [table(["provider", *figures.columns],
                       ([label, *row] for label, row in zip(figures.index, figures.values.tolist())))]
        quality = self.quality_by_check.map(lambda v: NO_FIGURE if _nan(v) else f"{v:.0%}")
        if len(quality.columns):
            parts.append("Quality by check type (fraction of answered calls that passed):\n\n"
                         + table(["provider", *quality.columns],
                                 ([label, *row] for label, row in
                                  zip(quality.index, quality.values.tolist()))))
        parts.append("\n".join(f"- {note}" for note in self.notes()))
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()  # the readable figures; every column is in .summary


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _dollars(value: float) -> str:
    if _nan(value) or value <= 0:
        return NO_FIGURE  # no price: a blank, not a measured zero (the notes say so)
    return f"{value:.2f}" if value >= 0.01 else f"{value:.6f}"


def _seconds(value: float) -> str:
    if _nan(value):
        return NO_FIGURE
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


__all__ = ["ComparisonResult", "NO_FIGURE", "RECORD_COLUMNS", "records_frame"]
