"""Keep secrets out of error messages: servers sometimes echo the key they refused."""

from __future__ import annotations

from typing import Iterable


def redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        # Short strings are not real keys, and replacing them would mangle ordinary words.
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text
