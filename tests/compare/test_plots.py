"""The figures draw what their captions say: whiskers at the tables' p5/p95, no hidden series."""

import pandas as pd
import pytest
from matplotlib.colors import to_hex

from workbook.compare import ComparisonResult, concurrency_figure, percentile, provider_colors

# Ten quick calls and two slow ones: p95 (1.45 s) lies between the two slow calls, where no call is.
LATENCIES = [0.1] * 10 + [1.0, 2.0]


def _result(latencies) -> ComparisonResult:
    records = pd.DataFrame({"provider": "p", "warmup": False, "ttft_s": latencies, "latency_s": latencies})
    return ComparisonResult(summary=pd.DataFrame(index=["p"]), records=records,
                            quality_by_check=pd.DataFrame(), errors_by_type=pd.DataFrame())


def test_the_latency_whiskers_end_at_p5_and_p95_and_the_rest_are_dots():
    p5, p95 = percentile(LATENCIES, 5), percentile(LATENCIES, 95)
    assert p95 == pytest.approx(1.45) and p95 not in LATENCIES  # matplotlib's whis=(5, 95) would stop at 1.0
    figure = _result(LATENCIES).latency_figure()
    assert "whiskers: p5-p95" in figure._suptitle.get_text()
    for ax in figure.axes:
        ends = {round(float(y), 9) for line in ax.lines for y in line.get_ydata()}
        assert round(p95, 9) in ends and round(p5, 9) in ends, ends
        dots = [float(y) for line in ax.lines if line.get_linestyle() == "None" and line.get_marker() != "D"
                for y in line.get_ydata()]
        assert dots == [2.0], dots  # the one call beyond p95; the diamond is the mean


def test_a_line_hidden_under_another_says_so_in_the_legend():
    index = pd.Index([1, 4], name="concurrency")
    flat = pd.DataFrame({"requests_per_s": [3.0, 12.0], "latency_s_p50": [0.33, 0.33],
                         "latency_s_p95": [0.33, 0.33]}, index=index)
    queued = pd.DataFrame({"requests_per_s": [1.9, 1.9], "latency_s_p50": [0.5, 1.3],
                           "latency_s_p95": [0.6, 2.0]}, index=index)
    figure = concurrency_figure({"mock": flat, "local": queued})
    labels = [text.get_text() for text in figure.axes[1].get_legend().get_texts()]
    assert labels == ["p50 mock", "p95 mock (same as p50 mock)", "p50 local", "p95 local"], labels
    left = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert left == ["requests/s mock", "requests/s local"], left


def test_a_provider_keeps_its_colour_in_every_figure_and_statistics_take_none():
    """Notebook 11 draws the same providers in four figures: one colour means one provider in all of them."""
    records = pd.DataFrame({"provider": ["a"] * 3 + ["b"] * 3, "warmup": False,
                            "ttft_s": [0.1, 0.2, 0.3] * 2, "latency_s": [0.4, 0.5, 0.6] * 2})
    result = ComparisonResult(summary=pd.DataFrame(index=["a", "b"]), records=records,
                              quality_by_check=pd.DataFrame(), errors_by_type=pd.DataFrame())
    colors = {label: to_hex(color) for label, color in provider_colors(["a", "b"]).items()}
    for ax in result.latency_figure().axes:
        assert [to_hex(box.get_facecolor()) for box in ax.patches] == [colors["a"], colors["b"]]
        # Whiskers, medians, dots and the mean's diamond: none in a colour that names a provider.
        statistics = {to_hex(line.get_color()) for line in ax.lines} | {
            to_hex(line.get_markerfacecolor()) for line in ax.lines if line.get_marker() == "D"}
        assert not statistics & set(colors.values()), "a statistic drawn in a provider's colour"
    index = pd.Index([1, 4], name="concurrency")
    table = pd.DataFrame({"requests_per_s": [1.0, 2.0], "latency_s_p50": [0.5, 0.6],
                          "latency_s_p95": [0.7, 0.8]}, index=index)
    # Only b was swept: drawn alone, it keeps b's colour, not the first colour of the palette.
    figure = concurrency_figure({"b": table}, colors=provider_colors(["a", "b"]))
    assert {to_hex(line.get_color()) for ax in figure.axes for line in ax.get_lines()} == {colors["b"]}
