"""Finding the processes a command started, so that it can stop every one of them."""

from __future__ import annotations

import os
from pathlib import Path


def processes_marked(variable: str, value: str) -> list[int]:
    """Pids of this machine's other processes whose environment has ``variable=value``: how a
    command or a test finds every process it started (children inherit the marker) to stop them."""
    needle = f"{variable}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
