"""This process's memory, on every OS a student has: what it holds now, its own peak, and growth.

A notebook kernel is started by a bigger process (the Jupyter server, or a test runner), so the
peak must be the kernel's *own*. On Linux, ``getrusage(...).ru_maxrss`` is not: it survives
fork + exec, and a kernel started by a 2 GB parent reports 2 GB as its peak. The kernel's own
high-water mark there is ``VmHWM`` in ``/proc/self/status``, which exec resets. On Windows,
psutil's ``peak_wset`` is the process's own peak working set; on macOS, ``getrusage`` reports the
task's own maximum resident size (in bytes, where Linux counts KiB). psutil (which Jupyter's
kernel already depends on) reads the current resident size everywhere. What an OS cannot tell
is ``None``, never a guess.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
PROC_STATUS = Path("/proc/self/status")


@dataclass(frozen=True)
class Memory:
    rss_mib: float | None    # resident now
    peak_mib: float | None   # the most this process itself has held since it started

    def describe(self) -> str:
        shown = [f"{label} {value:.0f} MiB" if value is not None else f"{label} not available on this OS"
                 for label, value in (("now", self.rss_mib), ("peak", self.peak_mib))]
        return ", ".join(shown)

    def added_since(self, earlier: Memory) -> float | None:
        """MiB this process holds now beyond what it held at ``earlier`` (negative if it shrank)."""
        if self.rss_mib is None or earlier.rss_mib is None:
            return None
        return self.rss_mib - earlier.rss_mib


def memory_now() -> Memory:
    rss, peak = _rss_bytes(), _peak_bytes()
    if rss is not None and peak is not None:
        peak = max(peak, rss)  # the two are counted a little differently: a peak is never below now
    return Memory(rss_mib=rss / MIB if rss is not None else None,
                  peak_mib=peak / MIB if peak is not None else None)


def _rss_bytes() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss


def _peak_bytes() -> int | None:
    if sys.platform.startswith("linux"):
        return _linux_own_peak_bytes()
    if sys.platform == "win32":
        try:
            import psutil
        except ImportError:
            return None
        return getattr(psutil.Process().memory_info(), "peak_wset", None)
    if sys.platform == "darwin":
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return None  # another OS: no figure we know to be this process's own


def _linux_own_peak_bytes() -> int | None:
    try:
        status = PROC_STATUS.read_text()
    except OSError:  # /proc not mounted (some containers)
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            kib = line.split()[1]
            return int(kib) * 1024
    return None
