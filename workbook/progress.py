"""Progress bars that leave a line of words behind: tqdm, whose notebook widget ends as a sentence.

In a notebook tqdm draws a widget, and a saved notebook keeps only the text tqdm gave it when
it first appeared ("0%"). Here the widget is shown with a display id and, once the bar closes,
replaced by one line saying what was done ("calls: 12 of 12 calls in 00:03"), with no bar glyphs
left in the saved output -- what the course site and any reader without a kernel see. In a
terminal it is tqdm as usual.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable


def progress_bar(iterable: Iterable | None = None, **options: Any):
    """``tqdm.auto.tqdm(iterable, **options)``, recording its last line in a notebook."""
    from tqdm.auto import tqdm as auto_tqdm
    from tqdm.notebook import tqdm as notebook_tqdm

    if not issubclass(auto_tqdm, notebook_tqdm) or options.get("disable"):
        return auto_tqdm(iterable, **options)
    return _recorded_bar_class()(iterable, **options)


@functools.cache
def _recorded_bar_class():
    """Defined on first use: importing tqdm.notebook and IPython costs time a terminal never needs."""
    from IPython.display import display
    from tqdm.notebook import tqdm as notebook_tqdm

    class RecordedBar(notebook_tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, display=False, **kwargs)
            self._handle = display(self.container, display_id=True)
            self.displayed = True

        def close(self):
            super().close()
            handle, self._handle = getattr(self, "_handle", None), None
            if handle is not None:                # the finished bar becomes one line of words
                handle.update({"text/plain": self.done_line()}, raw=True)

        def done_line(self) -> str:
            done = self.format_dict
            count = f"{done['n']} of {done['total']}" if done.get("total") else str(done["n"])
            unit = done.get("unit") or "it"
            unit = "items" if unit == "it" else unit if done["n"] == 1 or unit.endswith("s") else unit + "s"
            # tqdm's set_description() ends the prefix in ": " itself.
            prefix = (done.get("prefix") or "done").removesuffix(": ")
            return f"{prefix}: {count} {unit} in {self.format_interval(done['elapsed'])}"

    return RecordedBar

