"""Is a server there? Probes shared by ``doctor``, the provider picker and the exercises.

No HTTP, no SDK: a TCP connect with a short timeout, so a widget can ask it on every
change. (URLs are shown with ``workbook.ai.settings.display_url``: no ``user:password``.)
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

PROBE_TIMEOUT_S = 0.5


def provider_url(settings, name: str) -> str | None:
    """The URL provider ``name`` would talk to under ``settings``; ``None`` if it has none."""
    from .ai.registry import get_spec

    spec = get_spec(name)
    if spec is None or spec.url_field is None:
        return None
    url = getattr(settings, spec.url_field, None)
    default = (spec.default_url or "").format(region=getattr(settings, "aws_region", None) or "us-east-1")
    return url or default or None


def probe(url: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> bool | None:
    """Can a TCP connection be opened to ``url``'s host and port? ``None``: nothing to probe."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        # getaddrinfo ignores socket timeouts: resolve in a thread and give up after timeout_s.
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
            try:
                infos = future.result(timeout=timeout_s)
            except Exception:
                return False
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout_s)
            sock.connect(address)
        return True
    except OSError:
        return False


def is_loopback(url: str | None) -> bool:
    host = urlsplit(url).hostname if url else None
    return host in ("localhost", "127.0.0.1", "::1")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_marked(variable: str, value: str) -> list[int]:
    """Pids of this machine's other processes whose environment has ``variable=value``: how a
    command or a test finds every process it started (children inherit the marker) to stop them."""
    import os
    from pathlib import Path

    needle = f"{variable}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
