"""configurable-http-proxy, the Node.js proxy JupyterHub puts in front of everything.

It comes from npm (the ``configurable-http-proxy`` package), pinned, installed once per machine
into the workbook's cache (never globally), so a second classroom -- or a classroom with no
network -- starts from the cache.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from ..cache import cache_home
from .errors import ClassroomError

CHP_VERSION = "5.3.0"
NPM_INSTALL_TIMEOUT_S = 300


def proxy_dir() -> Path:
    return cache_home() / "configurable-http-proxy" / CHP_VERSION


def cached_proxy() -> Path | None:
    binary = proxy_dir() / "node_modules" / ".bin" / "configurable-http-proxy"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def ensure_proxy(progress: Callable[[str], None] | None = print) -> Path:
    """The path of ``configurable-http-proxy``; ``npm install``s it first if not cached yet."""
    found = cached_proxy()
    if found is not None:
        return found
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise ClassroomError(
            "JupyterHub's proxy (configurable-http-proxy) needs Node.js and npm, and this machine "
            "has none: install them (Debian/Ubuntu: apt install nodejs npm) and run again")
    target = proxy_dir()
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second classroom starting at once waits here
        found = cached_proxy()
        if found is not None:
            return found
        if progress:
            progress(f"Installing configurable-http-proxy {CHP_VERSION} from npm into {target} "
                     "(first use on this machine only)...")
        try:
            done = subprocess.run(
                ["npm", "install", "--prefix", str(target), "--no-audit", "--no-fund",
                 "--loglevel=error", f"configurable-http-proxy@{CHP_VERSION}"],
                capture_output=True, text=True, timeout=NPM_INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ClassroomError(f"npm install configurable-http-proxy@{CHP_VERSION} took over "
                                 f"{NPM_INSTALL_TIMEOUT_S} s: is the npm registry reachable?") from None
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise ClassroomError(f"npm install configurable-http-proxy@{CHP_VERSION} failed: {tail}")
    found = cached_proxy()
    if found is None:
        raise ClassroomError(f"npm installed configurable-http-proxy but {target} has no "
                             "node_modules/.bin/configurable-http-proxy")
    return found
