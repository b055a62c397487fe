"""The error for a call on a provider after its ``aclose()``.

The HTTP clients underneath say only "the client has been closed" (a raw RuntimeError,
or something that reads like a network failure); the student needs to know the fix is a
new provider, not a different URL.
"""

from __future__ import annotations

from ..errors import ProviderError


def closed_provider_error(provider: str) -> ProviderError:
    return ProviderError(
        "this provider was closed, so it cannot send requests any more", provider=provider,
        hint="This provider was closed (aclose()); build a new one with create_ai_provider().")
