"""nbgrader's Jupyter extensions are for instructors: off in the venv a student's `make lab` uses."""

from __future__ import annotations

import subprocess
import sys

SERVER_EXTENSIONS = ("formgrader", "validate_assignment", "assignment_list", "course_list")


def _jupyter(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "jupyter", *args], capture_output=True, text=True,
                          timeout=120)
    return done.stdout + done.stderr


def _state(listing: str, name: str) -> str:
    line = next((line for line in listing.splitlines() if name in line and "abled" in line), "")
    return "disabled" if "disabled" in line else "enabled" if "enabled" in line else f"not listed: {listing}"


def test_nbgrader_server_extensions_are_off():
    listing = _jupyter("server", "extension", "list")
    for extension in SERVER_EXTENSIONS:
        assert _state(listing, f"nbgrader.server_extensions.{extension}") == "disabled", \
            f"{extension} is on: `make setup` copies scripts/jupyter-instructor-off into the venv"


def test_nbgrader_and_notebook_lab_extensions_are_off():
    listing = _jupyter("labextension", "list")
    for extension in ("@jupyter/nbgrader", "@jupyter-notebook/lab-extension"):
        assert _state(listing, extension + " v") == "disabled", f"{extension} is on"
