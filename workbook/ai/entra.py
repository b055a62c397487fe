"""Microsoft Entra ID (formerly Azure AD) sign-in for Azure OpenAI: no key, a token instead.

``AI__AZURE_OPENAI_AUTH=entra`` builds the client with a bearer-token provider from
``azure-identity``: ``DefaultAzureCredential`` tries, in order, the environment
(``AZURE_CLIENT_ID`` / ``AZURE_TENANT_ID`` / ``AZURE_CLIENT_SECRET``), a managed identity,
and the Azure CLI's ``az login``; the token is for the Cognitive Services scope. The
identity needs the "Cognitive Services OpenAI User" role on the resource.

``azure-identity`` is imported only here, only when that mode is built.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from . import errors

SCOPE = "https://cognitiveservices.azure.com/.default"
SIGN_IN_HINT = ("Sign in with `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and "
                "AZURE_CLIENT_SECRET), and give that identity the Cognitive Services OpenAI User "
                "role on the resource; or use AI__AZURE_OPENAI_AUTH=key.")


def default_credential() -> Any:
    """The credential chain azure-identity recommends (environment, managed identity, az login)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def token_provider(credential: Any = None) -> Callable[[], Awaitable[str]]:
    """An async callable returning a bearer token, for the openai SDK's Azure clients.

    A credential that cannot produce a token raises ``ConfigurationError`` (with the
    ``az login`` hint) at the call that needed it, instead of azure-identity's long report.
    """
    try:
        from azure.identity import get_bearer_token_provider
    except ImportError:
        raise errors.ConfigurationError(
            "AI__AZURE_OPENAI_AUTH=entra needs the azure-identity package, which is not installed",
            provider="azure_openai",
            hint="Install it (`pip install azure-identity`, or `make setup`), or use AI__AZURE_OPENAI_AUTH=key.",
        ) from None
    fetch = get_bearer_token_provider(credential if credential is not None else default_credential(), SCOPE)

    async def provide() -> str:
        try:
            # azure-identity's credentials block (a CLI call, an HTTP request): not on the loop.
            return await asyncio.to_thread(fetch)
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [""])[0][:200]
            raise errors.ConfigurationError(
                f"Entra ID gave no token for Azure OpenAI ({type(error).__name__}: {first_line})",
                provider="azure_openai", hint=SIGN_IN_HINT) from None

    return provide


__all__ = ["SCOPE", "SIGN_IN_HINT", "default_credential", "token_provider"]
