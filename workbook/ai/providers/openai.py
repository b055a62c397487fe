"""``openai``: the OpenAI chat completions API through ``openai.AsyncOpenAI``.

Also the base of every OpenAI-compatible provider (vLLM, LM Studio, Azure OpenAI): they
differ only in how the client is built, the default URL and model, and the hints their
errors carry. Retries (429, 5xx, connection) are the SDK's own, honouring Retry-After.
"""

from __future__ import annotations

import time
from typing import AsyncIterator

import openai

from .. import errors
from ..settings import AISettings, display_url
from ..types import ChatResponse, ChatStream, Message, Usage, validate_request
from ._redact import redact


class OpenAIProvider:
    name = "openai"
    default_base_url: str | None = None  # None: the SDK's own (api.openai.com)
    default_model = "gpt-4o-mini"
    url_variable = "AI__OPENAI_BASE_URL"
    hints = {
        "auth": "Check AI__OPENAI_API_KEY (create a key at platform.openai.com).",
        "not_found": "Check AI__MODEL against the models your key can use (GET /v1/models).",
        "unavailable": "Check AI__OPENAI_BASE_URL and your network; is the server running?",
    }

    def __init__(self, settings: AISettings | None = None, *, http_client=None):
        settings = settings or AISettings(provider=self.name)
        self.settings = settings
        self.model = self._model_name(settings)
        self.base_url = settings.openai_base_url or self.default_base_url
        self._secrets = [settings.secret("openai_api_key"), settings.secret("azure_openai_api_key")]
        self._client = self._build_client(settings, http_client)

    # -- what subclasses change -------------------------------------------------------
    def _model_name(self, settings: AISettings) -> str:
        return settings.model or self.default_model

    def _build_client(self, settings: AISettings, http_client):
        return openai.AsyncOpenAI(
            # A local server needs no key, but the SDK insists on a non-empty one.
            api_key=settings.secret("openai_api_key") or "not-needed",
            base_url=self.base_url,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
            http_client=http_client,
        )

    # -- the protocol ---------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self._where()!r})"

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    def _request(self, messages: list[Message], max_tokens: int, temperature: float) -> dict:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }

    async def chat(self, messages: list[Message], *, max_tokens: int | None = None,
                   temperature: float | None = None) -> ChatResponse:
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)
        started = time.perf_counter()
        try:
            completion = await self._client.chat.completions.create(
                **self._request(messages, max_tokens, temperature))
            choice = completion.choices[0]
            content = choice.message.content or ""
        except Exception as error:  # every SDK failure becomes a typed workbook error
            raise self._translate(error) from None
        usage = completion.usage
        return ChatResponse(
            content=content, model=completion.model or self.model, provider=self.name,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            finish_reason=choice.finish_reason, latency_s=time.perf_counter() - started,
        )

    def chat_stream(self, messages: list[Message], *, max_tokens: int | None = None,
                    temperature: float | None = None) -> AsyncIterator[str]:
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)
        request = self._request(messages, max_tokens, temperature)
        return ChatStream(lambda stream: self._stream(stream, request), provider=self.name)

    async def _stream(self, stream: ChatStream, request: dict) -> AsyncIterator[str]:
        try:
            chunks = await self._client.chat.completions.create(
                **request, stream=True, stream_options={"include_usage": True})
        except Exception as error:
            raise self._translate(error) from None
        received = 0
        try:
            async for chunk in chunks:
                stream.model = chunk.model or stream.model
                if chunk.usage is not None:
                    stream.usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.finish_reason:
                        stream.finish_reason = choice.finish_reason
                    if choice.delta and choice.delta.content:
                        received += 1
                        yield choice.delta.content
        except Exception as error:
            # A cut inside a chunked body surfaces here as APIConnectionError (or a raw
            # transport error): the answer so far is incomplete, say so.
            raise errors.IncompleteResponseError(
                f"the stream broke after {received} chunks: {self._clean(error)}",
                provider=self.name,
            ) from None
        finally:
            await chunks.close()
        if stream.finish_reason is None:
            # The SDK ends silently when the server closes the stream early.
            raise errors.IncompleteResponseError(
                f"the stream ended after {received} chunks without a finish_reason",
                provider=self.name,
            )

    # -- errors ---------------------------------------------------------------------
    def _clean(self, error: BaseException) -> str:
        return redact(str(error) or type(error).__name__, self._secrets)

    def _server_message(self, error: openai.APIStatusError) -> str:
        body = error.body
        if isinstance(body, dict):
            inner = body.get("error", body)
            if isinstance(inner, dict) and inner.get("message"):
                return redact(str(inner["message"]), self._secrets)
        return self._clean(error)

    def _translate(self, error: Exception) -> errors.ProviderError:
        if isinstance(error, errors.ProviderError):
            return error
        name = self.name
        if isinstance(error, openai.APITimeoutError):
            return errors.ProviderUnavailableError(
                f"no answer from {self._where()} within {self.settings.timeout_s:g} s",
                provider=name, hint="Raise AI__TIMEOUT_S, or check that the server is not overloaded.")
        if isinstance(error, openai.APIConnectionError):
            return errors.ProviderUnavailableError(
                f"cannot reach {self._where()}: {self._clean(error.__cause__ or error)}",
                provider=name, hint=self.hints["unavailable"])
        if isinstance(error, openai.APIStatusError):
            status, message = error.status_code, self._server_message(error)
            text = f"HTTP {status} from {self._where()}: {message}"
            if status in (401, 403):
                return errors.AuthenticationError(text, provider=name, hint=self.hints["auth"])
            if status == 404 and not _is_api_error(error.body):
                # No API error body: the path itself does not exist on that server.
                return errors.ConfigurationError(
                    f"{text}: nothing answers chat completions at that URL",
                    provider=name, hint=self._wrong_url_hint())
            if status == 404:
                return errors.ModelNotFoundError(text, provider=name, hint=self.hints["not_found"])
            if status == 429:
                retry_after = _retry_after(error.response)
                return errors.RateLimitError(
                    f"{text} (still limited after {self.settings.max_retries} retries)",
                    provider=name, retry_after=retry_after)
            if status >= 500:
                return errors.ProviderUnavailableError(
                    f"{text} (after {self.settings.max_retries} retries)", provider=name,
                    hint="The server is failing; retry later or raise AI__MAX_RETRIES.")
            return errors.ProviderError(text, provider=name,
                                        hint="The server rejected the request; read its message.")
        return errors.ProviderError(
            f"unexpected response from {self._where()}: {type(error).__name__}: {self._clean(error)}",
            provider=name, hint="The server sent something that is not the OpenAI format; check the URL.")

    def _wrong_url_hint(self) -> str:
        return f"Check {self.url_variable}: an OpenAI-compatible base URL usually ends in /v1."

    def _where(self) -> str:
        return display_url(self.base_url) or "api.openai.com"


def _is_api_error(body) -> bool:
    """True for the JSON error object an OpenAI-style API sends, not a web server's 404 page."""
    return isinstance(body, dict) and isinstance(body.get("error", body), (dict, str))


def _retry_after(response) -> float | None:
    try:
        return float(response.headers.get("retry-after"))
    except (TypeError, ValueError, AttributeError):
        return None
