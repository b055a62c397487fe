"""Every network provider, through its real SDK, against the emulator's real wire format.

Nothing here patches a provider or an SDK: faults are injected at the server.
"""

import asyncio
import time

import pytest

from workbook.ai import (AuthenticationError, ConfigurationError, IncompleteResponseError, Message,
                         ModelNotFoundError,
                         ProviderError, ProviderUnavailableError, RateLimitError, create_ai_provider)
from workbook.ai.catalog import token_limit_field
from workbook.ai.registry import get_spec, network_names
from workbook.ai.scripted import scripted_reply
from workbook.ai.settings import settings_from_mapping
from workbook.emulator import Emulator

NETWORK_PROVIDERS = tuple(network_names())

QUESTION = [Message("system", "Answer in one sentence."), Message("user", "Why is the sky blue?")]
providers = pytest.mark.parametrize("name", NETWORK_PROVIDERS)


def model_requests(emu):
    return [r for r in emu.requests if r.method == "POST"]


@providers
async def test_round_trip(build, name):
    reply = await build(name).chat(QUESTION, max_tokens=100)
    assert reply.content == scripted_reply(QUESTION, source="emulator")
    assert reply.provider == name and reply.model
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens == len(reply.content.split())
    assert reply.finish_reason == "stop" and reply.latency_s > 0


@providers
async def test_stream_arrives_in_pieces_with_usage(build, name):
    stream = build(name).chat_stream(QUESTION, max_tokens=100)
    pieces = [piece async for piece in stream]
    assert len(pieces) > 5
    assert "".join(pieces) == scripted_reply(QUESTION, source="emulator")
    assert stream.usage.output_tokens == len(pieces) and stream.usage.input_tokens > 0
    assert stream.finish_reason == "stop"


@providers
async def test_max_tokens_stops_the_answer(build, name):
    stream = build(name).chat_stream(QUESTION, max_tokens=4)
    assert len([p async for p in stream]) == 4
    assert stream.finish_reason == "length"


@providers
async def test_request_fields_land_in_the_protocols_places(build, emu, name):
    await build(name).chat(QUESTION, max_tokens=33, temperature=0.25)
    body = model_requests(emu)[-1].body
    if name == "bedrock":
        assert body["inferenceConfig"] == {"maxTokens": 33, "temperature": 0.25}
        assert body["system"] == [{"text": "Answer in one sentence."}]
        assert [m["role"] for m in body["messages"]] == ["user"]
    elif name == "ollama":
        assert body["options"] == {"num_predict": 33, "temperature": 0.25}
        assert body["stream"] is False
        assert body["messages"][0] == {"role": "system", "content": "Answer in one sentence."}
    else:
        limit = token_limit_field(body["model"])  # reasoning models take max_completion_tokens
        assert body[limit] == 33 and body["temperature"] == 0.25
        assert ("max_tokens" in body) == (limit == "max_tokens")
        assert ("reasoning_effort" in body) == (limit == "max_completion_tokens")
        assert body["messages"][0] == {"role": "system", "content": "Answer in one sentence."}


async def test_an_azure_deployment_named_by_its_owner_gets_its_models_fields():
    """A deployment called "chat-prod" runs gpt-5.4-nano (AI__MODEL says so): it is sent
    max_completion_tokens and no max_tokens, which Azure's GPT-5 deployments refuse with 400
    unsupported_parameter. Without AI__MODEL the workbook cannot know, and sends max_tokens."""
    model = "gpt-5.4-nano"
    assert token_limit_field(model) == "max_completion_tokens"
    with Emulator(backend="scripted", deployments=("chat-prod",)) as emulator:
        settings = emulator.settings("azure_openai").with_(azure_openai_deployment="chat-prod")
        for named, expected in ((model, "max_completion_tokens"), (None, "max_tokens")):
            await create_ai_provider(settings.with_(model=named)).chat(QUESTION, max_tokens=20)
            body = model_requests(emulator)[-1].body
            assert body["model"] == "chat-prod" and body[expected] == 20, body
            assert ("reasoning_effort" in body) == (expected == "max_completion_tokens")


