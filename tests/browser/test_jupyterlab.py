"""The workbook in a real JupyterLab, driven through headless Debian Chromium (Playwright).

What a student sees, checked on the page: the start-here notebook runs top to bottom
without errors and shows the environment table; the provider picker is a real dropdown
whose choice reaches the kernel; the chat panel streams a reply token by token; the race
fills its columns concurrently. Screenshots of every step land in ``test-output/browser/``.

Run: ``.venv/bin/pytest -m browser tests/browser -s`` (``-s`` prints each step's timing).
"""

from __future__ import annotations

import sys

import nbformat
import pytest
from playwright.sync_api import expect

import lab_page as lp

pytestmark = pytest.mark.browser


def _write_notebook(path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nbformat.write(nb, path)


def test_smoke_lab_runs_a_cell_in_the_venv_kernel(page, lab, step):
    """The harness itself: JupyterLab opens a notebook, the python3 kernel is this venv's
    interpreter, it sees the mock configuration, and a typed cell runs."""
    _write_notebook(lab.root / "browser_smoke.ipynb",
                    "import os, sys\nprint(sys.prefix)\nprint(os.environ['AI__PROVIDER'])")
    with step("smoke-open"):
        lp.open_notebook(page, lab.url, "browser_smoke.ipynb")
    with step("smoke-run-all"):
        prompts = lp.run_all(page, timeout_ms=30_000)
        assert prompts == ["[1]:"]
        out = lp.panel(page).locator(".jp-OutputArea-output").first
        expect(out).to_contain_text(sys.prefix)
        expect(out).to_contain_text("mock")
        assert lp.error_outputs(page) == []
    with step("smoke-typed-cell"):
        output = lp.add_cell_and_run(page, "6 * 7")
        expect(output).to_contain_text("42")
