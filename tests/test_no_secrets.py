"""No secret in any output: issue 11's secret search.

Distinctive secrets go into every place one can be configured -- the OpenAI and Azure
keys, a ``user:password@`` in each URL setting, the AWS access key, secret key and
session token, and a key pasted by mistake into ``AI__PROVIDER`` -- and then everything
a student can see is searched for them, in every form they travel in (as written,
percent-encoded, and inside HTTP Basic's base64):

* ``repr``/``str`` of settings and providers, ``model_dump()``, ``model_dump_json()``;
* every error's message, hint, ``repr`` and the traceback a notebook would print, from each
  network provider against the hostile server's faults -- including a server that echoes
  the request's headers in its error body -- and against a port nobody listens on;
* log records at INFO (httpx, openai, botocore...) while those calls run;
* ``python -m workbook doctor --quick`` run in a subprocess;
* the emulator's request log, as ``Emulator.requests`` and as ``GET /emulator/requests``;
* a key put in a URL setting's query string (refused when the settings are read, without
  echoing it) and a key shorter than 8 characters echoed back by the server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from workbook.ai import AISettings, Message, create_ai_provider
from workbook.ai.errors import ConfigurationError, ProviderError
from workbook.ai.registry import get_spec, network_names
from workbook.ai.settings import entry_fields, env_name, is_url_field, load_settings, setting_names
from workbook.aio import aclose_quietly
from workbook.emulator import Emulator
from workbook.ports import free_port

from providers.hostile_server import FAULTS, HostileServer, echo_headers

QUESTION = [Message("user", "Why is the sky blue?")]
URL_USER = "student"
SECRETS = {
    "OpenAI key": "sk-SECRETopenai4f1c2d9e",
    "OpenAI-compatible server's key": "SECRETserverKey5e2a",
    "Azure key": "SECRETazure77ab31c0",
    "URL password": "SECRETurlpw93kd",
    "AWS access key id": "AKIASECRETKEYID0042",
    "AWS secret key": "SECRETawsSecret/Key+81",
    "AWS session token": "SECRETsessionTokenQ7Z",
    "key pasted into AI__PROVIDER": "sk-SECRETpasted0b0b",
}
PROVIDERS = tuple(network_names())  # from the registry: a new provider is searched too
MODELS = {"ollama": "llama3.2", "bedrock": "anthropic.claude-3-haiku-20240307-v1:0"}
URL_VARIABLES = tuple(env_name(field) for field in setting_names() if is_url_field(field))
# Faults whose errors carry text from the server or the URL; each runs for every provider.
SEARCHED_FAULTS = ("auth_401", "forbidden_403", "not_found_404", "rate_limit_long_retry_after",
                   "server_error_500", "hang_after_headers", "cut_stream", "malformed_body",
                   "html_200", "invalid_utf8", "echo_headers", "connection_refused")


def _forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}
    if secret == SECRETS["URL password"]:
        forms.add(base64.b64encode(f"{URL_USER}:{secret}".encode()).decode())
    return forms


FORMS = {name: _forms(secret) for name, secret in SECRETS.items()}


def leaks(text: str) -> list[str]:
    """Which secrets ``text`` shows, in any of their forms."""
    return [name for name, forms in FORMS.items() if any(form in text for form in forms)]


def _around(text: str, name: str) -> str:
    """The place in ``text`` where secret ``name`` shows, with some context."""
    at = min(i for form in FORMS[name] if (i := text.find(form)) >= 0)
    return repr(text[max(at - 100, 0): at + 60])


def assert_no_secret(outputs: list[tuple[str, str]]) -> None:
    found = [f"{where}: {name} in ...{_around(text, name)}..."
             for where, text in outputs for name in leaks(text)]
    assert not found, f"secrets shown in {len(found)} places:\n" + "\n".join(found)


def with_password(url: str) -> str:
    return url.replace("http://", f"http://{URL_USER}:{SECRETS['URL password']}@", 1)


def secret_environment(url: str, provider: str) -> dict[str, str]:
    """Every AI__ and AWS variable that can hold a secret, pointing at ``url``."""
    secret_url = with_password(url)
    environment = {
        "AI__PROVIDER": provider, "AI__TIMEOUT_S": "0.5", "AI__MAX_RETRIES": "0",
        "AI__OPENAI_API_KEY": SECRETS["OpenAI key"], "AI__OPENAI_BASE_URL": f"{secret_url}/v1",
        "AI__AZURE_OPENAI_API_KEY": SECRETS["Azure key"], "AI__AZURE_OPENAI_ENDPOINT": secret_url,
        "AI__AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini", "AI__BEDROCK_ENDPOINT_URL": secret_url,
        "AI__AWS_REGION": "us-east-1", "AI__OLLAMA_BASE_URL": secret_url,
        "AI__MODEL": MODELS.get(provider, "gpt-4o-mini"),
        # Each OpenAI-compatible entry's own (AI__VLLM_BASE_URL, AI__VLLM_API_KEY...).
        **{env_name(field): (SECRETS["OpenAI-compatible server's key"] if kind == "key" else f"{secret_url}/v1")
           for field, kind in entry_fields().items()},
    }
    return environment


def secret_settings(url: str, provider: str) -> AISettings:
    return load_settings(environ=secret_environment(url, provider))


@pytest.fixture(autouse=True)
def aws_secrets(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SECRETS["AWS access key id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRETS["AWS secret key"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", SECRETS["AWS session token"])
    for name in ("AWS_PROFILE", "OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_the_secrets_are_really_configured():
    # Guards the search itself: a secret that never got set could never be found.
    settings = secret_settings("http://127.0.0.1:9", "openai")
    assert settings.secret("openai_api_key") == SECRETS["OpenAI key"]
    assert settings.secret("azure_openai_api_key") == SECRETS["Azure key"]
    for name in [field for field in setting_names() if is_url_field(field)]:
        assert SECRETS["URL password"] in getattr(settings, name), name
    for name in [field for field, kind in entry_fields().items() if kind == "key"]:
        assert settings.secret(name) == SECRETS["OpenAI-compatible server's key"], name
    assert leaks(f"Authorization: Basic {base64.b64encode(b'student:SECRETurlpw93kd').decode()}")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_settings_and_providers_never_show_a_secret(provider):
    settings = secret_settings("http://127.0.0.1:9", provider)
    built = create_ai_provider(settings)
    try:
        assert_no_secret([
            ("repr(settings)", repr(settings)), ("str(settings)", str(settings)),
            ("settings.model_dump()", repr(settings.model_dump())),
            ("settings.model_dump(mode='json')", json.dumps(settings.model_dump(mode="json"))),
            ("settings.model_dump_json()", settings.model_dump_json()),
            ("settings.public_dict()", repr(settings.public_dict())),
            ("repr(provider)", repr(built)), ("str(provider)", str(built)),
        ])
    finally:
        asyncio.run(aclose_quietly(built))


def test_a_key_pasted_into_AI__PROVIDER_is_never_echoed():
    pasted = SECRETS["key pasted into AI__PROVIDER"]
    outputs = []
    for attempt in (lambda: AISettings(provider=pasted),
                    lambda: load_settings(environ={"AI__PROVIDER": pasted}),
                    lambda: create_ai_provider(provider=pasted)):
        with pytest.raises(ConfigurationError) as caught:
            attempt()
        outputs += _error_outputs("pasted key", caught.value)
    assert_no_secret(outputs)


def _error_outputs(where: str, error: BaseException) -> list[tuple[str, str]]:
    shown = [(f"{where}: str", str(error)), (f"{where}: repr", repr(error)),
             (f"{where}: traceback", "".join(traceback.format_exception(error)))]
    if isinstance(error, ProviderError):
        shown += [(f"{where}: message", error.message), (f"{where}: hint", error.hint)]
    return shown


async def _call(provider, call: str):
    if call == "chat":
        return await provider.chat(QUESTION, max_tokens=16)
    return [piece async for piece in provider.chat_stream(QUESTION, max_tokens=16)]


async def _errors_of(fault: str) -> list[tuple[str, BaseException]]:
    """Every provider, chat and chat_stream, against one fault at once."""
    # Refused: the providers point at a port nobody listens on; the server is not used.
    with HostileServer(FAULTS.get(fault, echo_headers)) as server:
        url = f"http://127.0.0.1:{free_port()}" if fault == "connection_refused" else server.url
        cells = [(name, call) for name in PROVIDERS for call in ("chat", "chat_stream")]
        providers = [create_ai_provider(secret_settings(url, name)) for name, _ in cells]

        async def one(provider, call):
            try:
                await asyncio.wait_for(_call(provider, call), 2.0)
            except asyncio.TimeoutError:  # still running: its error text is not searched
                return None
            except Exception as error:  # noqa: BLE001 -- every error is searched
                return error
            return None

        errors = await asyncio.gather(*(one(p, call) for p, (_, call) in zip(providers, cells)))
        await asyncio.gather(*(aclose_quietly(p, timeout_s=1) for p in providers))
    return [(f"{name} {call} {fault}", error)
            for (name, call), error in zip(cells, errors) if error is not None]


async def test_errors_and_info_logs_never_show_a_secret(caplog):
    caplog.set_level(logging.INFO)
    outputs, echoed = [], 0
    for fault in SEARCHED_FAULTS:
        for where, error in await _errors_of(fault):
            outputs += _error_outputs(where, error)
            echoed += fault == "echo_headers"
    logged = [(f"log {r.name} {r.levelname}", r.getMessage() + (
        "\n" + "".join(traceback.format_exception(*r.exc_info)) if r.exc_info else ""))
        for r in caplog.records]
    # The search must have something to search: errors from each fault, and INFO lines.
    assert echoed >= len(PROVIDERS), f"only {echoed} errors from the header-echoing server"
    assert len(outputs) > 100 and logged, (len(outputs), len(logged))
    assert_no_secret(outputs + logged)


def _doctor(environment: dict[str, str], folder: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AI__", "AWS_"))}
    env.update(environment)
    done = subprocess.run([sys.executable, "-m", "workbook", "doctor", "--quick"], env=env,
                          capture_output=True, text=True, timeout=120,
                          cwd=folder)  # outside the project: no developer's .env is read
    return done.stdout + done.stderr


@pytest.mark.parametrize("provider", ["openai", "azure_openai", "ollama", "bedrock"])
def test_doctor_never_shows_a_secret(provider, tmp_path):
    # The chosen provider's server is on this machine, so doctor calls it: the server
    # echoes every header it got in its error, and doctor shows that error.
    with HostileServer(echo_headers) as server:
        # The server answers at once; the deadline only has to outlast a busy machine's start
        # of the doctor's first call (0.5 s did not, with both cores loaded).
        shown = _doctor({**secret_environment(server.url, provider), "AI__TIMEOUT_S": "10",
                         "AWS_ACCESS_KEY_ID": SECRETS["AWS access key id"],
                         "AWS_SECRET_ACCESS_KEY": SECRETS["AWS secret key"],
                         "AWS_SESSION_TOKEN": SECRETS["AWS session token"]}, tmp_path)
        called = len(server.requests)
    assert provider in shown and called, f"doctor did not check {provider}: {shown}"
    assert_no_secret([(f"doctor ({provider})", shown)])


def test_doctor_never_shows_a_key_pasted_into_AI__PROVIDER(tmp_path):
    shown = _doctor({"AI__PROVIDER": SECRETS["key pasted into AI__PROVIDER"]}, tmp_path)
    assert "AI__PROVIDER" in shown, shown
    assert_no_secret([("doctor (pasted key)", shown)])


async def test_the_emulator_request_log_never_shows_a_secret():
    with Emulator(backend="scripted") as emu:
        for name in PROVIDERS:
            provider = create_ai_provider(secret_settings(emu.url, name))
            try:
                await provider.chat(QUESTION, max_tokens=8)
            except ProviderError:
                pass  # a refused key is still a logged request
            finally:
                await aclose_quietly(provider)
        logged = emu.requests
        over_http = httpx.get(f"{emu.url}/emulator/requests", timeout=10).text
    assert {record.protocol for record in logged} >= {"openai", "ollama", "bedrock"}, logged
    assert_no_secret([("Emulator.requests", json.dumps([r.to_dict() for r in logged])),
                      ("GET /emulator/requests", over_http)])


QUERY_KEY = "SECRETinQuery55x"


@pytest.mark.parametrize("variable", URL_VARIABLES)
@pytest.mark.parametrize("query", ["?api-key={key}", "?x=1&key={key}", "#{key}", "/v1?{key}"])
def test_a_key_in_a_url_query_string_is_refused_and_never_echoed(variable, query):
    url = "http://127.0.0.1:9" + query.format(key=QUERY_KEY)
    outputs = []
    for attempt in (lambda: load_settings(environ={variable: url}),
                    lambda: AISettings(**{variable.removeprefix("AI__").lower(): url}),
                    lambda: AISettings().with_(**{variable.removeprefix("AI__").lower(): url})):
        with pytest.raises(ConfigurationError) as caught:
            attempt()
        assert variable in str(caught.value), caught.value
        assert variable in caught.value.hint, caught.value.hint  # says what to leave there
        outputs += _error_outputs("query string", caught.value)
    assert not [text for _, text in outputs if QUERY_KEY in text], outputs


async def _echoed_error(environment: dict[str, str]) -> ProviderError:
    """The error of one chat against the header-echoing server (which must echo them)."""
    built = create_ai_provider(load_settings(environ=environment))
    try:
        with pytest.raises(ProviderError) as caught:
            await asyncio.wait_for(built.chat(QUESTION, max_tokens=8), 5)
    finally:
        await aclose_quietly(built)
    assert "headers were" in str(caught.value), caught.value
    return caught.value


# Every provider with an API key of its own (from the registry), each a short key of its own.
SHORT_KEYS = {name: (env_name(get_spec(name).key_field), f"{name[:2].title()}7q")
              for name in network_names() if get_spec(name).key_field}


@pytest.mark.parametrize("provider", sorted(SHORT_KEYS))
async def test_a_short_key_the_server_echoes_is_redacted(provider):
    variable, key = SHORT_KEYS[provider]
    with HostileServer(echo_headers) as server:
        # No user:password in the URL here: its Basic header would replace the key's.
        spec = get_spec(provider)
        environment = {**secret_environment(server.url, provider), variable: key,
                       env_name(spec.url_field): server.url + ("/v1" if spec.protocol == "openai" else "")}
        error = await _echoed_error(environment)
        sent = [request.headers for request in server.requests]
    # Guards the search: the key did travel.
    assert any(key in " ".join(headers.values()) for headers in sent), sent
    shown = _error_outputs(provider, error)
    assert not [where for where, text in shown if key in text], shown


@pytest.mark.parametrize("provider", ["ollama", "openai"])
async def test_a_short_url_password_the_server_echoes_is_redacted(provider):
    with HostileServer(echo_headers) as server:
        short = server.url.replace("http://", "http://me:pw7@", 1)
        environment = {**secret_environment(server.url, provider),
                       "AI__OLLAMA_BASE_URL": short, "AI__OPENAI_BASE_URL": short + "/v1"}
        error = await _echoed_error(environment)
    basic = base64.b64encode(b"me:pw7").decode()
    shown = _error_outputs(provider, error)
    assert not [where for where, text in shown if "pw7" in text or basic in text], shown


def test_doctor_never_shows_a_key_in_a_url_query_string(tmp_path):
    shown = _doctor({"AI__PROVIDER": "openai",
                     "AI__OPENAI_BASE_URL": f"http://127.0.0.1:9/v1?api-key={QUERY_KEY}"}, tmp_path)
    assert "AI__OPENAI_BASE_URL" in shown and "query string" in shown, shown
    assert QUERY_KEY not in shown, shown
