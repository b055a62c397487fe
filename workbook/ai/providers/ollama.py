"""``ollama``: Ollama's native ``/api/chat`` over ``httpx.AsyncClient``. Streaming is NDJSON: one
JSON object per line, the last with ``"done": true`` and the token counts. ``answer_call`` /
``stream_call`` add retries and the AI__TIMEOUT_S deadline; ``_http``'s transport bounds the
answer's size and refuses redirects."""

from __future__ import annotations

import httpx

from .. import errors
from ..errormap import typed_error
from ..registry import get_spec
from ..settings import AISettings, display_url
from ..structured import OutputSchema
from ..types import Message, Usage
from ._http import (HttpClientOwner, broken_stream, guarded_transport, guarded_url, json_object, post, read,
                    strict_lines, strict_text, transport_error)
from .base import Answer, RemoteProvider, StreamInfo, answer_call, reported_count, reported_text, stream_call


class OllamaProvider(HttpClientOwner, RemoteProvider):
    name = "ollama"

    def __init__(self, settings: AISettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings = settings or AISettings(provider=self.name)
        self.model = settings.model or get_spec(self.name).default_model or "llama3.2"
        self.base_url = settings.ollama_base_url
        self._url, self._headers, self._secrets = guarded_url(self.base_url)
        self._transport = transport
        self._client = self._build_client()

    def _build_client(self) -> httpx.AsyncClient:
        transport = guarded_transport("httpx", provider=self.name, url_variable="AI__OLLAMA_BASE_URL",
                                      secrets=self._secrets, inner=self._transport)
        return httpx.AsyncClient(base_url=self._url, headers=self._headers, transport=transport,
                                 timeout=httpx.Timeout(self.settings.timeout_s))

    @answer_call
    async def chat(self, messages: list[Message], *, max_tokens: int, temperature: float,
                   schema: OutputSchema | None = None) -> Answer:
        body = {**self._body(messages, max_tokens, temperature, stream=False), **self._schema_field(schema)}
        async with post(self, "/api/chat", body, max_tokens=max_tokens) as response:
            data = json_object(strict_text(await read(self, response), "Ollama", provider=self.name), self._not_ollama)
        if "error" in data:
            raise self._reported_error(data["error"], received=0)
        if data.get("done") is not True:  # set only on a finished answer: without it, text may be cut
            raise errors.IncompleteResponseError(
                'Ollama\'s answer came without "done": true, so it may be cut short', provider=self.name,
                hint="Retry the request; if it keeps happening, check Ollama's log.")
        return Answer(self._content(data), reported_text(data.get("model")) or self.model, self._usage(data),
                      reported_text(data.get("done_reason")) or "stop")

    @stream_call
    async def chat_stream(self, messages: list[Message], *, max_tokens: int, temperature: float):
        received, parsed, done = 0, 0, False
        async with post(self, "/api/chat", self._body(messages, max_tokens, temperature, stream=True),
                        max_tokens=max_tokens) as response:
            try:
                async for line, whole in strict_lines(response.aiter_bytes(), "Ollama", provider=self.name):
                    if done or not line.strip():
                        continue  # the answer is complete; the rest only lets the connection be reused
                    try:
                        data = json_object(line, self._not_ollama)
                    except errors.ProviderError:
                        if whole or not parsed:
                            raise
                        raise errors.IncompleteResponseError(  # the body ended inside a line
                            f"the stream was cut inside a line after {received} chunks, before its "
                            "final \"done\": true line", provider=self.name) from None
                    parsed += 1
                    if "error" in data:  # Ollama reports mid-stream failures as a line
                        raise self._reported_error(data["error"], received)
                    if piece := self._content(data):
                        received += 1
                        yield piece
                    if data.get("done") is True:
                        done = True
                        yield StreamInfo(reported_text(data.get("done_reason")) or "stop", self._usage(data),
                                         reported_text(data.get("model")))
            except httpx.HTTPError as error:
                if received == 0:
                    raise transport_error(self, error) from None
                raise broken_stream(self, error, received) from None
        if not done:
            raise errors.IncompleteResponseError(
                f"the stream ended after {received} chunks without its final \"done\": true line", provider=self.name)

    def _body(self, messages: list[Message], max_tokens: int, temperature: float, stream: bool) -> dict:
        return {"model": self.model, "messages": [{"role": m.role, "content": m.content} for m in messages],
                "stream": stream, "options": {"num_predict": max_tokens, "temperature": temperature}}

    @staticmethod
    def _schema_field(schema: OutputSchema | None) -> dict:
        # verified 2026-12-01: Ollama docs "Structured outputs" (docs.ollama.com/capabilities/
        # structured-outputs; blog 2024-12-06): /api/chat's `format` takes a JSON schema object.
        return {} if schema is None else {"format": schema.schema}

    def _content(self, data: dict) -> str:
        message = data.get("message")
        if message is not None and not isinstance(message, dict):
            raise self._not_ollama(f'a "message" that is a {type(message).__name__}, not an object')
        content = (message or {}).get("content")
        if content is not None and not isinstance(content, str):
            raise self._not_ollama(f'a "message.content" that is a {type(content).__name__}, not text')
        return content or ""

    @staticmethod
    def _usage(data: dict) -> Usage:
        return Usage(reported_count(data.get("prompt_eval_count")), reported_count(data.get("eval_count")))

    # -- errors: what each failure means for Ollama, and what to do ---------------------
    _hints = {
        "wrong_url": "Check AI__OLLAMA_BASE_URL: it is the server's root, e.g. http://localhost:11434 (no /api or /v1).",
        "not_found": "Run `ollama pull MODEL` (or set AI__MODEL to a model you have: `ollama list`).",
        # The course's one wording for a 429, and where your own Ollama sets how many it takes.
        "rate_limit": errors.RateLimitError.default_hint.removesuffix(".")
                      + " (your own Ollama: OLLAMA_NUM_PARALLEL, OLLAMA_MAX_QUEUE).",
        "auth": "A proxy in front of Ollama refused the request; check its credentials.",
        "server": "Check `ollama ps` and Ollama's log (a model that does not fit in memory fails like this), then retry.",
        "unavailable": "Start it with `ollama serve`, or set AI__OLLAMA_BASE_URL.",
        "timeout": "Raise AI__TIMEOUT_S (a model's first load can take a while).",
        "broke": "Retry; if it keeps happening, check Ollama's log.",
    }
    url_variable, service = "AI__OLLAMA_BASE_URL", "Ollama"

    def _hint(self, kind: str) -> str:
        return self._hints[kind].replace("MODEL", self.model, 1)

    def _reported_error(self, message, received: int) -> errors.ProviderError:
        """An ``{"error": ...}`` sent with status 200: after text, a cut; before, its own words."""
        if received:
            return errors.IncompleteResponseError(
                f"Ollama reported an error after {received} chunks: {message}", provider=self.name,
                hint="The answer is incomplete; retry. If it keeps happening, check `ollama ps` and Ollama's log.")
        low = str(message).lower()
        kind = "not_found" if "not found" in low else "rate_limit" if "too many requests" in low or "rate limit" in low else "server"
        said = f"Ollama failed mid-request: {message}" if kind == "server" else f"Ollama: {message}"
        return typed_error(kind, said, provider=self.name, hints={kind: self._hint(kind)})

    def _not_ollama(self, what: str) -> errors.ProviderError:
        return errors.ProviderError(f"Ollama sent {what}: not the expected shape of /api/chat", provider=self.name,
                                    hint="Is AI__OLLAMA_BASE_URL pointing at Ollama and not another server?")

    def _where(self) -> str:
        return f"Ollama at {display_url(self.base_url)}"

    def __repr__(self) -> str:
        return f"OllamaProvider(model={self.model!r}, base_url={display_url(self.base_url)!r})"

