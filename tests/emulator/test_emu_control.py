"""Lifecycle, env(), settings(), the fault queue, the request log and the control routes."""

import asyncio
import socket
import threading
import time

import httpx
import pytest

from workbook.ai import AISettings
from workbook.emulator import Emulator

OPENAI = {"authorization": "Bearer secret-key"}
CHAT = {"model": "gpt-5.4-nano", "messages": [{"role": "user", "content": "hi"}]}


def test_start_serves_at_once_and_stop_leaves_no_thread():
    # Events, not durations: start() returns a server that answers the very next request;
    # stop() returns with its thread gone (its own join is bounded) and the port closed.
    before = set(threading.enumerate())
    emu = Emulator().start()
    assert httpx.get(f"{emu.url}/api/version").status_code == 200
    emu.stop()
    assert set(threading.enumerate()) <= before
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.url}/api/version")


def test_stop_does_not_wait_for_a_stream_still_open():
    # One token per 20 s: the stream's next token is due long after the 10 s this test allows
    # stop() (5x its own 2 s join), so a stop that waited for the stream would be caught.
    emu = Emulator(ttft_s=0, tokens_per_s=0.05).start()
    with httpx.Client() as http, http.stream("POST", f"{emu.url}/api/chat",
                                              json={"model": "llama3.2", "messages": []}) as r:
        next(r.iter_lines())
        started = time.perf_counter()
        emu.stop()
        assert time.perf_counter() - started < 5 * 2.0
    assert not emu.running


async def test_usable_from_a_running_event_loop():
    # A Jupyter cell: the caller's loop keeps running while the server works in its own.
    with Emulator() as emu:
        async with httpx.AsyncClient() as http:
            replies = await asyncio.gather(*(
                http.post(f"{emu.url}/v1/chat/completions", json=CHAT, headers=OPENAI)
                for _ in range(4)))
    assert [r.status_code for r in replies] == [200] * 4


def test_fixed_port_and_url():
    with Emulator() as first:
        port = first.port
    with Emulator(port=port) as again:
        assert again.url == f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("provider", ["openai", "vllm", "lmstudio", "azure_openai", "bedrock",
                                      "ollama", "mock", "local"])
def test_env_and_settings_for_every_provider(emu, provider):
    env = emu.env(provider)
    assert env["AI__PROVIDER"] == provider
    settings = emu.settings(provider)
    assert isinstance(settings, AISettings) and settings.provider == provider


def test_env_values(emu):
    assert emu.env("bedrock") == {
        "AI__PROVIDER": "bedrock", "AI__AWS_REGION": "us-east-1",
        "AI__BEDROCK_ENDPOINT_URL": emu.url, "AI__MODEL": "amazon.nova-micro-v1:0",
        "AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator-secret"}
    assert emu.env("openai")["AI__OPENAI_BASE_URL"] == f"{emu.url}/v1"
    assert emu.settings("azure_openai").secret("azure_openai_api_key") == "emulator-key"
    with pytest.raises(ValueError, match="valid names: .*openai"):
        emu.env("gemini")


def test_inject_validates(emu):
    with pytest.raises(ValueError, match="valid faults"):
        emu.inject("meteor")
    with pytest.raises(ValueError, match="no option"):
        emu.inject("rate_limit", seconds=3)
    with pytest.raises(ValueError, match="protocol"):
        emu.inject("auth", protocol="grpc")
    with pytest.raises(ValueError, match="times"):
        emu.inject("auth", times=0)


