"""Figures for a comparison; each function returns a matplotlib ``Figure``.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), not
``pyplot``: nothing global changes, nothing is shown twice, and they can be drawn from
any thread. In Jupyter a returned ``Figure`` is displayed inline (we make sure the inline
backend's display hook is set up); elsewhere they render with Agg, e.g. in ``savefig``.
"""

from __future__ import annotations

import io
import math
import sys
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from .metrics import percentile

if TYPE_CHECKING:
    from .result import ComparisonResult


def in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # noqa: BLE001
        return False
    return ip is not None and hasattr(ip, "kernel")


def _ready_for_display() -> None:
    """In a kernel, make sure a returned ``Figure`` is displayed as a PNG.

    The inline backend registers that formatter only once pyplot has drawn something,
    and these figures never go through pyplot, so register one if none is there yet.
    Outside a notebook nothing is needed: a bare ``Figure`` renders through Agg.
    """
    if not in_notebook():
        return
    import IPython

    formatter = IPython.get_ipython().display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(Figure)
    except KeyError:
        formatter.for_type(Figure, _png)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    _ready_for_display()
    return Figure(figsize=(width, height), layout="constrained")


def latency_figure(result: "ComparisonResult") -> Figure:
    """Box plots per provider: time to first token (left) and total latency (right).

    Each box is filled in its provider's colour, as in the other figures; the median and the mean
    are drawn in black and white, so no colour means a statistic here and a provider elsewhere, and
    the mean is a diamond: a triangle marks a tail percentile in the load figures."""
    records = result.measured_records()
    labels = list(result.summary.index)
    colors = provider_colors(labels)
    fig = _figure(max(6.0, 1.6 * len(labels) + 3), 3.6)
    axes = fig.subplots(1, 2)
    for ax, column, title in ((axes[0], "ttft_s", "Time to first token"),
                              (axes[1], "latency_s", "Total latency")):
        data = [records.loc[records["provider"] == label, column].dropna().to_numpy()
                for label in labels]
        shown = [(label, values) for label, values in zip(labels, data) if len(values)]
        if shown:
            boxes = ax.bxp([_box(label, values) for label, values in shown], showmeans=True, patch_artist=True,
                           medianprops={"color": "black", "linewidth": 1.5},
                           meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"})
            for patch, (label, _) in zip(boxes["boxes"], shown):
                patch.set_facecolor(colors[label])
                patch.set_alpha(0.6)
        ax.set_title(title)
        ax.set_ylabel("seconds")
        ax.set_ylim(0, _top([v for _, v in shown]))
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="x", labelrotation=20)
    fig.suptitle("Latency per call (box: p25-p75, black line: median, whiskers: p5-p95, dots: calls beyond "
                 "them, white diamond: mean)", fontsize=10)
    return fig


def _box(label: str, values) -> dict:
    """One box whose whiskers end at p5 and p95 as the summary computes them.

    ``boxplot(whis=(5, 95))`` would end each whisker at the last call inside that range, short
    of the p95 the tables print; here the whiskers are the percentiles, and the calls beyond
    them are drawn as dots."""
    from matplotlib import cbook

    box = cbook.boxplot_stats(values, labels=[label])[0]
    box["whislo"], box["whishi"] = percentile(values, 5), percentile(values, 95)
    box["fliers"] = [v for v in values if v < box["whislo"] or v > box["whishi"]]
    return box


def speed_figure(result: "ComparisonResult") -> Figure:
    """Time to first token against tokens/s: every call faint, the p50 of each provider bold.

    Top-left is best for both a chat UI (quick first word) and a batch job (fast stream);
    a chat UI cares most about the x axis, a batch job about the y axis.
    """
    records = result.measured_records()
    fig = _figure(6.4, 4.4)
    ax = fig.subplots()
    colors = provider_colors(result.summary.index)
    for label, row in result.summary.iterrows():
        color = colors[label]
        mine = records[records["provider"] == label]
        ax.scatter(mine["ttft_s"], mine["tokens_per_s"], s=14, alpha=0.25, color=color)
        if not (math.isnan(row["ttft_s_p50"]) or math.isnan(row["tokens_per_s_p50"])):
            # As in the table: a rate computed from estimated token counts is marked "~".
            shown = f"{label} (~ tokens estimated)" if row["tokens_estimated"] else label
            ax.scatter([row["ttft_s_p50"]], [row["tokens_per_s_p50"]], s=90, color=color,
                       edgecolor="black", label=shown, zorder=3)
            ax.annotate(shown, (row["ttft_s_p50"], row["tokens_per_s_p50"]),
                        textcoords="offset points", xytext=(6, 6), fontsize=9)
    ax.set_xlabel("time to first token, s (lower feels snappier)")
    ax.set_ylabel("output tokens/s after the first (higher streams faster)")
    ax.set_xlim(0, _top([records["ttft_s"]]))
    ax.set_ylim(0, _top([records["tokens_per_s"]]))
    ax.grid(alpha=0.3)
    if len(result.summary):
        # Beside the axes, never loc="best": searching every dot for a free corner takes seconds on
        # a busy machine, and matplotlib then warns about it in the student's output.
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    ax.set_title("Responsiveness vs throughput (dots: calls; circles: p50)", fontsize=10)
    return fig


