"""Keep secrets out of error messages: servers sometimes echo the key they refused."""

from __future__ import annotations

from typing import Iterable


def redact(text: str, secrets: Iterable[str | None]) -> str:
    # Longest first: a password inside "user:password" must not leave "user:***" behind.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        # Short strings are not real keys, and replacing them would mangle ordinary words.
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text
