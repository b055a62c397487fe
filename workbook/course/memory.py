"""This process's memory, on every OS a student has: what it holds now and its peak.

Linux's ``/proc/self/status`` does not exist on macOS or Windows. psutil (which Jupyter's
kernel already depends on) reads the current resident size everywhere; the peak comes from
``getrusage`` on Linux and macOS (which count it in KiB and bytes respectively) and from the
peak working set on Windows. What an OS cannot tell is ``None``, never a guess.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Memory:
    rss_mib: float | None    # resident now
    peak_mib: float | None   # the most it has held since it started

    def describe(self) -> str:
        shown = [f"{label} {value:.0f} MiB" if value is not None else f"{label} not available on this OS"
                 for label, value in (("now", self.rss_mib), ("peak", self.peak_mib))]
        return ", ".join(shown)


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
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil
        except ImportError:
            return None
        return getattr(psutil.Process().memory_info(), "peak_wset", None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