async def test_the_dated_api_version_path_gets_no_reasoning_effort():
    """The dated 2024-10-21 reference has no reasoning_effort (and "none" is documented on v1
    only): there the provider sends the model's token field and nothing it is not documented to take."""
    with Emulator(backend="scripted") as emulator:
        settings = emulator.settings("azure_openai").with_(model="gpt-5.4-nano")
        for version, sends_effort in (("v1", True), ("2024-10-21", False)):
            await create_ai_provider(settings.with_(azure_openai_api_version=version)).chat(QUESTION, max_tokens=20)
            body = model_requests(emulator)[-1].body
            assert body["max_completion_tokens"] == 20 and "max_tokens" not in body, body
            assert ("reasoning_effort" in body) == sends_effort, (version, body)


@providers
async def test_stream_asks_for_usage(build, emu, name):
    [p async for p in build(name).chat_stream(QUESTION)]
    request = model_requests(emu)[-1]
    if name in ("ollama",):
        assert request.body["stream"] is True
    elif name == "bedrock":
        assert request.path.endswith("/converse-stream")
    else:
        assert request.body["stream"] is True
        assert request.body["stream_options"] == {"include_usage": True}


@providers
@pytest.mark.parametrize("fault, error", [
    ("auth", AuthenticationError),
    ("model_not_found", ModelNotFoundError),
    ("rate_limit", RateLimitError),
    ("server_error", ProviderUnavailableError),
])
async def test_faults_become_typed_errors_with_hints(build, emu, name, fault, error):
    options = {"retry_after": 0} if fault == "rate_limit" else {}
    emu.inject(fault, times=5, **options)
    provider = build(name, max_retries=1)
    with pytest.raises(error) as caught:
        await provider.chat(QUESTION)
    assert caught.value.provider == name and caught.value.hint
    assert "Traceback" not in str(caught.value)
    with pytest.raises(error):
        emu.inject(fault, times=5, **options)
        [p async for p in provider.chat_stream(QUESTION)]


@providers
async def test_a_429_is_retried_then_succeeds(build, emu, name):
    emu.inject("rate_limit", times=1, retry_after=0)
    reply = await build(name, max_retries=2).chat(QUESTION)
    assert reply.content == scripted_reply(QUESTION, source="emulator")
    assert len(model_requests(emu)) == 2


# Not bedrock: botocore's standard retry mode backs off on its own schedule (AWS sends no
# Retry-After), which test_a_429_is_retried_then_succeeds covers.
@pytest.mark.parametrize("name", [n for n in NETWORK_PROVIDERS if n != "bedrock"])
async def test_retry_after_is_honoured(build, emu, name):
    emu.inject("rate_limit", times=1, retry_after=1)
    started = time.perf_counter()
    await build(name, max_retries=1).chat(QUESTION)
    assert time.perf_counter() - started >= 0.9


@providers
@pytest.mark.parametrize("mode", ["close", "abort"])
async def test_a_cut_stream_is_never_a_short_answer(build, emu, name, mode):
    emu.inject("cut_stream", after_chunks=3, mode=mode)
    received = []
    with pytest.raises(IncompleteResponseError) as caught:
        async for piece in build(name).chat_stream(QUESTION):
            received.append(piece)
    assert len(received) == 3
    assert "3 chunks" in caught.value.message


@providers
async def test_a_malformed_body_is_an_error(build, emu, name):
    emu.inject("malformed")
    with pytest.raises(ProviderError):
        await build(name, max_retries=0).chat(QUESTION)


