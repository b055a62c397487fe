"""No secret in any output, near-miss variable names reported, unencodable text refused.

Distinctive secrets are set in every place a provider takes them (API keys, a URL's
user:password, AWS secret key and session token); a server on 127.0.0.1 echoes every
request header back in its error body, as some proxies do; the error text, settings
dumps, doctor's rows and httpx's INFO log lines are searched for each secret.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbook.ai import (AISettings, ConfigurationError, InvalidRequestError, Message, ProviderError,
                         create_ai_provider)
from workbook.ai.settings import entry_fields, near_misses, settings_from_mapping

OPENAI_KEY = "sk-openai-SECRET-0001"
AZURE_KEY = "azure-SECRET-0002"
URL_USER, URL_PASSWORD = "student", "urlpass-SECRET-0003"
AWS_SECRET = "aws-secret-SECRET-0004"
AWS_TOKEN = "aws-session-token-SECRET-0005"
BASIC = base64.b64encode(f"{URL_USER}:{URL_PASSWORD}".encode()).decode()
SECRETS = (OPENAI_KEY, AZURE_KEY, URL_PASSWORD, f"{URL_USER}:{URL_PASSWORD}", BASIC, AWS_SECRET, AWS_TOKEN)
QUESTION = [Message("user", "hello")]


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into: {text[:300]}"


class EchoServer:
    """Answers 400 with every request header quoted in the protocol's error shape."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                echoed = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
                headers = {"content-type": "application/json"}
                if "/api/chat" in self.path:
                    body = {"error": f"bad request, you sent {echoed}"}
                elif "/model/" in self.path:
                    body = {"message": f"bad request, you sent {echoed}"}
                    headers["x-amzn-errortype"] = "ValidationException"
                else:
                    body = {"error": {"message": f"bad request, you sent {echoed}", "type": "invalid"}}
                data = json.dumps(body).encode()
                self.send_response(400)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _aws_session(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_TOKEN)


def everywhere(host: str, provider: str) -> AISettings:
    with_password = f"http://{URL_USER}:{URL_PASSWORD}@{host}"
    # Every OpenAI-compatible entry's own URL and key too (AI__VLLM_BASE_URL...).
    entries = {field: (OPENAI_KEY if kind == "key" else f"{with_password}/v1")
               for field, kind in entry_fields().items()}
    return AISettings(provider=provider, model="m", max_retries=0, timeout_s=5, **entries,
                      openai_api_key=OPENAI_KEY, openai_base_url=f"{with_password}/v1",
                      azure_openai_api_key=AZURE_KEY, azure_openai_endpoint=f"http://{host}",
                      azure_openai_deployment="d", ollama_base_url=with_password,
                      aws_region="us-east-1", bedrock_endpoint_url=f"http://{host}")


def test_settings_serialisations_carry_no_secret():
    settings = everywhere("127.0.0.1:9", "mock")
    for text in (repr(settings), str(settings), json.dumps(settings.public_dict()),
                 settings.model_dump_json(), json.dumps(settings.model_dump(), default=str),
                 repr(settings.model_dump())):
        assert_no_secret(text)
    assert settings.secret("openai_api_key") == OPENAI_KEY  # still there for the provider


def test_a_key_pasted_into_ai_provider_is_never_echoed(monkeypatch, tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        settings_from_mapping({"AI__PROVIDER": OPENAI_KEY})
    assert_no_secret(str(caught.value))
    assert "AI__PROVIDER" in caught.value.message

    from workbook.doctor import run_checks

    monkeypatch.chdir(tmp_path)  # no .env found
    monkeypatch.setenv("AI__PROVIDER", OPENAI_KEY)
    report = run_checks(quick=True)
    assert_no_secret(repr(list(report)) + report.to_dataframe().to_string())


@pytest.mark.parametrize("name", ["openai", "azure_openai", "ollama", "bedrock"])
async def test_credentials_echoed_by_a_server_never_reach_the_error(echo, name):
    provider = create_ai_provider(everywhere(echo.host, name))
    try:
        for call in (provider.chat(QUESTION), _drain(provider.chat_stream(QUESTION))):
            with pytest.raises(ProviderError) as caught:
                await call
            assert "you sent" in caught.value.message  # the echo was read, then cleaned
            assert_no_secret(str(caught.value) + repr(caught.value))
    finally:
        await provider.aclose()


@pytest.mark.parametrize("name", ["openai", "ollama"])
async def test_url_credentials_are_not_in_httpx_info_logs(echo, name, caplog):
    provider = create_ai_provider(everywhere(echo.host, name))
    try:
        with caplog.at_level(logging.INFO):
            with pytest.raises(ProviderError):
                await provider.chat(QUESTION)
    finally:
        await provider.aclose()
    assert any("POST" in record.getMessage() for record in caplog.records), "httpx logged no request"
    assert_no_secret("\n".join(record.getMessage() for record in caplog.records))


@pytest.mark.parametrize("key, meant", [("AI_PROVIDER", "AI__PROVIDER"), ("ai__provider", "AI__PROVIDER"),
                                        ("Ai__Model", "AI__MODEL"), ("AI_OLLAMA_BASE_URL", "AI__OLLAMA_BASE_URL")])
def test_near_miss_variables_are_reported(key, meant):
    with pytest.warns(UserWarning, match=f"{key} is ignored.*{meant}"):
        settings_from_mapping({key: "ollama"})
    assert near_misses([key, "AI__PROVIDER", "PATH", "AIRFLOW_HOME"]) == [(key, meant)]


def test_doctor_lists_a_near_miss(monkeypatch, tmp_path):
    from workbook.doctor import run_checks

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AI_PROVIDER", "ollama")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # doctor reports it as a row, not a warning
        report = run_checks(quick=True)
    rows = [row for row in report if row.check == "AI_PROVIDER"]
    assert rows and "AI__PROVIDER" in rows[0].detail


def test_a_typo_of_an_ai_variable_suggests_the_name():
    with pytest.raises(ConfigurationError, match="AI__PROVDER: did you mean AI__PROVIDER\\?"):
        settings_from_mapping({"AI__PROVDER": "ollama"})


async def test_a_lone_surrogate_is_an_invalid_request_before_any_io():
    provider = create_ai_provider(AISettings(provider="mock"))
    with pytest.raises(InvalidRequestError, match=r"messages\[0\].content .*lone surrogate"):
        await provider.chat([Message("user", "half an emoji: \ud83d")])
    with pytest.raises(InvalidRequestError):
        provider.chat_stream([Message("user", "\udc80")])


async def _drain(stream):
    return [piece async for piece in stream]
