"""A stand-in Microsoft Entra ID credential for the emulator (there is no Entra ID offline).

It follows azure-identity's credential protocol (``get_token(*scopes)`` -> ``AccessToken``),
so ``get_bearer_token_provider`` and the openai SDK use it exactly as they would use
``DefaultAzureCredential`` after ``az login``. Its token is an unsigned JWT whose audience
comes from the requested scope; the emulator accepts a token for the Cognitive Services
audience, as Azure OpenAI does, and refuses others.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from typing import Iterator


def _part(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class OfflineCredential:
    """``OfflineCredential()`` mints tokens; ``OfflineCredential(fail=True)`` cannot sign in."""

    def __init__(self, *, fail: bool = False):
        self.fail = fail
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessToken
        from azure.core.exceptions import ClientAuthenticationError

        self.scopes.append(scopes)
        if self.fail:
            raise ClientAuthenticationError(
                "DefaultAzureCredential failed to retrieve a token from the included credentials.")
        audience = scopes[0].removesuffix("/.default") if scopes else ""
        token = f"{_part({'alg': 'none'})}.{_part({'aud': audience, 'oid': 'offline-student'})}.offline"
        return AccessToken(token, int(time.time()) + 3600)


@contextlib.contextmanager
def signed_in_offline(credential: OfflineCredential | None = None) -> Iterator[OfflineCredential]:
    """While the block runs, the workbook's Entra ID sign-in gets ``credential`` (a fresh
    ``OfflineCredential``) where live it asks ``DefaultAzureCredential``: build a provider with
    ``AI__AZURE_OPENAI_AUTH=entra`` inside it and it signs in offline, through its own code path."""
    from ..ai import entra

    credential = credential or OfflineCredential()
    live = entra.default_credential
    entra.default_credential = lambda: credential
    try:
        yield credential
    finally:
        entra.default_credential = live


__all__ = ["OfflineCredential", "signed_in_offline"]
