"""A background job of a non-interactive shell (``make test > log &``, ``nohup``) starts with
SIGINT ignored, and every process it starts inherits that. The classes' fixtures start their
class so; a test then checks that none of the processes the hub stops with SIGINT kept it (one
that did would sit it out, and the hub's shutdown would wait 30 s for it: seen in every full run).
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path


@contextlib.contextmanager
def sigint_ignored():
    """SIGINT ignored in this process while the block runs."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def ignoring_sigint(pids) -> dict[int, str]:
    """Of ``pids``, those that ignore SIGINT (``SigIgn`` in /proc), with their command line."""
    found = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except OSError:
            continue
        ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
        if ignored & (1 << (signal.SIGINT - 1)):
            found[pid] = command
    return found


def children_of(parent: int) -> list[int]:
    """Pids whose parent is ``parent`` (``PPid`` in /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{parent}\n" in status:
                found.append(int(entry.name))
    return found
