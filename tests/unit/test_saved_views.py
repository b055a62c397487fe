"""What a saved notebook keeps of a progress bar or a widget: its end, not its start (the course
site and any reader without a kernel see only that); a finished bar is a line of words.

Run in a real kernel (nbclient), since the point is what a notebook's outputs hold after the work:
tqdm alone records only the "0%" it showed first, a widget only its empty first view.
"""

from __future__ import annotations

import html

import nbformat
from nbclient import NotebookClient

from workbook.progress import progress_bar

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_in_a_notebook_the_saved_output_is_the_bars_last_line(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from workbook.progress import progress_bar\n"
        "for _ in progress_bar(range(7), desc='calls', leave=True):\n    pass\n"
        "for _ in progress_bar(range(3), desc='hidden after', leave=False):\n    pass")]
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    bars = [o for o in nb.cells[0].outputs if o.output_type == "display_data"]
    assert len(bars) == 2, f"expected two progress bars, got {nb.cells[0].outputs}"
    first, second = (str(bar["data"]["text/plain"]) for bar in bars)
    # A finished bar is saved as one line of words: no widget left to draw, no bar glyphs.
    assert WIDGET_VIEW not in bars[0]["data"] and "|" not in first, f"the finished bar left debris: {bars[0]}"
    assert first.startswith("calls: 7 of 7"), f"the saved line does not say what was done: {first!r}"
    assert second.startswith("hidden after: 3 of 3"), f"a bar that hides did not record its end: {second!r}"


def test_outside_a_notebook_it_is_tqdm_as_usual(capsys):
    from tqdm import tqdm

    bar = progress_bar(range(2), desc="terminal", disable=True)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1]


def test_a_widgets_saved_output_is_what_it_showed_after_its_work(tmp_path):
    """The race is shown before it runs; the saved static view must hold the replies."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from workbook.ai import create_ai_provider\nfrom workbook.widgets import Race\n"
            "race = Race({'quick': create_ai_provider(provider='mock', mock_ttft_s=0.01, mock_tokens_per_s=500)})\n"
            "race"),
        nbformat.v4.new_code_cell("results = await race.run('Say something.')\nprint(results['quick'].text)"),
    ]
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [o for o in nb.cells[0].outputs if o.output_type == "display_data"]
    assert len(shown) == 1, f"the race was shown {len(shown)} times: {nb.cells[0].outputs}"
    reply = nb.cells[1].outputs[0]["text"].strip()
    assert reply, "the mock gave no reply"
    assert WIDGET_VIEW in shown[0]["data"], "the live widget is gone"
    assert html.escape(reply.split()[0]) in shown[0]["data"]["text/html"], "the saved view is the race before it ran"
