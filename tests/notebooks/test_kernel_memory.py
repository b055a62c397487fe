"""A notebook kernel reports its own memory, not that of the process that started it.

On Linux ``getrusage().ru_maxrss`` survives fork + exec: a kernel started by a pytest worker that
had loaded torch, or by a large Jupyter server, "peaked" at the parent's size (notebook 06 once
told students 2.4 GB). This starts a real kernel the way Jupyter and the notebook runners do
(jupyter_client: fork + exec of ``python -m ipykernel_launcher``) from a parent holding a few
hundred MB, and reads what ``workbook.course.memory`` says inside it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HELD_MIB = 400

# The parent: touch HELD_MIB of memory (bytes * n writes every page), then start a kernel and
# ask it for its memory the way notebook 06 does, and for ru_maxrss, the figure that misled.
PARENT = f"""
import json, resource, sys
from jupyter_client.manager import KernelManager
from workbook.course.memory import memory_now

held = b"\\x01" * ({HELD_MIB} * 1024 * 1024)
parent_peak = memory_now().peak_mib
km = KernelManager(kernel_name="python3")
km.start_kernel()
try:
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    printed = []
    def keep(msg):
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
    code = ("import json, resource\\n"
            "from workbook.course.memory import memory_now\\n"
            "m = memory_now()\\n"
            "print(json.dumps({{'peak_mib': m.peak_mib, 'rss_mib': m.rss_mib,"
            " 'ru_maxrss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))")
    reply = kc.execute_interactive(code, output_hook=keep, timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    kc.stop_channels()
finally:
    km.shutdown_kernel(now=True)
print(json.dumps({{"parent_peak_mib": parent_peak, "kernel": json.loads("".join(printed))}}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork + exec inheritance is Linux's")
def test_a_kernel_started_by_a_big_parent_reports_its_own_peak():
    run = subprocess.run([sys.executable, "-c", PARENT], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    kernel = seen["kernel"]

    assert seen["parent_peak_mib"] >= HELD_MIB, f"the parent did not hold {HELD_MIB} MiB: {seen}"
    # The trap is real here: the OS's inherited figure carries the parent's size into the kernel.
    assert kernel["ru_maxrss_kib"] / 1024 >= HELD_MIB, \
        f"ru_maxrss was not inherited on this Linux, so this test would prove nothing: {seen}"
    # What the workbook reports is the kernel's own: well under what its parent held.
    assert kernel["peak_mib"] is not None, "Linux reports VmHWM"
    assert kernel["peak_mib"] < HELD_MIB / 2, \
        f"the kernel reported {kernel['peak_mib']:.0f} MiB as its own peak: its parent's size leaked in ({seen})"
    assert kernel["peak_mib"] >= kernel["rss_mib"], "a peak is never below what is held now"
