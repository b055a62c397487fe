"""A ``user:password@`` in a base URL becomes an Authorization header.

httpx logs every request's URL at INFO, user:password included; a header is not logged.
The pieces are also what an error message must never show, should a server echo the
request headers back (``Basic base64(user:password)``) -- see ``_redact``.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote, urlsplit


def split_credentials(url: str | None) -> tuple[str | None, dict[str, str], list[str]]:
    """(url without user:password, headers carrying them, the secret strings to redact)."""
    if not url:
        return url, {}, []
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}, []
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    pair = f"{user}:{password}"
    token = base64.b64encode(pair.encode()).decode()
    clean = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return clean, {"Authorization": f"Basic {token}"}, [pair, token, password]
