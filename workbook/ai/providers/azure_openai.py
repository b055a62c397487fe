"""``azure_openai``: Azure OpenAI through ``openai.AsyncAzureOpenAI``.

Azure routes by *deployment* (the name you gave a model when deploying it). The default,
``AI__AZURE_OPENAI_API_VERSION=v1``, uses the current ``/openai/v1`` path (the deployment
goes in the body's ``model``); a dated version selects the older
``/openai/deployments/{deployment}/chat/completions?api-version=...`` path.
``AI__AZURE_OPENAI_AUTH=entra`` signs in with Microsoft Entra ID instead of a key.
"""

from __future__ import annotations

import openai

from .. import errors
from ..settings import AISettings
from .openai import OpenAIProvider


class AzureOpenAIProvider(OpenAIProvider):
    name = "azure_openai"
    hints = {
        "auth": "Check AI__AZURE_OPENAI_API_KEY: Azure portal -> your resource -> Keys and Endpoint.",
        "not_found": "The Azure deployment name is not the model name: set AI__AZURE_OPENAI_DEPLOYMENT "
                     "to the deployment's name in the Foundry portal, under Models + endpoints (a 404 'Resource not found' "
                     "can also mean an AI__AZURE_OPENAI_API_VERSION the resource does not offer).",
        "unavailable": "Check AI__AZURE_OPENAI_ENDPOINT (https://RESOURCE.openai.azure.com) and your network.",
    }

    def _model_name(self, settings: AISettings) -> str:
        return settings.azure_openai_deployment

    def _request(self, messages, max_tokens: int, temperature: float) -> dict:
        request = super()._request(messages, max_tokens, temperature)
        if self.settings.azure_openai_api_version != "v1":
            # verified 2026-12-07: the dated GA version's reference (azure-rest-api-specs,
            # inference/stable/2024-10-21) has no `reasoning_effort` -- it predates reasoning
            # models -- and Microsoft documents the value "none" for gpt-5.1 and later, on v1. So
            # the dated path sends only what the model cannot do without (its token field).
            request.pop("reasoning_effort", None)
        return request

    def _base_url(self, settings: AISettings) -> str | None:
        return settings.azure_openai_endpoint

    # The endpoint's user:password (a proxy's, say) travels as the Authorization header
    # OpenAIProvider.__init__ made of it, never in the URL: httpx logs URLs at INFO. (On the
    # v1 path that header replaces the key's bearer token, as in the OpenAI family and as
    # httpx did with credentials in the URL.)
    def _build_client(self, settings: AISettings, http_client):
        if settings.openai_api == "responses" and settings.azure_openai_api_version != "v1":
            # Microsoft's Responses API docs use the v1 path ("the v1 API is required" for the latest
            # features, read 2026-12-07): the workbook sends it there only.
            raise errors.ConfigurationError(
                f"AI__OPENAI_API=responses needs the v1 API, not AI__AZURE_OPENAI_API_VERSION="
                f"{settings.azure_openai_api_version}", provider=self.name,
                hint="Set AI__AZURE_OPENAI_API_VERSION=v1, or AI__OPENAI_API=chat_completions.")
        if settings.azure_openai_auth == "entra":
            return self._entra_client(settings, http_client)
        key = settings.secret("azure_openai_api_key")
        if settings.azure_openai_api_version == "v1":
            # The v1 path takes the key as a bearer token, like OpenAI's own API.
            return openai.AsyncOpenAI(
                api_key=key, base_url=f"{self._url}/openai/v1", default_headers=self._url_headers or None,
                timeout=settings.timeout_s, max_retries=0, http_client=http_client,
            )
        # The key is passed explicitly: left out, the SDK would silently read
        # AZURE_OPENAI_API_KEY from the environment instead.
        return openai.AsyncAzureOpenAI(
            api_key=key, azure_endpoint=self._url, default_headers=self._url_headers or None,
            api_version=settings.azure_openai_api_version,
            timeout=settings.timeout_s, max_retries=0, http_client=http_client,
        )

    def _entra_client(self, settings: AISettings, http_client):
        # No key at all: the token provider's bearer token is the only credential sent.
        from ..entra import token_provider

        if self._url_headers:
            # Both would be the Authorization header: one would silently replace the other.
            raise errors.ConfigurationError(
                "AI__AZURE_OPENAI_ENDPOINT carries a user:password, but with AI__AZURE_OPENAI_AUTH=entra "
                "the Authorization header carries the Entra ID token, so it cannot carry them too",
                provider=self.name,
                hint="Remove user:password from AI__AZURE_OPENAI_ENDPOINT (https://RESOURCE.openai.azure.com), "
                     "or use AI__AZURE_OPENAI_AUTH=key.")
        tokens = token_provider()
        if settings.azure_openai_api_version == "v1":
            return openai.AsyncOpenAI(
                api_key=tokens, base_url=f"{self._url}/openai/v1",
                timeout=settings.timeout_s, max_retries=0, http_client=http_client)
        return openai.AsyncAzureOpenAI(
            azure_ad_token_provider=tokens, azure_endpoint=self._url,
            api_version=settings.azure_openai_api_version,
            timeout=settings.timeout_s, max_retries=0, http_client=http_client)

    def _wrong_url_hint(self) -> str:
        return ("Check AI__AZURE_OPENAI_ENDPOINT: it is the resource's root, "
                "https://RESOURCE.openai.azure.com, with no path.")

    def __repr__(self) -> str:
        return (f"AzureOpenAIProvider(deployment={self.model!r}, endpoint={self._where()!r}, "
                f"api_version={self.settings.azure_openai_api_version!r})")