@providers
async def test_unreachable_server(emu, name):
    closed = Emulator()  # started then stopped: its port now refuses connections
    with closed:
        port = closed.port
    settings = emu.settings(name).with_(max_retries=0, timeout_s=2)
    url = f"http://127.0.0.1:{port}"
    spec = get_spec(name)
    provider = create_ai_provider(settings.with_(**{spec.url_field: url + ("/v1" if spec.protocol == "openai" else "")}))
    with pytest.raises(ProviderUnavailableError) as caught:
        await provider.chat(QUESTION)
    assert str(port) in str(caught.value) or name == "ollama" or "reach" in str(caught.value)
    assert caught.value.hint


@providers
async def test_timeout(build, emu, name):
    # The first token would come after 10 s, 20x the deadline: the deadline's error, not the
    # answer, proves the 0.5 s held -- whatever the machine's load. A provider ignoring
    # AI__TIMEOUT_S gets the answer (or another error) and fails here.
    emu.inject("slow_first_token", seconds=10, times=3)
    provider = build(name, timeout_s=0.5, max_retries=0)
    with pytest.raises(ProviderUnavailableError, match="within 0.5 s"):
        await provider.chat(QUESTION)
    assert len(emu.requests) == 1


@providers
async def test_eight_concurrent_calls_overlap(name):
    # Each call waits TTFT_S for its first token. Overlapped, all 8 requests reach the server
    # before the first answer comes back (the last arrived at most 30 ms after the first, for
    # every provider, on this 2-core machine at load 4, 2026-12-07: TTFT_S leaves 30x that);
    # one after another, or in rounds of a too-small thread pool, the first answer comes back
    # before the last requests were sent. Order, not a duration.
    ttft_s = 1.0
    with Emulator(ttft_s=ttft_s, tokens_per_s=2000) as slow:
        provider = create_ai_provider(slow.settings(name))
        prompts = [[Message("user", f"question number {i}")] for i in range(8)]
        calls = [asyncio.ensure_future(provider.chat(p)) for p in prompts]
        await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
        arrived_before_first_answer = len(slow.requests)
        replies = await asyncio.gather(*calls)
    assert [r.content for r in replies] == [scripted_reply(p, source="emulator") for p in prompts]
    assert arrived_before_first_answer == 8, (
        f"only {arrived_before_first_answer} of 8 requests had reached the server when the first "
        "answer came back: the calls did not overlap")


@pytest.mark.parametrize("name, field", [("openai", "openai_api_key"),
                                         ("azure_openai", "azure_openai_api_key")])
async def test_a_refused_key_never_appears_in_the_error(emu, name, field):
    key = "sk-wrong-key-0123456789abcdefghij"
    provider = create_ai_provider(emu.settings(name).with_(**{field: key}, max_retries=0))
    emu.inject("auth")
    with pytest.raises(AuthenticationError) as caught:
        await provider.chat(QUESTION)
    for shown in (str(caught.value), repr(caught.value), caught.value.hint, repr(provider)):
        assert key not in shown


async def test_bedrock_account_errors_teach_the_fix(build, emu):
    provider = build("bedrock", max_retries=0)
    emu.inject("access_denied")
    with pytest.raises(AuthenticationError, match="AccessDeniedException") as caught:
        await provider.chat(QUESTION)
    assert "bedrock:InvokeModel" in caught.value.hint
    emu.inject("validation", message="Invocation of model ID x with on-demand throughput isn't "
                                     "supported. Retry your request with the ID or ARN of an "
                                     "inference profile that contains this model.")
    with pytest.raises(ModelNotFoundError) as caught:
        await provider.chat(QUESTION)
    assert "inference profile" in caught.value.hint


@pytest.mark.parametrize("name", ["openai", "azure_openai", "ollama"])
async def test_other_refusals_are_typed(build, emu, name):
    provider = build(name, max_retries=0)
    emu.inject("access_denied")
    with pytest.raises(AuthenticationError):
        await provider.chat(QUESTION)
    emu.inject("validation", message="context length exceeded")
    with pytest.raises(ProviderError, match="context length exceeded"):
        await provider.chat(QUESTION)


