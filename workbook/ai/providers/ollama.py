"""``ollama``: Ollama's native ``/api/chat`` over ``httpx.AsyncClient``.

Streaming is NDJSON: one JSON object per line, the last with ``"done": true`` and the
token counts (``prompt_eval_count``, ``eval_count``). httpx has no retry policy of its
own for 429/5xx, so this module retries those itself, honouring ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

import httpx

from .. import errors
from ..registry import get_spec
from ..settings import AISettings, display_url
from ..types import ChatResponse, ChatStream, Message, Usage, validate_request
from ._closing import Closeable, closed_provider_error

_RETRY_STATUSES = {429, 500, 502, 503, 504}
_MAX_BACKOFF_S = 8.0


class OllamaProvider(Closeable):
    name = "ollama"
    default_model: str | None = None  # None: the registry entry's

    def __init__(self, settings: AISettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        settings = settings or AISettings(provider=self.name)
        self.settings = settings
        spec = get_spec(self.name)
        self.model = settings.model or self.default_model or (spec and spec.default_model) or "llama3.2"
        self.base_url = settings.ollama_base_url
        self._shown_url = display_url(self.base_url)  # for messages: no user:password
        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(settings.timeout_s), transport=transport)

    def __repr__(self) -> str:
        return f"OllamaProvider(model={self.model!r}, base_url={self._shown_url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    def _body(self, messages: list[Message], max_tokens: int, temperature: float, stream: bool) -> dict:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": stream,
            "options": {"num_predict": max_tokens, "temperature": temperature},
        }

    async def chat(self, messages: list[Message], *, max_tokens: int | None = None,
                   temperature: float | None = None) -> ChatResponse:
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)
        started = time.perf_counter()
        async with self._post(self._body(messages, max_tokens, temperature, stream=False),
                              stream=False) as response:
            data = _json(response.content, self.name)
        if "error" in data:
            raise self._reported_error(data["error"], received=0)
        if data.get("done") is not True:
            # Ollama sets "done": true only on a finished answer; without it the text
            # (if any) may stop mid-sentence.
            raise errors.IncompleteResponseError(
                'Ollama\'s answer came without "done": true, so it may be cut short',
                provider=self.name, hint="Retry the request; if it keeps happening, check Ollama's log.")
        return ChatResponse(
            content=_content(data, self.name), model=_text(data.get("model")) or self.model,
            provider=self.name,
            usage=Usage(_count(data.get("prompt_eval_count")), _count(data.get("eval_count"))),
            finish_reason=_text(data.get("done_reason")) or "stop",
            latency_s=time.perf_counter() - started,
        )

    def chat_stream(self, messages: list[Message], *, max_tokens: int | None = None,
                    temperature: float | None = None) -> AsyncIterator[str]:
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)
        body = self._body(messages, max_tokens, temperature, stream=True)
        return ChatStream(lambda stream: self._stream(stream, body), provider=self.name)

    async def _stream(self, stream: ChatStream, body: dict) -> AsyncIterator[str]:
        received, done = 0, False
        async with self._post(body) as response:
            try:
                async for line in response.aiter_lines():
                    if done or not line.strip():
                        # After the "done" line the answer is complete: anything more is
                        # ignored. Reading on to the end of the body (no break) lets httpx
                        # reuse the connection; closing early costs a new TCP connection.
                        continue
                    data = _json(line, self.name)
                    if "error" in data:  # Ollama reports mid-stream failures as a line
                        raise self._reported_error(data["error"], received)
                    stream.model = _text(data.get("model")) or stream.model
                    piece = _content(data, self.name)
                    if piece:
                        received += 1
                        yield piece
                    if data.get("done") is True:
                        done = True
                        stream.finish_reason = _text(data.get("done_reason")) or "stop"
                        stream.usage = Usage(_count(data.get("prompt_eval_count")),
                                             _count(data.get("eval_count")))
            except httpx.HTTPError as error:
                raise errors.IncompleteResponseError(
                    f"the stream broke after {received} chunks: {type(error).__name__}",
                    provider=self.name) from None
        if not done:
            raise errors.IncompleteResponseError(
                f"the stream ended after {received} chunks without its final \"done\": true line",
                provider=self.name)

    def _reported_error(self, message, received: int) -> errors.ProviderError:
        """An ``{"error": ...}`` Ollama sent with status 200 (in a stream, or as the body).

        After some text arrived the answer is cut short whatever the cause; before any,
        the error's own words say what went wrong."""
        text = str(message)
        if received:
            return errors.IncompleteResponseError(
                f"Ollama reported an error after {received} chunks: {text}", provider=self.name,
                hint="The answer is incomplete; retry. If it keeps happening, check `ollama ps` and Ollama's log.")
        low = text.lower()
        if "not found" in low:
            return errors.ModelNotFoundError(
                f"Ollama: {text}", provider=self.name,
                hint=f"Run `ollama pull {self.model}` (or set AI__MODEL to a model you have: `ollama list`).")
        if "too many requests" in low or "rate limit" in low:
            return errors.RateLimitError(
                f"Ollama: {text}", provider=self.name,
                hint="Ollama is busy with other requests; wait a moment and retry "
                     "(OLLAMA_NUM_PARALLEL and OLLAMA_MAX_QUEUE set how many it takes).")
        return errors.ProviderUnavailableError(
            f"Ollama failed mid-request: {text}", provider=self.name,
            hint="Check `ollama ps` and Ollama's log (a model that does not fit in memory fails "
                 "like this), then retry.")

    def _transport_error(self, exc: httpx.HTTPError) -> errors.ProviderError:
        """A failure before any answer: all are worth a retry, each has its own fix."""
        if isinstance(exc, httpx.TimeoutException):
            return errors.ProviderUnavailableError(
                f"no answer from Ollama at {self._shown_url} within {self.settings.timeout_s:g} s",
                provider=self.name, hint="Raise AI__TIMEOUT_S (a model's first load can take a while).")
        if isinstance(exc, httpx.ConnectError):
            return errors.ProviderUnavailableError(
                f"cannot reach Ollama at {self._shown_url}: {type(exc).__name__}",
                provider=self.name, hint="Start it with `ollama serve`, or set AI__OLLAMA_BASE_URL.")
        return errors.ProviderUnavailableError(
            f"the connection to Ollama at {self._shown_url} broke: {type(exc).__name__}",
            provider=self.name, hint="Retry; if it keeps happening, check Ollama's log.")

    @asynccontextmanager
    async def _post(self, body: dict, *, stream: bool = True):
        """POST /api/chat with retries for 429/5xx/connection failures; yields a 200 response.

        ``stream=False`` reads the whole body first (cheaper for one JSON object)."""
        attempt = 0
        while True:
            try:
                request = self._client.build_request("POST", "/api/chat", json=body)
                response = await self._client.send(request, stream=stream)
            except httpx.HTTPError as exc:
                error, retry_after = self._transport_error(exc), None
            except Exception as exc:  # not a network failure: retrying would not help
                if self._client.is_closed:
                    raise closed_provider_error(self.name) from None
                raise errors.ProviderError(
                    f"could not send the request to Ollama at {self._shown_url}: "
                    f"{type(exc).__name__}: {exc}", provider=self.name,
                    hint="Check AI__OLLAMA_BASE_URL; if it is right, rebuild the provider with "
                         "create_ai_provider() and retry.") from None
            else:
                if response.status_code == 200:
                    try:
                        yield response
                    finally:
                        await response.aclose()
                    return
                await response.aread()
                await response.aclose()
                error = self._status_error(response)
                if response.status_code not in _RETRY_STATUSES:
                    raise error
                retry_after = _retry_after(response)
            if attempt >= self.settings.max_retries:
                raise error
            attempt += 1
            await asyncio.sleep(_backoff(attempt, retry_after))

    def _status_error(self, response: httpx.Response) -> errors.ProviderError:
        status = response.status_code
        try:
            ollama_error = response.json().get("error")
        except (ValueError, AttributeError):
            ollama_error = None
        message = ollama_error or response.text or response.reason_phrase
        text = f"HTTP {status} from Ollama: {message}"
        if status == 404 and ollama_error is None:
            # Not Ollama's {"error": ...}: the path itself does not exist on that server.
            return errors.ConfigurationError(
                f"HTTP 404 from {self._shown_url}/api/chat: nothing answers Ollama's chat API there",
                provider=self.name,
                hint="Check AI__OLLAMA_BASE_URL: it is the server's root, e.g. http://localhost:11434 "
                     "(no /api or /v1).")
        if status == 404:
            return errors.ModelNotFoundError(
                text, provider=self.name,
                hint=f"Run `ollama pull {self.model}` (or set AI__MODEL to a model you have: `ollama list`).")
        if status in (401, 403):
            return errors.AuthenticationError(
                text, provider=self.name, hint="A proxy in front of Ollama refused the request; check its credentials.")
        if status == 429:
            return errors.RateLimitError(
                f"{text} (after {self.settings.max_retries} retries)", provider=self.name,
                retry_after=_retry_after(response))
        if status >= 500:
            return errors.ProviderUnavailableError(
                f"{text} (after {self.settings.max_retries} retries)", provider=self.name,
                hint="Ollama failed; check `ollama ps` and its log, then retry.")
        return errors.ProviderError(text, provider=self.name, hint="Ollama rejected the request; read its message.")


