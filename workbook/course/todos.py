"""An exercise's unfinished work, shown in one line instead of a traceback.

Before a student has written anything, an exercise's TODO cells raise ``NotImplementedError``
(nbgrader's stub) and its graded cells fail their ``assert``: that is expected, and a stack of
tracebacks would bury the one table that says what is left (the checker's). After
``show_unfinished_briefly()`` the kernel shows such an error as one line. It is still an error
(the cell's output is an error, so nbgrader scores a graded cell 0 and a grader sees the line),
and every other exception keeps its full traceback, where its line numbers help.
"""

from __future__ import annotations


def brief(error: BaseException) -> list[str]:
    """The lines shown for an unfinished TODO or a graded check that has not passed yet."""
    render = getattr(error, "_render_traceback_", None)
    if render is not None:       # a checker's NotPassedYet says it best itself
        return render()
    if isinstance(error, NotImplementedError):
        frame = error.__traceback__
        while frame is not None and frame.tb_next is not None:
            frame = frame.tb_next
        name = frame.tb_frame.f_code.co_name if frame is not None else "<module>"
        where = "this cell" if name == "<module>" else f"`{name}`"
        return [f"✗ Not written yet: {where} is a TODO ({error})."]
    text = str(error) or type(error).__name__
    return [text if text.startswith("✗") else f"✗ {text}"]


def show_unfinished_briefly() -> None:
    """From now on, this kernel shows ``NotImplementedError`` and ``AssertionError`` in one line."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:  # not in a notebook: nothing to shorten
        return
    def show(shell, etype, value, tb, tb_offset=None):
        lines = brief(value)
        shell._showtraceback(etype, value, lines)   # an error output, as any traceback is: only shorter
        return lines

    shell.set_custom_exc((NotImplementedError, AssertionError), show)
