"""JupyterLab as a student first meets it (``make lab``): no news pop-up, the course in front.

JupyterLab 4 asks on first start whether to fetch Jupyter news (its ``fetchNews`` setting is
"ask" by default). ``make setup`` installs ``scripts/jupyterlab-overrides.json`` into the venv's
settings overrides, which answers "never" for every user of that venv. This test starts the venv's
JupyterLab the way ``make lab`` does -- from ``notebooks/``, with empty user settings -- and reads
what the server hands the page: the setting's default, and the file browser's root folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from workbook.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
NOTIFICATION = "@jupyterlab/apputils-extension:notification"
INSTALLED = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "workbook.json"


def test_the_overrides_file_turns_news_and_update_checks_off():
    overrides = json.loads((ROOT / "scripts" / "jupyterlab-overrides.json").read_text())
    assert overrides[NOTIFICATION] == {"fetchNews": "false", "checkForUpdates": False}


def test_make_lab_starts_jupyterlab_in_the_notebooks_folder_on_notebook_00():
    dry_run = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60, check=True).stdout
    command = next(line for line in dry_run.splitlines() if "jupyter lab" in line)
    assert command.startswith("cd notebooks && ") and command.endswith("00_start_here.ipynb"), command
    setup = subprocess.run(["make", "-n", "-B", "setup"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60, check=True).stdout
    assert "scripts/jupyterlab-overrides.json .venv/share/jupyter/lab/settings/overrides.d/workbook.json" in setup


@pytest.fixture
def lab_from_notebooks(tmp_path):
    if not INSTALLED.exists():
        pytest.fail(f"{INSTALLED} is missing: `make setup` installs it into the venv", pytrace=False)
    port = free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip", "127.0.0.1",
         "--port", str(port), "--ServerApp.port_retries=0", "--ServerApp.token=",
         "--ServerApp.password="],
        cwd=ROOT / "notebooks", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(url, "/api/status")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-2000:])
                time.sleep(0.25)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def get(url: str, path: str):
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return json.loads(response.read())


def test_first_start_asks_no_news_question_and_shows_the_course(lab_from_notebooks):
    setting = get(lab_from_notebooks, f"/lab/api/settings/{NOTIFICATION}")
    properties = setting["schema"]["properties"]
    # The page asks its question only while fetchNews is "none"; a fresh user inherits this default.
    assert properties["fetchNews"]["default"] == "false"
    assert properties["checkForUpdates"]["default"] is False
    assert "fetchNews" not in setting.get("settings", {})  # nothing of the user's: the default decides
    root = get(lab_from_notebooks, "/api/contents")
    names = {item["name"] for item in root["content"]}
    assert root["path"] == "" and "00_start_here.ipynb" in names and "quiz.ipynb" in names
