"""A process alone on a network of its own: a new network namespace whose only interface is
its own loopback.

vLLM's worker listens on a dozen TCP ports of 127.0.0.1 (PyTorch distributed's rendezvous and
gloo, unauthenticated by design), and its HTTP server answers ``/invocations`` without the API
key. In a namespace of its own, no student's process can connect to any of them; the gateway
reaches vLLM through a Unix socket in root's state folder instead (a socket bound to a path is
a file: the namespace does not hide it, its folder's mode does). Needs root (CAP_SYS_ADMIN).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


class NetworkNamespaceError(OSError):
    """The kernel refused a namespace (not root, or a container without CAP_SYS_ADMIN)."""


def enter_own_network() -> None:
    """Moves this process (and whatever it execs or starts later) into a new network
    namespace and brings its loopback up (a new namespace's ``lo`` starts down)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise NetworkNamespaceError(error, f"unshare(CLONE_NEWNET): {os.strerror(error)} "
                                    "(a network of its own needs root with CAP_SYS_ADMIN)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def namespace_of(pid: int | str = "self") -> str:
    """The network namespace ``pid`` is in (``net:[4026531840]``): equal for two processes
    that can reach each other's loopback ports."""
    return os.readlink(f"/proc/{pid}/ns/net")


def processes_in(namespace: str) -> list[int]:
    """Pids of the processes in network namespace ``namespace`` (root sees them all): vLLM's
    engine and worker, whose environment no longer shows the class's marker once they rename
    themselves, and which outlive their parent if it is killed."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/ns/net") == namespace:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
