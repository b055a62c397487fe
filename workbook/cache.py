"""Where the workbook keeps what is slow to make and safe to reuse across clones: built
binaries, downloaded site scripts. ``WORKBOOK_CACHE_DIR`` moves it (tests use a fresh one)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    base = os.environ.get("WORKBOOK_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbook"
    return Path(base)
