"""``ollama``: Ollama's native ``/api/chat`` over ``httpx.AsyncClient``.

Streaming is NDJSON: one JSON object per line, the last with ``"done": true`` and the
token counts (``prompt_eval_count``, ``eval_count``). Each call is one attempt;
``RemoteProvider`` retries 429/5xx/connection failures within AI__TIMEOUT_S. Bytes are
decoded strictly: invalid UTF-8 is an error, never a silent U+FFFD in the answer.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import AsyncIterator

import httpx

from .. import errors
from ...aio import aclose_quietly
from ..errormap import invalid_utf8_error, kind_of, retry_after_seconds, typed_error
from ..registry import get_spec
from ..settings import AISettings, display_url
from ..structured import OutputSchema
from ..types import ChatStream, Message, Usage
from ._bounds import answer_budget, bound_response, ended_now, next_read
from ._closing import closed_provider_error
from ._redact import redact
from ._url_credentials import split_credentials
from .base import Answer, RemoteProvider

# After the "done" line a server may keep the connection open, or go on sending lines:
# read on _bounds.AFTER_END_S in total at most (reading to the end lets httpx reuse the
# connection), then stop -- the answer is whole.


class OllamaProvider(RemoteProvider):
    name = "ollama"
    default_model: str | None = None  # None: the registry entry's

    def __init__(self, settings: AISettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        settings = settings or AISettings(provider=self.name)
        self.settings = settings
        spec = get_spec(self.name)
        self.model = settings.model or self.default_model or (spec and spec.default_model) or "llama3.2"
        self.base_url = settings.ollama_base_url
        self._shown_url = display_url(self.base_url)  # for messages: no user:password
        # user:password travels as a header: httpx logs the URL of every request at INFO.
        self._url, self._headers, self._secrets = split_credentials(self.base_url)
        self._transport = transport
        self._client = self._build_client()

    def _build_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self._url, headers=self._headers,
                                 timeout=httpx.Timeout(self.settings.timeout_s), transport=self._transport,
                                 event_hooks={"response": [bound_response]})  # answers' size: _bounds

    async def _renew_client(self) -> None:
        if self._transport is None:
            stale, self._client = self._client, self._build_client()
            await aclose_quietly(stale)  # its connections died with their loop

    def _where(self) -> str:
        return f"Ollama at {self._shown_url}"

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

    @staticmethod
    def _schema_field(schema: OutputSchema | None) -> dict:
        """The request field carrying ``chat(..., response_format=)``'s schema (none without one)."""
        if schema is None:
            return {}
        # verified 2026-12-01: Ollama docs "Structured outputs" (docs.ollama.com/capabilities/
        # structured-outputs; blog 2024-12-06): /api/chat's `format` takes a JSON schema object.
        return {"format": schema.schema}

    async def _complete(self, messages: list[Message], max_tokens: int, temperature: float, *,
                        schema: OutputSchema | None = None) -> Answer:
        async with self._post({**self._body(messages, max_tokens, temperature, stream=False),
                               **self._schema_field(schema)}, stream=False) as response:
            data = _json(response.content, self.name)
        if "error" in data:
            raise self._reported_error(data["error"], received=0)
        if data.get("done") is not True:
            # Ollama sets "done": true only on a finished answer; without it the text
            # (if any) may stop mid-sentence.
            raise errors.IncompleteResponseError(
                'Ollama\'s answer came without "done": true, so it may be cut short',
                provider=self.name, hint="Retry the request; if it keeps happening, check Ollama's log.")
        return Answer(
            _content(data, self.name), _text(data.get("model")) or self.model,
            Usage(_count(data.get("prompt_eval_count")), _count(data.get("eval_count"))),
            _text(data.get("done_reason")) or "stop")

    async def _pieces(self, stream: ChatStream, messages: list[Message], max_tokens: int,
                      temperature: float) -> AsyncIterator[str]:
        received, done, parsed = 0, False, 0
        ended_at = None  # the loop's time when the "done" line arrived
        async with self._post(self._body(messages, max_tokens, temperature, stream=True)) as response:
            lines = _lines(response.aiter_bytes(), self.name)
            try:
                while True:
                    try:
                        line, whole = await next_read(lines, ended_at)
                    except (StopAsyncIteration, TimeoutError):
                        break
                    if done:
                        continue  # the answer is complete; anything more is ignored
                    if not line.strip():
                        continue
                    try:
                        data = _json(line, self.name)
                    except errors.ProviderError:
                        if whole or not parsed:
                            raise
                        # The body ended inside a line, after lines in Ollama's shape: cut short.
                        raise errors.IncompleteResponseError(
                            f"the stream was cut inside a line after {received} chunks, before its "
                            "final \"done\": true line", provider=self.name) from None
                    parsed += 1
                    if "error" in data:  # Ollama reports mid-stream failures as a line
                        raise self._reported_error(data["error"], received)
                    stream.model = _text(data.get("model")) or stream.model
                    piece = _content(data, self.name)
                    if piece:
                        received += 1
                        yield piece
                    if data.get("done") is True:
                        done, ended_at = True, ended_now()
                        stream.finish_reason = _text(data.get("done_reason")) or "stop"
                        stream.usage = Usage(_count(data.get("prompt_eval_count")),
                                             _count(data.get("eval_count")))
            except httpx.HTTPError as error:
                if received == 0 and not done:
                    raise self._transport_error(error) from None
                raise errors.IncompleteResponseError(
                    f"the stream broke after {received} chunks: {type(error).__name__}",
                    provider=self.name) from None
            finally:
                await lines.aclose()
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
        """POST /api/chat once; yields a 200 response, raises a typed error otherwise.

        ``stream=False`` reads the whole body first (cheaper for one JSON object)."""
        try:
            request = self._client.build_request("POST", "/api/chat", json=body)
            # What the answer may take is bounded by what it was asked for (see _bounds).
            with answer_budget(self.name, body["options"]["num_predict"]):
                response = await self._client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        except errors.ProviderError:  # the answer ran past its bound while being read
            raise
        except Exception as exc:  # not a network failure: retrying would not help
            if self._client.is_closed:
                raise closed_provider_error(self.name) from None
            raise errors.ProviderError(
                f"could not send the request to Ollama at {self._shown_url}: "
                f"{type(exc).__name__}: {redact(str(exc), self._secrets)}", provider=self.name,
                hint="Check AI__OLLAMA_BASE_URL; if it is right, rebuild the provider with "
                     "create_ai_provider() and retry.") from None
        try:
            if response.is_redirect:
                raise self._redirect_error(response)
            if response.status_code != 200:
                try:
                    await response.aread()
                except httpx.HTTPError as exc:
                    raise self._transport_error(exc) from None
                raise self._status_error(response)
            yield response
        finally:
            await response.aclose()

    def _redirect_error(self, response: httpx.Response) -> errors.ProviderError:
        """A 3xx: the provider follows none (a redirect loop would otherwise be sent round
        and round, and a redirect to another host could carry the URL's credentials)."""
        target = redact(display_url(response.headers.get("location", "")) or "nowhere", self._secrets)
        return errors.ProviderError(
            f"Ollama at {self._shown_url} answered HTTP {response.status_code}, a redirect to {target}: "
            "redirects are not followed", provider=self.name,
            hint="Set AI__OLLAMA_BASE_URL to the address that answers directly (Ollama itself "
                 "never redirects: a proxy or another server is at that URL).")

    def _status_error(self, response: httpx.Response) -> errors.ProviderError:
        status = response.status_code
        try:
            ollama_error = response.json().get("error")
        except (ValueError, AttributeError):
            ollama_error = None
        message = redact(str(ollama_error or response.content.decode("utf-8", "replace") or response.reason_phrase),
                         self._secrets)
        kind = kind_of(status, api_error=ollama_error is not None)
        text = f"HTTP {status} from Ollama: {message}"
        if kind == "wrong_url":
            # Not Ollama's {"error": ...}: the path itself does not exist on that server.
            text = f"HTTP 404 from {self._shown_url}/api/chat: nothing answers Ollama's chat API there"
        return typed_error(kind, text, provider=self.name, hints=self._hints(),
                           retry_after=retry_after_seconds(response.headers))

    def _hints(self) -> dict[str, str]:
        return {
            "wrong_url": "Check AI__OLLAMA_BASE_URL: it is the server's root, e.g. http://localhost:11434 "
                         "(no /api or /v1).",
            "not_found": f"Run `ollama pull {self.model}` (or set AI__MODEL to a model you have: `ollama list`).",
            "auth": "A proxy in front of Ollama refused the request; check its credentials.",
            "server": "Ollama failed; check `ollama ps` and its log, then retry.",
            "rejected": "Ollama rejected the request; read its message.",
        }


async def _lines(chunks: AsyncIterator[bytes], provider: str) -> AsyncIterator[tuple[str, bool]]:
    """NDJSON lines from raw bytes, decoded strictly (httpx's own decoding hides bad bytes),
    each with whether its newline arrived (the last may be cut short).

    Linear time: a line's parts are kept in a list and joined once, and only each new
    chunk is searched for newlines (re-splitting the whole pending bytes for every chunk
    made a 40 MB line cost seconds of CPU)."""
    parts: list[bytes] = []
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            parts.append(chunk[start:end])
            yield _strict_text(b"".join(parts), provider), True
            parts.clear()
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    pending = b"".join(parts)
    if pending.strip():
        yield _strict_text(pending, provider), False


def _strict_text(raw: bytes, provider: str = "ollama") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid_utf8_error(error, "Ollama", provider=provider) from None


def _json(raw: bytes | str, provider: str) -> dict:
    if isinstance(raw, bytes):
        raw = _strict_text(raw, provider)
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
