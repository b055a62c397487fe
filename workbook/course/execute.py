"""Run a course notebook top to bottom under one offline backend, keeping the executed copy.

One function executes notebooks for everything that needs their outputs: the notebook tests
(which check them) and the course site (which publishes them). The site reuses the copies
the tests wrote, so a notebook runs once per backend, not once more for the site.
"""

from __future__ import annotations

from pathlib import Path

# Long enough for the slowest cell measured (notebook 03 waits for the llama-server build).
CELL_TIMEOUT_S = 240


def executed_name(notebook: Path, backend: str) -> str:
    return f"{notebook.stem}-{backend}.ipynb"


def execute(notebook: Path, backend: str, out_dir: Path, *,
            parameters: dict[str, object] | None = None) -> Path:
    """Execute ``notebook`` with ``BACKEND = backend`` (and any other papermill parameters),
    in the notebook's own folder; returns the executed copy in ``out_dir``. A failing cell
    raises papermill's ``PapermillExecutionError`` after the copy is written."""
    import papermill  # imported here: the workbook's other tools do not need it

    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / executed_name(notebook, backend)
    papermill.execute_notebook(
        str(notebook), str(executed), parameters={"BACKEND": backend, **(parameters or {})},
        kernel_name="python3", cwd=str(notebook.parent), progress_bar=False, log_output=False,
        execution_timeout=CELL_TIMEOUT_S,
    )
    return executed
