"""Closing providers: ``async with`` for every built-in one, and the error for a call
made after ``aclose()``.

The HTTP clients underneath say only "the client has been closed" (a raw RuntimeError,
or something that reads like a network failure); the student needs to know the fix is a
new provider, not a different URL.
"""

from __future__ import annotations

from ..errors import ProviderError


class Closeable:
    """``async with`` support on top of the provider's own ``aclose()``.

    The default ``aclose`` releases nothing: in-process providers (``mock``, ``local``,
    whose model is shared by the whole process) hold no connection.
    """

    async def aclose(self) -> None:
        return None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()


def closed_provider_error(provider: str) -> ProviderError:
    return ProviderError(
        "this provider was closed, so it cannot send requests any more", provider=provider,
        hint="This provider was closed (aclose()); build a new one with create_ai_provider().")
