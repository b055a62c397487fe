"""JupyterLab + headless Debian Chromium (Playwright) fixtures for the browser tests.

* ``lab``: a JupyterLab server on 127.0.0.1 (free port, no token, no password) whose root
  is a throwaway copy of ``notebooks/`` plus the browser-only notebooks next to this file.
  Config, data, runtime, settings and workspace dirs are temporary too, so nothing the
  browser saves touches the repo or the developer's own Jupyter setup. The kernelspec
  ``python3`` still resolves to the interpreter running pytest (the venv): jupyter_client
  replaces the spec's ``python`` with the server's own ``sys.executable``.
  The kernel sees ``AI__PROVIDER=mock`` with a slow-enough mock that streaming is visible.
* ``browser`` / ``page``: Playwright driving ``/usr/bin/chromium``; console messages are
  collected so a failing step can save them.
* ``step``: ``with step("name"):`` saves a screenshot under ``test-output/browser/`` when the
  step succeeds, and a screenshot plus the console log and the server log tail when it fails.

Chromium policy: in CI (``CI=true``) a missing Chromium is a failure (``make test`` installs it
through scripts/ensure-chromium.sh first); on a student's machine the tests skip, saying why.
``WORKBOOK_CHROMIUM`` points at another Chromium binary (default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from workbook.processes import processes_marked

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# One folder per parallel worker (make test runs test files side by side).
OUTPUT = ROOT / "test-output" / "browser" / os.environ.get("PYTEST_XDIST_WORKER", "main")
CHROMIUM = os.environ.get("WORKBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
# The mock's latency model in the kernel: slow enough that a reply visibly streams.
KERNEL_ENV = {"AI__PROVIDER": "mock", "AI__MOCK_TTFT_S": "0.3", "AI__MOCK_TOKENS_PER_S": "30"}
# Variables of the developer's that must not leak into the kernel.
SECRET_NAMES = ("AWS_BEARER_TOKEN_BEDROCK", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")
# JupyterLab user settings: no news/update requests to the closed network, and every cell
# kept in the DOM (no windowing) so the tests can read every prompt and output.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
# Browser-only notebooks (not part of the course; never collected as tests).
collect_ignore_glob = ["*.ipynb"]


# --------------------------------------------------------------------------- chromium


def _chromium_available() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if not _chromium_available():
        why = (f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium; "
               "make test installs it in CI)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser test, but {why}", pytrace=False)
        pytest.skip(why)
    try:
        import playwright  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must run the browser test, but the playwright package is missing "
                        "(pip install -r requirements.txt)", pytrace=False)
        pytest.skip("the playwright package is not installed (pip install playwright)")
    return CHROMIUM


# --------------------------------------------------------------------------- jupyterlab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with_marker(marker: str) -> list[int]:
    """Pids of processes whose environment carries this run's marker (server and kernels)."""
    return processes_marked("WORKBOOK_BROWSER_RUN", marker)


@dataclass
class Lab:
    url: str
    root: Path
    log: Path
    process: subprocess.Popen
    marker: str
    started_s: float = 0.0

    def api(self, path: str, method: str = "GET", timeout: float = 10):
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        # Shut kernels down through the API first (they run in their own sessions), then
        # the server: SIGTERM, then SIGKILL; finally anything still carrying our marker.
        with contextlib.suppress(Exception):
            for kernel in self.api("/api/kernels"):
                with contextlib.suppress(Exception):
                    self.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=15)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _processes_with_marker(self.marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in _processes_with_marker(self.marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _prepare_root(tmp: Path) -> Path:
    root = tmp / "root"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for nb in HERE.glob("*.ipynb"):
        if not (root / nb.name).exists():  # never shadow a course notebook
            shutil.copy2(nb, root / nb.name)
    return root


def start_lab(tmp: Path, log_path: Path, *, settings: dict = LAB_SETTINGS, extra_args: tuple = ()) -> Lab:
    """``settings``: the user's JupyterLab settings; ``extra_args``: more server options."""
    root = _prepare_root(tmp)
    for name in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
        (tmp / name).mkdir()
    for rel, value in settings.items():
        path = tmp / "settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AI__") and k not in SECRET_NAMES}
    env.update(KERNEL_ENV)
    env.update(
        WORKBOOK_BROWSER_RUN=marker,
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    port = _free_port()
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ip", "127.0.0.1", "--port", str(port), "--ServerApp.port_retries=0",
        "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        f"--LabApp.user_settings_dir={tmp / 'settings'}",
        *extra_args,
    ]
    log = open(log_path, "w")
    t0 = time.monotonic()
    process = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    lab = Lab(url=f"http://127.0.0.1:{port}", root=root, log=log_path, process=process, marker=marker)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{lab.log_tail()}")
        try:
            lab.api("/api/status", timeout=2)
            break
        except Exception:
            if time.monotonic() > deadline:
                lab.stop()
                raise RuntimeError(f"JupyterLab did not answer /api/status in 60 s:\n{lab.log_tail()}")
            time.sleep(0.25)
    lab.started_s = time.monotonic() - t0
    return lab


@pytest.fixture(scope="session")
def output_dir() -> Path:
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    OUTPUT.mkdir(parents=True)
    return OUTPUT


@pytest.fixture(scope="session")
def lab_starter(chromium_executable):
    """``start_lab`` itself, for tests that need a server with other settings than ``lab``'s."""
    return start_lab


@pytest.fixture(scope="module")
def lab(chromium_executable, output_dir):
    with tempfile.TemporaryDirectory(prefix="workbook-lab-") as tmp:
        lab = start_lab(Path(tmp), output_dir / "jupyter-server.log")
        try:
            yield lab
        finally:
            lab.stop()
            leftover = _processes_with_marker(lab.marker)
            assert not leftover, f"processes left behind by JupyterLab: {leftover}"


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() gives Chromium a fresh, empty --user-data-dir and removes it afterwards.
        browser = pw.chromium.launch(executable_path=chromium_executable, headless=True,
                                     args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Console:
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@pytest.fixture(scope="module")
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.set_default_navigation_timeout(30_000)
    console = Console()
    start = time.monotonic()
    page.on("console", lambda m: console.lines.append(
        f"{time.monotonic() - start:8.2f}s [{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.lines.append(
        f"{time.monotonic() - start:8.2f}s [pageerror] {e}"))
    page.console = console  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        (OUTPUT / "console.log").write_text(console.text())
        context.close()


_counter = iter(range(1, 1000))


@pytest.fixture
def step(page, lab, output_dir, request):
    """``with step("what"):`` — screenshot after it succeeds; screenshot, console and
    server log tail if it fails (then the error propagates)."""

    @contextlib.contextmanager
    def run(name: str):
        stem = f"{next(_counter):02d}-{name}"
        t0 = time.monotonic()
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(output_dir / f"{stem}-FAILED.png"), full_page=False)
            (output_dir / f"{stem}-FAILED-console.log").write_text(page.console.text())
            (output_dir / f"{stem}-FAILED-server.log").write_text(lab.log_tail(200) + "\n")
            print(f"step {name!r} failed after {time.monotonic() - t0:.1f}s; "
                  f"screenshot and logs in {output_dir}")
            raise
        page.screenshot(path=str(output_dir / f"{stem}.png"), full_page=False)
        print(f"step {name!r}: {time.monotonic() - t0:.1f}s -> {output_dir / stem}.png")

    return run
