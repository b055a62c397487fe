"""Is a server there, and is it on this machine? Asked by ``doctor``, the provider picker and the
notebooks' run modes.

No HTTP, no SDK: a TCP connect with a short timeout, so a widget can ask it on every
change. (URLs are shown with ``workbook.ai.settings.display_url``: no ``user:password``.)
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

PROBE_TIMEOUT_S = 0.5


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
