"""Run a course notebook top to bottom under one offline backend, keeping the executed copy.

One function executes notebooks for everything that needs their outputs: the notebook tests
(which check them) and the course site (which publishes them). The site reuses the copies
the tests wrote, so a notebook runs once per backend, not once more for the site.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

# Long enough for the slowest cell measured (notebook 03 waits for the llama-server build).
# A notebook that waits for something longer says so in its metadata ("workbook": {"timeout_s":
# N}): 08 may wait for the fine-tune `make test` runs in the background.
CELL_TIMEOUT_S = 240


def cell_timeout_s(notebook: Path) -> int:
    import json

    try:
        declared = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["workbook"].get("timeout_s")
    except (OSError, ValueError, KeyError):
        declared = None
    return max(CELL_TIMEOUT_S, int(declared or 0))


def executed_name(notebook: Path, backend: str) -> str:
    return f"{notebook.stem}-{backend}.ipynb"


def execute(notebook: Path, backend: str, out_dir: Path, *,
            parameters: dict[str, object] | None = None) -> Path:
    """Execute ``notebook`` with ``BACKEND = backend`` (and any other papermill parameters),
    in the notebook's own folder; returns the executed copy in ``out_dir``. A failing cell
    raises papermill's ``PapermillExecutionError`` after the copy is written. What the kernel
    process itself prints (start-up warnings) goes to ``<copy>.kernel.log``, not the terminal."""
    import papermill  # imported here: the workbook's other tools do not need it

    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / executed_name(notebook, backend)
    with kernel_output_to(executed.with_suffix(".kernel.log")):
        try:
            papermill.execute_notebook(
                str(notebook), str(executed), parameters={"BACKEND": backend, **(parameters or {})},
                kernel_name="python3", cwd=str(notebook.parent), progress_bar=False, log_output=False,
                execution_timeout=cell_timeout_s(notebook),
            )
        except papermill.PapermillExecutionError:
            drop_banner_if_expected(executed)
            raise
    return executed


def drop_banner_if_expected(executed: Path) -> None:
    """An exercise's graded cells fail until the student has written the code: that is their
    job, not an accident. When every error of the run is in a cell tagged ``raises-exception``,
    papermill's red "An Exception was encountered" banner (and its anchor before the cell) would
    only bury the page, so it goes; any other error keeps it."""
    import nbformat

    run = nbformat.read(executed, as_version=4)
    banner = "papermill-error-cell-tag"
    errors_where_expected = all(
        "raises-exception" in cell.metadata.get("tags", [])
        for cell in run.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.get("output_type") == "error")
    if not errors_where_expected:
        return
    run.cells = [cell for cell in run.cells if banner not in cell.metadata.get("tags", [])]
    nbformat.write(run, executed)


@contextlib.contextmanager
def kernel_output_to(log: Path) -> Iterator[None]:
    """The kernel is a child process: it inherits this process's standard error, so point that
    at a file while the kernel starts and runs."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "ab") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