def test_times_counts_consuming_requests(emu):
    emu.inject("server_error", times=2)
    statuses = [httpx.post(f"{emu.url}/v1/chat/completions", json=CHAT, headers=OPENAI).status_code
                for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert [r.fault and r.fault["fault"] for r in emu.requests] == ["server_error", "server_error", None]


def test_log_redacts_secrets_and_keeps_the_rest(emu):
    headers = {**OPENAI, "x-api-key": "k", "x-amz-security-token": "t", "api-key": "a", "x-trace": "1"}
    httpx.post(f"{emu.url}/v1/chat/completions", json=CHAT, headers=headers)
    record = emu.requests[0]
    # The bearer's scheme stays (a reader can tell a token from an api-key), its secret does not.
    assert record.headers["authorization"] == "Bearer ***redacted***"
    for name in ("x-api-key", "x-amz-security-token", "api-key"):
        assert record.headers[name] == "***redacted***"
    assert "secret-key" not in str(record.to_dict())
    assert record.headers["x-trace"] == "1"
    assert (record.method, record.path, record.protocol, record.body) == (
        "POST", "/v1/chat/completions", "openai", CHAT)
    assert record.status == 200 and record.server_ms >= 0


@pytest.mark.parametrize("sent,logged", [
    ("Bearer eyJ.token.sig", "Bearer ***redacted***"),
    ("bearer sk-1", "bearer ***redacted***"),
    ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/bedrock/aws4_request, Signature=ab",
     "AWS4-HMAC-SHA256 ***redacted***"),
    ("sk-a-bare-key", "***redacted***"),             # no scheme: all of it is the secret
    ("sk-key-before-a-space Bearer", "***redacted***"),  # an unknown first word is not a scheme
    ("Bearer", "***redacted***"),
])
def test_the_log_keeps_only_a_known_authorization_scheme(emu, sent, logged):
    httpx.post(f"{emu.url}/v1/chat/completions", json=CHAT, headers={"authorization": sent})
    record = emu.requests[-1]
    assert record.headers["authorization"] == logged
    secret = sent.split(" ", 1)[-1] if logged != "***redacted***" else sent
    assert secret not in str(record.to_dict())


def test_control_routes(emu):
    url = emu.url
    response = httpx.post(f"{url}/emulator/faults", json={"fault": "rate_limit", "times": 2,
                                                          "protocol": "ollama", "retry_after": 3})
    assert response.status_code == 200
    assert httpx.post(f"{url}/emulator/faults", json={"fault": "nope"}).status_code == 400
    # management routes neither consume faults nor appear in the log
    assert httpx.get(f"{url}/emulator/requests").json() == []
    chat = httpx.post(f"{url}/api/chat", json={"model": "llama3.2", "messages": []})
    assert chat.status_code == 429 and chat.headers["retry-after"] == "3"
    log = httpx.get(f"{url}/emulator/requests").json()
    assert len(log) == 1 and log[0]["fault"]["fault"] == "rate_limit" and log[0]["protocol"] == "ollama"
    assert httpx.post(f"{url}/emulator/reset").status_code == 200
    assert httpx.get(f"{url}/emulator/requests").json() == []
    assert httpx.post(f"{url}/api/chat", json={"model": "llama3.2", "messages": []}).status_code == 200


def test_model_set_is_configurable():
    with Emulator(models=("tiny",)) as emu:
        ok = httpx.post(f"{emu.url}/api/chat", json={"model": "tiny", "messages": [], "stream": False})
        gone = httpx.post(f"{emu.url}/api/chat", json={"model": "llama3.2", "messages": []})
    assert ok.status_code == 200 and gone.status_code == 404


def test_unknown_backend():
    with pytest.raises(ValueError, match="scripted, local"):
        Emulator(backend="gpt")


def test_keep_alive_connections_have_nagle_off(emu):
    # Regression: with Nagle on (a listening socket created with proto 0), every second
    # request on a kept-alive connection waited ~40 ms for a delayed ACK. The cause is checked,
    # not the 40 ms, which a loaded machine can blur: the server's side of the connection
    # has TCP_NODELAY set.
    with httpx.Client(base_url=emu.url) as http:
        http.get("/api/version")
        uvicorn_server = emu._server._server
        sockets = [connection.transport.get_extra_info("socket")
                   for connection in uvicorn_server.server_state.connections]
        assert sockets, "no open connection on the emulator's side"
        assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in sockets)