def quality_figure(result: "ComparisonResult") -> Figure:
    """Fraction of answers passing, grouped by check type, one bar per provider."""
    table = result.quality_by_check
    labels = list(table.index)
    checks = list(table.columns)
    fig = _figure(max(6.4, 0.9 * len(checks) * max(1, len(labels)) / 2 + 3), 3.8)
    ax = fig.subplots()
    width = 0.8 / max(1, len(labels))
    colors = provider_colors(result.summary.index)
    for index, label in enumerate(labels):
        color = colors[label]
        shares = list(table.loc[label])
        values = [0.0 if pd.isna(v) else float(v) for v in shares]
        positions = [i + (index - (len(labels) - 1) / 2) * width for i in range(len(checks))]
        bars = ax.bar(positions, values, width=width, label=label, color=color)
        # A label on every bar: a provider at 0 % has no bar to see, and "—" marks no case of that kind.
        ax.bar_label(bars, labels=["—" if pd.isna(v) else f"{v:.0%}" for v in shares], fontsize=7, padding=1)
    ax.set_xticks(range(len(checks)), checks)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("fraction passed")
    n_cases = result.records.loc[~result.records["warmup"], "case_id"].nunique() if len(result.records) else 0
    ax.set_title(f"Quality by check type ({n_cases} cases; small samples: differences of one "
                 "case are noise)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))   # beside the bars (as above)
    return fig


def concurrency_figure(tables: "pd.DataFrame | dict[str, pd.DataFrame]", title: str = "", *,
                       colors: "dict[str, object] | None" = None) -> Figure:
    """Requests/s and latency p50/p95 against concurrency, from ``measure_concurrency``.

    Pass one table, or ``{label: table}`` to draw several providers on the same axes; ``colors``
    (``provider_colors(result.summary.index)``) keeps each provider in the colour a comparison's
    figures gave it.
    """
    return _against_load(tables, ("requests_per_s", "requests/s", "requests per second"), "latency_s_p95",
                         title or "Throughput and latency under concurrent load", colors)


def load_figure(tables: "pd.DataFrame | dict[str, pd.DataFrame]", title: str = "") -> Figure:
    """Latency (p50 and p99) and output throughput against load, from ``load.sweep``.

    The x axis is the sweep's index: concurrent requests, or requests per second. Pass one
    table, or ``{label: table}`` to draw several servers on the same axes."""
    return _against_load(tables, ("throughput_tok_s", "output tok/s", "output tokens per second"),
                         "latency_s_p99", title or "Throughput and latency against load")


def _against_load(tables, throughput: tuple[str, str, str], tail: str, title: str,
                  colors: "dict[str, object] | None" = None) -> Figure:
    """Throughput (left) and latency p50 plus a tail percentile (right) against load;
    ``throughput`` is (column, legend label, axis label), ``tail`` a latency column."""
    frames = tables if isinstance(tables, dict) else {"": tables}
    column, label, ylabel = throughput
    fig = _figure(8.0, 4.0)
    left, right = fig.subplots(1, 2)
    colors = {**provider_colors(frames), **(colors or {})}
    for name, frame in frames.items():
        color = colors[name]
        suffix = f" {name}" if name else ""
        levels = list(frame.index)
        left.plot(levels, frame[column], marker="o", color=color, label=f"{label}{suffix}")
        right.plot(levels, frame["latency_s_p50"], marker="o", color=color, label=f"p50{suffix}")
        right.plot(levels, frame[tail], marker="^", linestyle="--", color=color,
                   label=f"{tail.rsplit('_', 1)[-1]}{suffix}")
    axis = next(iter(frames.values())).index.name or "load"
    xlabel = "requests per second (Poisson arrivals)" if axis == "rate" else "concurrent requests"
    levels = sorted({level for frame in frames.values() for level in frame.index})
    for ax, shown, axis_label in ((left, column, ylabel), (right, tail, "latency, s")):
        if axis != "rate":
            ax.set_xticks(levels)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(axis_label)
        ax.set_ylim(0, _top([f[shown] for f in frames.values()]))
        ax.grid(alpha=0.3)
        _name_coinciding_lines(ax)
        # Below the axes, not on them: a legend inside covers the highest points, the tail's.
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.suptitle(title, fontsize=10)
    return fig


def _name_coinciding_lines(ax) -> None:
    """A line drawn over another at every point would be a series nobody can see: its legend
    entry says which one it coincides with ("p95 mock-batch (same as p50 mock-batch)")."""
    span = ax.get_ylim()[1] - ax.get_ylim()[0]
    lines = ax.get_lines()
    for index, line in enumerate(lines):
        for earlier in lines[:index]:
            if _same_points(line, earlier, tolerance=0.01 * span):
                line.set_label(f"{line.get_label()} (same as {earlier.get_label()})")
                break


def _same_points(one, other, tolerance: float) -> bool:
    xs, ys = list(one.get_xdata()), list(one.get_ydata())
    if xs != list(other.get_xdata()):
        return False
    return all(abs(float(a) - float(b)) <= tolerance for a, b in zip(ys, other.get_ydata()))


def _top(groups) -> float:
    """An axis top with head-room above the largest finite value (1 if there is none)."""
    values = [float(v) for group in groups for v in group if v is not None and math.isfinite(float(v))]
    return max(values) * 1.2 if values and max(values) > 0 else 1.0


def provider_colors(labels) -> dict:
    """One colour per provider, by its place in ``labels`` (a comparison's ``summary.index``): pass the
    same labels to every figure of one comparison and each provider keeps its colour in all of them."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {label: cmap(i % 10) for i, label in enumerate(labels)}


FIGURES = {"latency": latency_figure, "speed": speed_figure, "quality": quality_figure}

__all__ = ["FIGURES", "concurrency_figure", "load_figure", "in_notebook", "latency_figure", "provider_colors",
           "quality_figure", "speed_figure"]
