"""What a saved measurement records about where and when it was taken."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from typing import Any


def run_metadata() -> dict[str, Any]:
    """What a reader needs to judge figures from another day or machine: the time, the
    versions that did the measuring, and the machine they ran on."""
    from importlib import metadata

    versions = {}
    for package in ("workbook", "openai", "llama_cpp_python", "httpx", "pandas"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions,
        "python": platform.python_version(), "machine": platform.machine(),
        "platform": platform.platform(), "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
