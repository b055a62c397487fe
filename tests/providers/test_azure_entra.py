"""Azure OpenAI with Microsoft Entra ID: a bearer token from azure-identity, no api-key.

There is no Entra ID here, so the emulator's stand-in credential (azure-identity's own
credential protocol: ``get_token`` -> ``AccessToken``) mints a token for the requested
scope's audience; the emulator accepts a Cognitive Services token as Azure does and refuses
a token for another audience.
"""

import pytest

from workbook.ai import ConfigurationError, Message, create_ai_provider, missing_variables
from workbook.ai import entra
from workbook.ai.settings import AISettings
from workbook.emulator.offline_entra import OfflineCredential

QUESTION = [Message("user", "Say hello.")]


class WrongAudience(OfflineCredential):
    """A token minted for another Azure service (management), which Azure OpenAI refuses."""

    def get_token(self, *scopes, **kwargs):
        return super().get_token("https://management.azure.com/.default")


@pytest.fixture
def credential(monkeypatch):
    made = OfflineCredential()
    monkeypatch.setattr(entra, "default_credential", lambda: made)
    return made


def entra_settings(emu, **changes):
    settings = emu.settings("azure_openai").with_(azure_openai_auth="entra", azure_openai_api_key=None)
    return settings.with_(**changes)


@pytest.mark.parametrize("api_version", ["v1", "2024-10-21"])
async def test_entra_sends_a_bearer_token_and_no_api_key(emu, credential, api_version):
    emu.reset()
    provider = create_ai_provider(entra_settings(emu, azure_openai_api_version=api_version))
    reply = await provider.chat(QUESTION, max_tokens=20)
    assert reply.content
    (request,) = [r for r in emu.requests if r.method == "POST"]
    headers = {name.lower() for name in request.headers}
    assert "authorization" in headers and "api-key" not in headers
    assert credential.scopes and credential.scopes[0] == (entra.SCOPE,)


async def test_a_token_for_another_audience_is_refused(emu, monkeypatch):
    monkeypatch.setattr(entra, "default_credential",
                        lambda: WrongAudience())
    provider = create_ai_provider(entra_settings(emu))
    from workbook.ai import AuthenticationError
    with pytest.raises(AuthenticationError):
        await provider.chat(QUESTION)


async def test_a_credential_without_a_token_is_a_configuration_error_saying_az_login(emu, monkeypatch):
    emu.reset()
    monkeypatch.setattr(entra, "default_credential", lambda: OfflineCredential(fail=True))
    provider = create_ai_provider(entra_settings(emu))
    with pytest.raises(ConfigurationError) as caught:
        await provider.chat(QUESTION)
    assert "az login" in caught.value.hint
    assert not [r for r in emu.requests if r.method == "POST"], "a request went out without a token"


def test_entra_mode_needs_no_key_but_key_mode_does():
    base = dict(provider="azure_openai", azure_openai_endpoint="https://r.openai.azure.com",
                azure_openai_deployment="gpt-5.4-nano")
    assert missing_variables(AISettings(**base, azure_openai_auth="entra")) == []
    assert missing_variables(AISettings(**base)) == ["AI__AZURE_OPENAI_API_KEY"]
    assert AISettings(**base, azure_openai_auth=" Entra ").azure_openai_auth == "entra"
    with pytest.raises(ConfigurationError, match="AI__AZURE_OPENAI_AUTH"):
        AISettings(**base, azure_openai_auth="password")
