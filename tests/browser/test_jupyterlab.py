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


def _finished(stats_text: str) -> bool:
    """A race column / chat panel is done when its stats line shows the measured figures."""
    return "first token" in stats_text or "tokens/s" in stats_text or "Error" in stats_text


def test_race_columns_fill_concurrently(page, lab, step, output_dir):
    """Two mock providers race one prompt: both columns' text grows at the same time
    (some snapshot shows both non-empty with neither finished), then both show TTFT and
    tokens/s; the kernel agrees the streams overlapped."""
    with step("race-open-run"):
        lp.open_notebook(page, lab.url, "race_demo.ipynb")
        lp.run_all(page, timeout_ms=30_000)
        assert lp.error_outputs(page) == []
        race = lp.panel(page).locator(".jp-OutputArea-output .widget-vbox").filter(
            has=page.locator(".widget-hbox")).first
        expect(race.get_by_role("button", name="Race")).to_be_visible()
        columns = race.locator(".widget-hbox > .widget-vbox")
        expect(columns).to_have_count(2)
        expect(columns.nth(0)).to_contain_text("mock-fast")
        expect(columns.nth(1)).to_contain_text("mock-slow")
    with step("race-streaming"):
        texts = columns.locator(".widget-html:nth-child(2)")
        stats = columns.locator(".widget-html:nth-child(3)")
        race.get_by_role("button", name="Race").click()

        def read():
            return [len(t.strip()) for t in lp.texts(texts)], [_finished(s) for s in lp.texts(stats)]

        shot = {"taken": False}

        def until(value):
            lengths, done = value
            if not shot["taken"] and all(lengths) and not any(done):
                page.screenshot(path=str(output_dir / "race-mid-stream.png"))
                shot["taken"] = True
            return all(done)

        samples = lp.sample(read, until=until, every_s=0.1, timeout_s=20)
        both_streaming = [t for t, (lengths, done) in samples if all(lengths) and not any(done)]
        assert both_streaming, f"no moment with both columns streaming: {samples}"
        for i, label in enumerate(("mock-fast", "mock-slow")):
            seen = sorted({lengths[i] for _, (lengths, _) in samples if lengths[i]})
            assert len(seen) >= 3, f"{label} did not grow over time: {seen}"
        # Both grew between two consecutive snapshots while neither was finished.
        grew_together = [
            t1 for (t0, (l0, d0)), (t1, (l1, d1)) in zip(samples, samples[1:])
            if not any(d1) and all(b > a > 0 for a, b in zip(l0, l1))]
        assert grew_together, f"the columns never grew in the same interval: {samples}"
        for i in range(2):
            expect(stats.nth(i)).to_contain_text("first token")
            expect(stats.nth(i)).to_contain_text("tokens/s")
        print(f"race: {len(samples)} samples, both streaming for {len(both_streaming)} of them, "
              f"growing together at {[round(t, 2) for t in grew_together][:5]}…")
    with step("race-kernel-agrees"):
        output = lp.add_cell_and_run(page, "print(race.state.overlapped(), "
                                           "[c.error for c in race.state.columns.values()])")
        expect(output).to_contain_text("True [None, None]")
