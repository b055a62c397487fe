"""nbval, the quick way an instructor checks one notebook (README, "For instructors"):
``pytest --nbval-lax notebooks/NN_name.ipynb`` runs it top to bottom with its defaults.

Run exactly so, in a subprocess: the project's own pytest configuration (``pyproject.toml``:
``testpaths``, the timeout, asyncio mode) applies as it would for the instructor, and this
session's xdist worker and fixtures do not leak into it. The notebook is a short one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "00a_asyncio_primer.ipynb"

pytestmark = pytest.mark.notebooks


def test_nbval_lax_runs_a_notebook_top_to_bottom_and_passes():
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(NOTEBOOK, as_version=4).cells)
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PYTEST_", "AI__"))}  # no xdist worker, no developer's settings
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax",
         str(NOTEBOOK.relative_to(ROOT))],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # One item per code cell: every cell ran, none was skipped or collected twice.
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) == code_cells, output[-2000:]
    assert "nbval" in result.stdout, "the nbval plugin should be the one that collected the notebook"