def _json(raw: bytes | str, provider: str) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        raise errors.ProviderError(
            "Ollama sent a body that is not JSON", provider=provider, hint=_NOT_OLLAMA_HINT) from None
    if not isinstance(data, dict):
        raise _shape_error("a JSON value that is not an object", provider)
    return data


_NOT_OLLAMA_HINT = "Is AI__OLLAMA_BASE_URL pointing at Ollama and not another server?"


def _shape_error(what: str, provider: str) -> errors.ProviderError:
    return errors.ProviderError(
        f"Ollama sent {what}: not the expected shape of /api/chat", provider=provider,
        hint=_NOT_OLLAMA_HINT)


def _content(data: dict, provider: str) -> str:
    """The text in ``{"message": {"content": ...}}``; a missing message is no text."""
    message = data.get("message")
    if message is None:
        return ""
    if not isinstance(message, dict):
        raise _shape_error(f'a "message" that is a {type(message).__name__}, not an object', provider)
    content = message.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        raise _shape_error(f'a "message.content" that is a {type(content).__name__}, not text', provider)
    return content


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value) -> int | None:
    """A token count as reported, or ``None`` where the value is missing or not a count."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, _MAX_BACKOFF_S)
    return min(0.5 * 2 ** (attempt - 1), _MAX_BACKOFF_S) * (0.5 + random.random() / 2)
