"""Where the workbook keeps what is slow to make and safe to reuse across clones: built
binaries, downloaded site scripts, fine-tuned adapters. ``WORKBOOK_CACHE_DIR`` moves it (tests use a fresh one)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Callable, Iterator


def cache_home() -> Path:
    base = os.environ.get("WORKBOOK_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbook"
    return Path(base)


@contextlib.contextmanager
def locked(path: Path, what: str, say: Callable[[str], None] = print,
           wait_s: float = 30 * 60) -> Iterator[None]:
    """Hold an exclusive file lock on ``path`` while ``what`` happens ("building llama-server"),
    so two processes asking at once do it once: the second waits (saying so), then finds it."""
    with open(path, "w") as handle:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"another process held {path} for over {wait_s / 60:.0f} minutes {what}: "
                        "if none is running, delete that file and try again") from None
                if not told:
                    say(f"Another process is {what}; waiting for it...")
                    told = True
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LockTimeout(RuntimeError):
    """A lock held far longer than the thing it guards takes to make."""
