"""The model server alone in namespaces of its own: a network whose only interface is its own
loopback, and a process tree that ends with its first process.

vLLM's worker listens on a dozen or so TCP ports of 127.0.0.1 (PyTorch distributed's rendezvous
and gloo, unauthenticated by design), and its HTTP server answers ``/invocations`` without the
API key. In a network namespace of its own no student's process can connect to any of them; the
gateway reaches vLLM through a Unix socket in root's state folder instead (a socket bound to a
path is a file: the namespace does not hide it, its folder's mode does). In a PID namespace of
its own, vLLM's engine and worker end when its API server does (the kernel kills what is left
when a namespace's first process dies): killed, it leaves no 3 GB engine behind for the hub's
restart to double. Needs root (CAP_SYS_ADMIN).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import struct
from typing import NoReturn

CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS = 0x40000000, 0x20000000, 0x00020000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(OSError):
    """The kernel refused a namespace (not root, or a container without CAP_SYS_ADMIN)."""


def run_alone(command: list[str]) -> NoReturn:
    """Runs ``command`` as the first process of a new PID namespace, in a new network namespace
    with its loopback up; this process stays its parent, passes SIGTERM, SIGINT and SIGHUP on
    (the hub stops a service with them) and exits as it does."""
    if _libc.unshare(CLONE_NEWNET | CLONE_NEWPID) != 0:
        error = ctypes.get_errno()
        raise NamespaceError(error, f"unshare: {os.strerror(error)} (namespaces of its own need "
                             "root with CAP_SYS_ADMIN)")
    _loopback_up()
    # The namespace's other processes, killed when its first one dies, become this process's
    # to reap (not the machine's first process's, which here reaps nobody's: zombies).
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    child = os.fork()
    if child == 0:
        try:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # this parent killed: the namespace ends too
            _own_proc()
            os.execv(command[0], command)
        finally:
            os._exit(127)
    def pass_on(received: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):  # it may have ended already
            os.kill(child, received)

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, pass_on)
    _, status = os.waitpid(child, 0)
    while True:  # the kernel has killed the rest of the namespace: they end, and are reaped here
        try:
            os.wait()
        except ChildProcessError:
            break
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def _own_proc() -> None:
    """A /proc of the new PID namespace, in a mount namespace of its own: vLLM reads
    ``/proc/<its pid>/status``, and the machine's /proc has that pid as someone else's, or not at
    all (then vLLM's worker fails to start: seen here). The machine's mounts are left as they are."""
    for call, arguments in (("unshare", (CLONE_NEWNS,)),
                            ("mount", (None, b"/", None, MS_REC | MS_PRIVATE, None)),
                            ("mount", (b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None))):
        if getattr(_libc, call)(*arguments) != 0:
            error = ctypes.get_errno()
            raise NamespaceError(error, f"{call}: {os.strerror(error)} (a /proc of its own needs root "
                                 "with CAP_SYS_ADMIN)")


def _loopback_up() -> None:
    """A new network namespace's ``lo`` starts down."""
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
    themselves."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/ns/net") == namespace:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
