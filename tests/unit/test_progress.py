"""A progress bar leaves its last line behind in the saved notebook (what the course site shows).

Run in a real kernel (nbclient), since the point is what a notebook's output keeps after the bar
has finished: tqdm alone records only the "0%" it showed first.
"""

from __future__ import annotations

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
    assert WIDGET_VIEW in bars[0]["data"], "a bar that stays lost its live widget"
    assert "calls: 100%" in first and "7/7" in first, f"the saved bar is not its last line: {first!r}"
    # leave=False closes the widget: what is saved is the text alone.
    assert "hidden after: 100%" in second and "3/3" in second, f"a bar that hides did not record its end: {second!r}"


def test_outside_a_notebook_it_is_tqdm_as_usual(capsys):
    from tqdm import tqdm

    bar = progress_bar(range(2), desc="terminal", disable=True)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1]
