"""Keep secrets out of error messages: servers sometimes echo the key they refused."""

from __future__ import annotations

from typing import Iterable
from urllib.parse import quote


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every configured secret, whatever its length, replaced by ``***``.

    A short key is still a key: a stray ``***`` inside an ordinary word costs less than a
    leaked one. A secret is also looked for percent-encoded, as a URL carries it.
    """
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    # Longest first: a password inside "user:password" must not leave "user:***" behind.
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