async def test_azure_v1_path(build, emu):
    reply = await build("azure_openai", azure_openai_api_version="v1").chat(QUESTION)
    assert reply.content == scripted_reply(QUESTION, source="emulator")
    request = model_requests(emu)[-1]
    assert request.path == "/openai/v1/chat/completions" and "api-version" not in request.query


async def test_bedrock_without_credentials_says_how_to_get_them(emu, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # An empty credentials chain: no files, and never the instance-metadata address.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    # From emu.env, not emu.settings: that one lends the emulator's dummy keys.
    settings = settings_from_mapping(emu.env("bedrock")).with_(max_retries=0)
    provider = create_ai_provider(settings)
    with pytest.raises(ConfigurationError) as caught:
        await provider.chat(QUESTION)
    assert "aws configure" in caught.value.hint
    assert not [r for r in emu.requests if r.method == "POST"]  # refused before sending


def test_a_broken_aws_profile_is_a_configuration_error(emu, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(ConfigurationError, match="ProfileNotFound") as caught:
        create_ai_provider(emu.settings("bedrock"))
    assert "AWS_PROFILE" in caught.value.hint


@pytest.mark.parametrize("name, field, wrong, variable", [
    ("openai", "openai_base_url", "{url}", "AI__OPENAI_BASE_URL"),           # /v1 forgotten
    ("vllm", "vllm_base_url", "{url}/api", "AI__VLLM_BASE_URL"),
    ("azure_openai", "azure_openai_endpoint", "{url}/extra", "AI__AZURE_OPENAI_ENDPOINT"),
    ("ollama", "ollama_base_url", "{url}/v1", "AI__OLLAMA_BASE_URL"),
    ("bedrock", "bedrock_endpoint_url", "{url}/extra", "AI__BEDROCK_ENDPOINT_URL"),
])
async def test_a_wrong_url_path_names_the_url_not_the_model(emu, name, field, wrong, variable):
    settings = emu.settings(name).with_(max_retries=0, **{field: wrong.format(url=emu.url)})
    with pytest.raises(ConfigurationError) as caught:
        await create_ai_provider(settings).chat(QUESTION)
    assert variable in caught.value.hint


async def test_a_web_frameworks_own_404_is_a_wrong_url_not_an_unknown_model():
    """vLLM and llama-cpp-python's server are FastAPI apps: a path they do not serve (a base URL
    without /v1) answers 404 {"detail": "Not Found"}, which names no model."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class FastApiLike(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = json.dumps({"detail": "Not Found"}).encode()
            self.send_response(404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FastApiLike)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = settings_from_mapping({"AI__PROVIDER": "vllm", "AI__MODEL": "m", "AI__MAX_RETRIES": "0",
                                          "AI__VLLM_BASE_URL": f"http://127.0.0.1:{server.server_port}"})
        with pytest.raises(ConfigurationError) as caught:
            await create_ai_provider(settings).chat(QUESTION)
        assert "AI__VLLM_BASE_URL" in caught.value.hint and "/v1" in caught.value.hint
    finally:
        server.shutdown()


@providers
async def test_settings_give_the_default_limits(build, emu, name):
    provider = build(name, max_tokens=5, temperature=0.1)
    stream = provider.chat_stream(QUESTION)
    assert len([p async for p in stream]) == 5 and stream.finish_reason == "length"
    await provider.chat(QUESTION, max_tokens=7)  # a call's own value still wins
    bodies = [r.body for r in model_requests(emu)]
    if name == "bedrock":
        assert [b["inferenceConfig"] for b in bodies] == [
            {"maxTokens": 5, "temperature": 0.1}, {"maxTokens": 7, "temperature": 0.1}]
    elif name == "ollama":
        assert [b["options"] for b in bodies] == [
            {"num_predict": 5, "temperature": 0.1}, {"num_predict": 7, "temperature": 0.1}]
    else:
        assert [(b[token_limit_field(b["model"])], b["temperature"]) for b in bodies] == [(5, 0.1), (7, 0.1)]


async def test_an_unreachable_url_with_credentials_hides_them(emu):
    closed = Emulator()
    with closed:
        port = closed.port
    settings = emu.settings("ollama").with_(max_retries=0,
                                            ollama_base_url=f"http://alice:S3cretPassw0rd@127.0.0.1:{port}")
    with pytest.raises(ProviderUnavailableError) as caught:
        await create_ai_provider(settings).chat(QUESTION)
    assert "S3cretPassw0rd" not in str(caught.value) and f"http://127.0.0.1:{port}" in str(caught.value)


@providers
@pytest.mark.parametrize("fault, error", [("rate_limit", RateLimitError),
                                          ("server_error", ProviderUnavailableError)])
async def test_an_error_inside_a_stream_before_any_text_is_typed(build, emu, name, fault, error):
    # The status line said 200; the error arrives as the stream's first event.
    emu.inject(fault, in_stream=True, **({"retry_after": 0} if fault == "rate_limit" else {}))
    with pytest.raises(error) as caught:
        [p async for p in build(name, max_retries=0).chat_stream(QUESTION)]
    assert caught.value.provider == name and caught.value.hint
    assert not isinstance(caught.value, IncompleteResponseError)  # nothing was cut: nothing came


# Not bedrock: botocore reads a body cut short as an empty result (tests/emulator/test_emu_cut_body.py).
@pytest.mark.parametrize("name", [n for n in NETWORK_PROVIDERS if n != "bedrock"])
async def test_a_body_cut_after_the_server_answered_is_not_called_unreachable(build, emu, name):
    emu.inject("cut_stream", mode="abort", times=3)
    with pytest.raises(ProviderUnavailableError) as caught:
        await build(name, max_retries=0).chat(QUESTION)
    assert "broke" in caught.value.message and "retry" in caught.value.hint.lower()
    assert "cannot reach" not in caught.value.message and "Start" not in caught.value.hint


CLOSABLE = [name for name in NETWORK_PROVIDERS if name != "bedrock"]


@pytest.mark.parametrize("name", CLOSABLE)
async def test_a_closed_provider_says_to_build_a_new_one(build, name):
    provider = build(name)
    await provider.aclose()
    for call in (provider.chat(QUESTION), _drain(provider.chat_stream(QUESTION))):
        with pytest.raises(ProviderError) as caught:
            await call
        assert "aclose()" in caught.value.hint and "create_ai_provider()" in caught.value.hint
        assert "URL" not in caught.value.hint


async def _drain(stream):
    return [piece async for piece in stream]


@pytest.mark.parametrize("name, field, variable", [
    ("openai", "openai_api_key", "AI__OPENAI_API_KEY"),
    ("lmstudio", "lmstudio_api_key", "AI__LMSTUDIO_API_KEY"),
    ("azure_openai", "azure_openai_api_key", "AI__AZURE_OPENAI_API_KEY"),
])
@pytest.mark.parametrize("key", ["sk-ключ-0123456789", "\u201csk-quoted-0123456789\u201d", "sk-0123456789\n"])
def test_a_key_no_header_can_carry_is_refused_when_built(emu, name, field, variable, key):
    with pytest.raises(ConfigurationError) as caught:
        create_ai_provider(emu.settings(name).with_(**{field: key}))
    assert variable in caught.value.message and variable in caught.value.hint
    assert key.strip() not in str(caught.value) and "0123456789" not in str(caught.value)


async def test_a_bedrock_bearer_token_with_the_http_emulator_says_to_unset_it(build, emu, monkeypatch):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "a-bedrock-api-key")
    provider = build("bedrock", max_retries=0)
    for call in (provider.chat(QUESTION), _drain(provider.chat_stream(QUESTION))):
        with pytest.raises(ConfigurationError) as caught:
            await call
        assert "unset AWS_BEARER_TOKEN_BEDROCK" in caught.value.hint and "https" in caught.value.hint
        assert "a-bedrock-api-key" not in str(caught.value)
    assert not model_requests(emu)  # refused before sending
