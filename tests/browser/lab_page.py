"""What a person does in JupyterLab, as Playwright calls on the visible notebook panel.

Every wait has its own timeout, so a hang fails fast (and the step fixture screenshots it).
Selectors are JupyterLab 4's own classes, scoped to the notebook panel that is showing.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Locator, Page, expect

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
PROMPT_DONE = re.compile(r"^\[\d+\]:$")


def panel(page: Page) -> Locator:
    return page.locator(PANEL)


def open_notebook(page: Page, base_url: str, name: str, *, timeout_ms: int = 45_000) -> Locator:
    """Open ``name`` with a reset workspace and wait for its kernel to be idle."""
    page.goto(f"{base_url}/lab/tree/{name}?reset", timeout=timeout_ms)
    nb = panel(page)
    nb.wait_for(state="visible", timeout=timeout_ms)
    expect(nb.locator(".jp-Toolbar-kernelName")).to_contain_text("Python 3", timeout=timeout_ms)
    wait_idle(page, timeout_ms=timeout_ms)
    return nb


def kernel_status(page: Page) -> str:
    indicator = panel(page).locator(".jp-Notebook-ExecutionIndicator")
    return indicator.get_attribute("data-status", timeout=5_000) or ""


def wait_idle(page: Page, *, timeout_ms: int = 30_000, settle_s: float = 0.5) -> None:
    """The kernel is idle and stays idle for ``settle_s`` (a Run All goes idle between cells)."""
    deadline = time.monotonic() + timeout_ms / 1000
    idle_since = None
    while time.monotonic() < deadline:
        if kernel_status(page) == "idle":
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle_s:
                return
        else:
            idle_since = None
        time.sleep(0.1)
    raise TimeoutError(f"kernel not idle after {timeout_ms / 1000:.0f} s "
                       f"(status {kernel_status(page)!r})")


def menu(page: Page, top: str, item: str) -> None:
    """Click a menu-bar entry, then one of its items (e.g. Run → Run All Cells)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).click()


def code_prompts(page: Page) -> list[str]:
    """The input prompt of every code cell, e.g. ``['[1]:', '[2]:', '[*]:', '[ ]:']``."""
    return [t.strip() for t in
            panel(page).locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()]


def run_all(page: Page, *, timeout_ms: int = 60_000) -> list[str]:
    """Run → Run All Cells; wait until every code cell has an execution count and the
    kernel is idle. Returns the prompts."""
    nb = panel(page)
    nb.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + timeout_ms / 1000
    prompts = code_prompts(page)
    while time.monotonic() < deadline:
        prompts = code_prompts(page)
        if prompts and all(PROMPT_DONE.match(p) for p in prompts):
            wait_idle(page, timeout_ms=max(1_000, int((deadline - time.monotonic()) * 1000)))
            return code_prompts(page)
        time.sleep(0.25)
    raise TimeoutError(f"Run All did not finish in {timeout_ms / 1000:.0f} s; prompts {prompts}")


def error_outputs(page: Page) -> list[str]:
    """Texts of outputs that show an error: tracebacks on stderr (JupyterLab renders error
    outputs as stderr too)."""
    texts = panel(page).locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    return [t for t in texts if re.search(r"Traceback|\w+Error\b|\w+Exception\b", t)]


def save(page: Page, *, timeout_ms: int = 15_000) -> None:
    """Ctrl+S, and wait for the server to answer the save (jupyter_server rewrites the file
    in place: reading it through the API before the PUT returns can see half a file)."""
    panel(page).locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    with page.expect_response(lambda r: r.request.method == "PUT" and "/api/contents/" in r.url,
                              timeout=timeout_ms) as response:
        page.keyboard.press("Control+s")
    assert response.value.ok, f"save failed: HTTP {response.value.status} {response.value.text()}"


def add_cell_and_run(page: Page, source: str, *, timeout_ms: int = 20_000) -> Locator:
    """Append a code cell at the end, type ``source``, run it; returns the cell's output area."""
    nb = panel(page)
    count = nb.locator(".jp-Cell").count()
    last = nb.locator(".jp-Cell").nth(count - 1)
    last.scroll_into_view_if_needed()
    last.locator(".jp-InputPrompt").click()          # select the cell, command mode
    page.keyboard.press("Escape")
    page.keyboard.press("b")                          # new cell below, selected
    cell = nb.locator(".jp-Cell").nth(count)          # (Shift+Enter on it adds another)
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.insert_text(source)
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(PROMPT_DONE, timeout=timeout_ms)
    return cell.locator(".jp-OutputArea")


# A snapshot of several widgets' texts in one JavaScript call, so "at the same moment" holds.
_TEXTS_JS = "els => els.map(e => e.innerText)"


def texts(locator: Locator) -> list[str]:
    return locator.evaluate_all(_TEXTS_JS)


def sample(read, *, until, every_s: float = 0.1, timeout_s: float = 20.0) -> list[tuple[float, object]]:
    """Call ``read()`` every ``every_s`` until ``until(value)`` is true; returns
    ``[(seconds since start, value), ...]``. Raises TimeoutError (with the samples) on a hang."""
    samples: list[tuple[float, object]] = []
    t0 = time.monotonic()
    while True:
        value = read()
        samples.append((time.monotonic() - t0, value))
        if until(value):
            return samples
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"still going after {timeout_s:.0f} s; last samples {samples[-3:]}")
        time.sleep(every_s)


def record_changes(locator: Locator, key: str) -> None:
    """Record (ms, text length) in the page at every DOM change under ``locator``: catches
    a stream too fast for polling from Python (each token is one widget update)."""
    locator.evaluate(
        """(el, key) => {
            const t0 = performance.now();
            const rec = (window.__records = window.__records || {})[key] = [];
            const push = () => rec.push([performance.now() - t0, el.innerText.trim().length]);
            push();
            new MutationObserver(push).observe(el, {subtree: true, childList: true, characterData: true});
        }""", key)


def recorded(page: Page, key: str) -> list[tuple[float, int]]:
    return [tuple(r) for r in page.evaluate("key => (window.__records || {})[key] || []", key)]
