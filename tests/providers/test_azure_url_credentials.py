"""Azure OpenAI: a ``user:password@`` in AI__AZURE_OPENAI_ENDPOINT travels as a header.

httpx logs every request's URL at INFO; a URL carrying user:password would put the password
in a student's log. Like the OpenAI family, Azure's client gets the URL without them and an
``Authorization: Basic`` header instead, on the v1 path and on the dated deployments path.
With Entra ID that header carries the token, so user:password in the endpoint is refused
when the provider is built -- without showing the password.
"""

import base64
import logging

import pytest

from workbook.ai import AISettings, ConfigurationError, Message, create_ai_provider
from workbook.ai import entra
from workbook.aio import aclose_quietly
from workbook.emulator.offline_entra import OfflineCredential

from hostile_server import ANSWER, HostileServer, answer_well

PASSWORD = "pw-AzureProxy-5150"
BASIC = "Basic " + base64.b64encode(f"student:{PASSWORD}".encode()).decode()


def azure_settings(url: str, auth: str, api_version: str) -> AISettings:
    return AISettings(
        provider="azure_openai", azure_openai_auth=auth, azure_openai_api_version=api_version,
        azure_openai_endpoint=url.replace("http://", f"http://student:{PASSWORD}@"),
        azure_openai_api_key="test-key" if auth == "key" else None,
        azure_openai_deployment="gpt-4o-mini", timeout_s=5, max_retries=0)


@pytest.mark.parametrize("api_version", ["v1", "2024-10-21"])
async def test_the_endpoint_password_is_a_header_and_never_logged(api_version, caplog):
    caplog.set_level(logging.INFO)
    with HostileServer(answer_well) as server:
        provider = create_ai_provider(azure_settings(server.url, "key", api_version))
        try:
            reply = await provider.chat([Message("user", "Why is the sky blue?")], max_tokens=16)
        finally:
            await aclose_quietly(provider)
    assert reply.content == "".join(ANSWER)
    (request,) = server.requests
    sent = {name.lower(): value for name, value in request.headers.items()}
    assert sent.get("authorization") == BASIC, sent
    logged = [record.getMessage() for record in caplog.records]
    assert any("HTTP Request: POST" in line for line in logged), logged  # the line that leaked
    assert not [line for line in logged if PASSWORD in line], logged


@pytest.mark.parametrize("api_version", ["v1", "2024-10-21"])
def test_entra_refuses_an_endpoint_with_a_password_without_showing_it(api_version, monkeypatch):
    monkeypatch.setattr(entra, "default_credential", lambda: OfflineCredential())
    with pytest.raises(ConfigurationError, match="user:password") as caught:
        create_ai_provider(azure_settings("http://127.0.0.1:9", "entra", api_version))
    assert PASSWORD not in f"{caught.value!r} {caught.value} {caught.value.hint}"
