"""Answers the emulator never gives, from a server that is wrong or only half there.

A tiny HTTP server on 127.0.0.1 sends exactly the bytes a test asks for (an HTML page, an
empty 200, an Ollama answer without ``done``...), and each provider's real SDK reads them.
Nothing here patches a provider or an SDK. The rule checked: the student gets a typed
workbook error whose hint fits the situation, never a raw exception or a short answer.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbook.ai import (AISettings, ConfigurationError, IncompleteResponseError, Message,
                         ModelNotFoundError, ProviderError, ProviderUnavailableError, RateLimitError,
                         create_ai_provider)

QUESTION = [Message("user", "Why is the sky blue?")]
HTML_PAGE = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>\n"


class Canned:
    """Answers every request with one fixed status, content type and body."""

    def __init__(self) -> None:
        self.status, self.content_type, self.body = 200, "application/json", b"{}"
        self.headers: dict[str, str] = {}
        canned = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(canned.status)
                self.send_header("content-type", canned.content_type)
                self.send_header("content-length", str(len(canned.body)))
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(canned.body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, body: bytes | str | dict | list, *, status: int = 200,
               content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        self.body = body.encode() if isinstance(body, str) else body
        self.status, self.content_type, self.headers = status, content_type, headers or {}

    def __enter__(self) -> "Canned":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def canned():
    with Canned() as server:
        yield server


def ndjson(*lines: dict) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def piece(text) -> dict:
    return {"model": "llama3.2", "message": {"role": "assistant", "content": text}, "done": False}


FINAL = {"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": True,
         "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 2}


# -- Ollama --------------------------------------------------------------------------------

@pytest.fixture
def ollama(canned):
    return create_ai_provider(AISettings(provider="ollama", ollama_base_url=canned.url, max_retries=0))


@pytest.mark.parametrize("body", [{}, {"message": {"content": "Hi"}, "done": False}])
async def test_ollama_chat_without_done_is_incomplete(canned, ollama, body):
    canned.answer(body)
    with pytest.raises(IncompleteResponseError, match='"done": true'):
        await ollama.chat(QUESTION)


async def test_ollama_chat_with_done_is_an_answer(canned, ollama):
    canned.answer({**FINAL, "message": {"role": "assistant", "content": "Hi"}})
    reply = await ollama.chat(QUESTION)
    assert (reply.content, reply.finish_reason, reply.usage.output_tokens) == ("Hi", "stop", 2)


@pytest.mark.parametrize("body", [
    {"message": "Hi", "done": True},
    {"message": {"content": 5}, "done": True},
    ["not", "an", "object"],
])
async def test_ollama_chat_in_the_wrong_shape_names_the_url(canned, ollama, body):
    canned.answer(body)
    with pytest.raises(ProviderError, match="not the expected shape") as caught:
        await ollama.chat(QUESTION)
    assert type(caught.value) is ProviderError and "AI__OLLAMA_BASE_URL" in caught.value.hint


@pytest.mark.parametrize("bad", [{"message": "Hi", "done": False},
                                 {"message": {"content": 5}, "done": False}])
async def test_ollama_stream_line_in_the_wrong_shape_names_the_url(canned, ollama, bad):
    canned.answer(ndjson(piece("Hi"), bad, FINAL), content_type="application/x-ndjson")
    with pytest.raises(ProviderError, match="not the expected shape") as caught:
        [p async for p in ollama.chat_stream(QUESTION)]
    assert "AI__OLLAMA_BASE_URL" in caught.value.hint


async def test_ollama_error_line_after_text_is_incomplete_with_the_servers_words(canned, ollama):
    canned.answer(ndjson(piece("The"), piece(" sky"), {"error": "llama runner process has terminated"}),
                  content_type="application/x-ndjson")
    received = []
    with pytest.raises(IncompleteResponseError, match="llama runner process has terminated") as caught:
        async for text in ollama.chat_stream(QUESTION):
            received.append(text)
    assert received == ["The", " sky"] and "2 chunks" in caught.value.message


@pytest.mark.parametrize("message, error, hint", [
    ('model "llama3.2" not found, try pulling it first', ModelNotFoundError, "ollama pull llama3.2"),
    ("model requires more system memory (5.6 GiB) than is available", ProviderUnavailableError, "ollama ps"),
])
async def test_ollama_error_line_before_text_is_typed_by_its_words(canned, ollama, message, error, hint):
    canned.answer(ndjson({"error": message}), content_type="application/x-ndjson")
    with pytest.raises(error) as caught:
        [p async for p in ollama.chat_stream(QUESTION)]
    assert hint in caught.value.hint and message in caught.value.message
    with pytest.raises(error):  # the same error as a non-streaming 200 body
        canned.answer({"error": message})
        await ollama.chat(QUESTION)


async def test_ollama_ignores_anything_after_the_done_line(canned, ollama):
    canned.answer(ndjson(piece("Hi"), FINAL, piece(" and more"), {"error": "late"}),
                  content_type="application/x-ndjson")
    stream = ollama.chat_stream(QUESTION)
    assert [p async for p in stream] == ["Hi"]
    assert stream.finish_reason == "stop" and stream.usage.output_tokens == 2


async def test_ollama_invalid_utf8_is_an_error_not_a_replacement_character(canned, ollama):
    bad = ndjson(piece("The sky")).replace(b"sky", b"sk\xff")
    canned.answer(bad + ndjson(FINAL), content_type="application/x-ndjson")
    with pytest.raises(ProviderError, match="not valid UTF-8"):
        [p async for p in ollama.chat_stream(QUESTION)]
    whole = json.dumps({**FINAL, "message": {"role": "assistant", "content": "sky"}}).encode()
    canned.answer(whole.replace(b"sky", b"sk\xff"))
    with pytest.raises(ProviderError, match="not valid UTF-8"):
        await ollama.chat(QUESTION)


# -- OpenAI-compatible -----------------------------------------------------------------------

def sse(*events: dict) -> bytes:
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)


def chunk(content=None, finish_reason=None) -> dict:
    delta = {} if content is None else {"content": content}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


@pytest.fixture
def vllm(canned):
    return create_ai_provider(AISettings(provider="vllm", model="m", max_retries=0,
                                         vllm_base_url=f"{canned.url}/v1"))


NOT_OPENAI = [
    pytest.param(HTML_PAGE, "text/html", id="html-page"),
    pytest.param(b"", "application/json", id="empty-body"),
    pytest.param(b"data: this is not json\n\n", "text/event-stream", id="garbage-sse"),
]


@pytest.mark.parametrize("body, content_type", NOT_OPENAI)
async def test_a_200_that_is_not_openai_is_named_as_such(canned, vllm, body, content_type):
    canned.answer(body, content_type=content_type)
    for call in (vllm.chat(QUESTION), _drain(vllm.chat_stream(QUESTION))):
        with pytest.raises(ProviderError, match="not in the OpenAI format") as caught:
            await call
        # Not "the connection dropped mid-answer": nothing was an answer.
        assert type(caught.value) is ProviderError
        assert "AI__VLLM_BASE_URL" in caught.value.hint and "OpenAI-compatible" in caught.value.hint


async def test_an_error_event_after_text_is_incomplete_and_quotes_the_server(canned, vllm):
    canned.answer(sse(chunk(""), chunk("The"), chunk(" sky"),
                      {"error": {"message": "CUDA out of memory", "type": "InternalServerError",
                                 "code": 500}}), content_type="text/event-stream")
    received = []
    with pytest.raises(IncompleteResponseError) as caught:
        async for text in vllm.chat_stream(QUESTION):
            received.append(text)
    assert received == ["The", " sky"]
    assert "reported an error after 2 chunks: CUDA out of memory" in caught.value.message


@pytest.mark.parametrize("error, expected", [
    ({"message": "busy", "type": "requests", "code": "rate_limit_exceeded"}, RateLimitError),  # OpenAI
    ({"code": "429", "message": "exceeded token rate limit"}, RateLimitError),                 # Azure
    ({"message": "CUDA out of memory", "type": "InternalServerError", "code": 500},           # vLLM
     ProviderUnavailableError),
    ({"message": "something odd", "type": "weird"}, ProviderError),
])
async def test_an_error_event_before_text_is_typed_by_its_status(canned, vllm, error, expected):
    canned.answer(sse(chunk(""), {"error": error}), content_type="text/event-stream")
    with pytest.raises(expected) as caught:
        await _drain(vllm.chat_stream(QUESTION))
    assert not isinstance(caught.value, IncompleteResponseError)
    assert error["message"] in caught.value.message


async def _drain(stream):
    return [piece async for piece in stream]


# -- Bedrock ---------------------------------------------------------------------------------

@pytest.fixture
def bedrock(canned, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dummy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret")
    return create_ai_provider(AISettings(provider="bedrock", aws_region="us-east-1", max_retries=0,
                                         bedrock_endpoint_url=canned.url))


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_bedrock_html_5xx_is_unavailable(canned, bedrock, status):
    canned.answer(HTML_PAGE, status=status, content_type="text/html")
    for call in (bedrock.chat(QUESTION), _drain(bedrock.chat_stream(QUESTION))):
        with pytest.raises(ProviderUnavailableError, match=f"HTTP {status}") as caught:
            await call
        assert "retry" in caught.value.hint and "<html>" not in caught.value.message


async def test_bedrock_html_404_names_the_endpoint_variable(canned, bedrock):
    canned.answer(HTML_PAGE, status=404, content_type="text/html")
    for call in (bedrock.chat(QUESTION), _drain(bedrock.chat_stream(QUESTION))):
        with pytest.raises(ConfigurationError) as caught:
            await call
        assert "AI__BEDROCK_ENDPOINT_URL" in caught.value.hint


async def test_bedrock_aws_errors_keep_their_meaning(canned, bedrock):
    # A JSON error with AWS's code is Bedrock's own, whatever its status.
    canned.answer({"message": "Too many requests"}, status=429,
                  headers={"x-amzn-ErrorType": "ThrottlingException"})
    with pytest.raises(RateLimitError, match="ThrottlingException"):
        await bedrock.chat(QUESTION)


def test_bedrock_request_botocore_refuses_is_a_configuration_error(bedrock):
    # The provider validates every field it sends, so only a real botocore client can be made
    # to raise ParamValidationError; the provider's mapping of that real exception is checked.
    import boto3
    import botocore.exceptions

    from workbook.ai.providers._botocore_errors import translate

    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(botocore.exceptions.ParamValidationError) as raised:
        client.converse(modelId="", messages=[])
    error = translate(bedrock, raised.value)
    assert isinstance(error, ConfigurationError) and "modelId" in error.message
    assert "AI__MODEL" in error.hint
