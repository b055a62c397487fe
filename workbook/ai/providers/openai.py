"""``openai``: the OpenAI chat completions API through ``openai.AsyncOpenAI``.

Also the base of every OpenAI-compatible provider (vLLM, LM Studio, Azure OpenAI): they
differ only in how the client is built, their registry entry (default URL and model) and
the hints their errors carry. Retries are ``RemoteProvider``'s, not the SDK's: the SDK
waits out a Retry-After of up to 120 s whatever the timeout, which would break
AI__TIMEOUT_S.
"""

from __future__ import annotations

import sys
from typing import AsyncIterator

import httpx2
import openai

from .. import catalog, errors
from ...aio import aclose_quietly
from ..errormap import decode_failure, invalid_utf8_error, kind_of, retry_after_seconds, typed_error
from ..registry import get_spec
from ..settings import AISettings, display_url, env_name
from ..structured import OutputSchema, refuse_unless_strict
from ..types import ChatStream, Message, Usage
from ._bounds import answer_budget, bound_response, ended_now, next_read
from ._closing import closed_provider_error
from ._redact import redact
from ._url_credentials import split_credentials
from .base import Answer, RemoteProvider

# After the finish_reason only the usage chunk and [DONE] may follow: a server that keeps
# the connection open (or keeps sending empty events) after the end marker has still
# answered in full. Reading on to [DONE] (rather than stopping at the usage chunk) lets
# httpx reuse the connection; _bounds.AFTER_END_S bounds that whole tail, not each event.


class _RegistryFact:
    """A class attribute read from the provider's registry entry (by its ``name``), so the
    fact lives in one place; a subclass may still set its own value. A subclass with no
    entry (yet) has its parent's: a student's ``class Mine(LMStudioProvider)``."""

    def __init__(self, fact: str, shown=lambda value: value):
        self._fact, self._shown = fact, shown

    def __get__(self, instance, owner):
        for klass in owner.__mro__:
            value = getattr(get_spec(vars(klass).get("name", "")), self._fact, None)
            if value is not None:
                return self._shown(value)
        return None


class OpenAIProvider(RemoteProvider):
    name = "openai"
    default_base_url = _RegistryFact("default_url")
    default_model = _RegistryFact("default_model")
    url_field = _RegistryFact("url_field")  # AI__OPENAI_BASE_URL for openai, AI__VLLM_BASE_URL...
    key_field = _RegistryFact("key_field")
    url_variable = _RegistryFact("url_field", env_name)
    # response_format's "strict": OpenAI and Azure OpenAI then enforce the schema exactly and
    # refuse (400) one that breaks strict mode's rules, checked here before sending. vLLM and
    # LM Studio enforce any schema their grammar engine compiles, strict or not: they send false.
    strict_schema = True
    hints = {
        "auth": "Check AI__OPENAI_API_KEY (create a key at platform.openai.com).",
        "not_found": "Check AI__MODEL against the models your key can use (GET /v1/models).",
        "unavailable": "Check AI__OPENAI_BASE_URL and your network; is the server running?",
    }

    @classmethod
    def for_entry(cls, name: str) -> type["OpenAIProvider"]:
        """The provider class of an OpenAI-compatible registry entry that names no class of
        its own: this one, under the entry's name, with the entry's hints."""
        if name not in _ENTRY_CLASSES:
            spec = get_spec(name)
            variable = f"AI__{name.upper()}"
            hints = {"auth": f"Check {variable}_API_KEY.",
                     "not_found": "Check AI__MODEL against the models the server offers (GET /v1/models).",
                     "unavailable": f"Check {variable}_BASE_URL and your network; is the server running?",
                     **spec.hints}
            title = "".join(part.title() for part in name.split("_"))
            _ENTRY_CLASSES[name] = type(f"{title}Provider", (cls,), {
                "name": name, "hints": hints, "strict_schema": spec.strict_schema,
                "__module__": __name__, "__doc__": spec.description})
        return _ENTRY_CLASSES[name]

    @classmethod
    def registry_entry(cls, name: str):
        """The entry ``register_provider(name, cls)`` gives a subclass registered at run time:
        an OpenAI-compatible server configured by ``AI__<NAME>_BASE_URL`` / ``_API_KEY``."""
        from ..registry import openai_compatible

        return openai_compatible(name, cls, default_url=cls.default_base_url or "",
                                 default_model=cls.default_model, strict_schema=cls.strict_schema)

    def __init__(self, settings: AISettings | None = None, *, http_client=None):
        settings = settings or AISettings(provider=self.name)
        self.settings = settings
        self.model = self._model_name(settings)
        self.base_url = self._base_url(settings)
        # user:password in the URL travels as a header (httpx logs request URLs at INFO).
        self._url, self._url_headers, url_secrets = split_credentials(self.base_url)
        self._secrets = [*settings.secret_values(), *url_secrets]
        self._check_key(settings.secret(self.key_field))
        self._http_client = http_client
        self._client = self._build_client(settings, http_client or _bounded_http_client())

    async def _renew_client(self) -> None:
        if self._http_client is None:  # a caller's own http_client is theirs to manage
            stale, self._client = self._client, self._build_client(self.settings, _bounded_http_client())
            # Its connections died with their loop. Closing it (which fails part-way) marks
            # it closed, so it does not try again, noisily, when it is garbage-collected.
            await aclose_quietly(stale)

    def _check_key(self, key: str | None) -> None:
        """Refuse a key an HTTP header cannot carry, now rather than at the first call.

        A key pasted with a smart quote, a non-breaking space or a line break otherwise
        fails inside the SDK as a UnicodeEncodeError, which reads like a server problem.
        The key itself is never shown."""
        if key is not None and not (key.isascii() and key.isprintable()):
            variable = env_name(self.key_field)
            raise errors.ConfigurationError(
                f"{variable} contains characters an HTTP header cannot carry "
                "(non-ASCII letters, curly quotes, line breaks or other control characters)",
                provider=self.name,
                hint=f"Copy the key again into {variable} as plain text, without quotes or line breaks.")

    # -- what subclasses change -------------------------------------------------------
    def _model_name(self, settings: AISettings) -> str:
        return settings.model or self.default_model or ""

    def _base_url(self, settings: AISettings) -> str | None:
        """The URL setting as written (user:password included: ``__init__`` splits them off)."""
        return getattr(settings, self.url_field) or self.default_base_url

    def _build_client(self, settings: AISettings, http_client):
        return openai.AsyncOpenAI(
            # A local server needs no key, but the SDK insists on a non-empty one.
            api_key=settings.secret(self.key_field) or "not-needed",
            base_url=self._url,
            default_headers=self._url_headers or None,
            timeout=settings.timeout_s,
            max_retries=0,  # RemoteProvider retries, within AI__TIMEOUT_S
            http_client=http_client,
        )

    # -- the protocol ---------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self._where()!r})"

    async def aclose(self) -> None:
        await self._client.close()

    def _check_schema(self, schema: OutputSchema) -> None:
        if self.strict_schema:
            refuse_unless_strict(schema, self.name)

    def _request(self, messages: list[Message], max_tokens: int, temperature: float) -> dict:
        limit_field = catalog.token_limit_field(self.model)
        request = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            limit_field: max_tokens,
            "temperature": temperature,
        }
        if limit_field == "max_completion_tokens":
            # OpenAI's reasoning models (GPT-5 on) would spend the completion budget thinking,
            # and accept a temperature other than 1 only with reasoning turned off.
            request["reasoning_effort"] = "none"
        return request

    def _schema_field(self, schema: OutputSchema | None) -> dict:
        """The request field carrying ``chat(..., response_format=)``'s schema (none without one).

        Kept apart from ``_request`` (which subclasses and exercise 12 override) so that an
        override need not know about it."""
        if schema is None:
            return {}
        # verified 2026-12-01: OpenAI API reference, chat completions `response_format`
        # {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}; Azure OpenAI takes the
        # same object (learn.microsoft.com "Structured outputs", api-version 2024-08-01-preview on,
        # and v1); LM Studio's /v1/chat/completions "follows the same format" (lmstudio.ai/docs
        # "Structured Output"); vLLM's OpenAI-compatible server accepts it too (docs.vllm.ai
        # "Structured Outputs", beside its own structured_outputs extra field).
        return {"response_format": {"type": "json_schema", "json_schema": {
            "name": schema.name, "schema": schema.schema, "strict": self.strict_schema}}}

    async def _complete(self, messages: list[Message], max_tokens: int, temperature: float, *,
                        schema: OutputSchema | None = None) -> Answer:
        # Built outside the SDK's try: a subclass's unfinished _request (a TODO raising
        # NotImplementedError) is the subclass's own error, not a server failure to retry.
        request = self._request(messages, max_tokens, temperature)
        try:
            completion = await self._create(**request, **self._schema_field(schema))
            choice = completion.choices[0]
            content = _text_or_none(choice.message.content)
        except Exception as error:  # every SDK failure becomes a typed workbook error
            raise self._translate(error) from None
        if content is _NOT_TEXT:
            raise self._not_openai_format(
                f'"message.content" is a {type(choice.message.content).__name__}, not text')
        content = content or ""
        usage = completion.usage
        return Answer(content, completion.model,
                      Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
                      choice.finish_reason)

    async def _pieces(self, stream: ChatStream, messages: list[Message], max_tokens: int,
                      temperature: float) -> AsyncIterator[str]:
        request = self._request(messages, max_tokens, temperature)  # outside the try, as in _complete
        try:
            chunks = await self._create(**request, stream=True, stream_options={"include_usage": True})
        except Exception as error:
            raise self._translate(error) from None
        parsed = received = 0  # chunks read in the OpenAI format / those carrying text
        reading = chunks.__aiter__()
        ended_at = None  # the loop's time when the finish_reason arrived
        try:
            while True:
                try:
                    chunk = await next_read(reading, ended_at)
                except (StopAsyncIteration, TimeoutError):
                    break
                stream.model = chunk.model or stream.model
                if chunk.usage is not None:
                    stream.usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    text = _text_or_none(choice.delta.content) if choice.delta else None
                    if text is _NOT_TEXT:
                        raise self._not_openai_format(
                            f'a "delta.content" that is a {type(choice.delta.content).__name__}, '
                            f"not text, after {received} chunks")
                    if text and ended_at is None:  # text after the finish_reason is no answer's
                        received += 1
                        yield text
                    if choice.finish_reason and ended_at is None:
                        stream.finish_reason = choice.finish_reason
                        ended_at = ended_now()
                parsed += 1
        except Exception as error:
            raise self._stream_error(error, received) from None
        finally:
            await chunks.close()
        if stream.finish_reason is None:
            if not parsed:
                # Not one chunk: an HTML page or an empty body, not an answer cut short.
                raise self._not_openai_format("a stream with no chunk in it")
            # The SDK ends silently when the server closes the stream early.
            raise errors.IncompleteResponseError(
                f"the stream ended after {received} chunks without a finish_reason",
                provider=self.name,
            )

    async def _create(self, **request):
        """``chat.completions.create``, sent once more at once when the pooled connection it
        went out on turned out to be dead: the server closed it without answering a byte.

        llama.cpp's llama-server closes the connection after every streamed answer although
        its headers announce keep-alive; a request that reuses the connection before the
        close arrives meets "Server disconnected without sending a response". Nothing of it
        was answered, so sending it again on a fresh connection is what an HTTP client does
        for a stale keep-alive connection -- not a retry of a failed request (AI__MAX_RETRIES)."""
        # What the answer may take is bounded by what it was asked for (see _bounds).
        with answer_budget(self.name, _asked_tokens(request)):
            try:
                return await self._client.chat.completions.create(**request)
            except openai.APIConnectionError as error:
                if not _dropped_unanswered(error.__cause__):
                    raise
            return await self._client.chat.completions.create(**request)

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

    def _stream_error(self, error: Exception, received: int) -> errors.ProviderError:
        """A failure while reading a stream, ``received`` text chunks in."""
        if isinstance(error, errors.ProviderError):
            return error
        reported = type(error) is openai.APIError  # an {"error": ...} event, not a transport failure
        if received and reported:
            return errors.IncompleteResponseError(
                f"the server reported an error after {received} chunks: "
                f"{redact(error.message, self._secrets)}",
                provider=self.name, hint="The answer is incomplete; retry the request.")
        if received and decode_failure(error) is None:
            # A cut inside a chunked body surfaces as APIConnectionError (or a raw
            # transport error): the answer so far is incomplete, say so. (Invalid UTF-8
            # is no cut but the server's encoding: ``_translate`` names it.)
            return errors.IncompleteResponseError(
                f"the stream broke after {received} chunks: {self._clean(error)}",
                provider=self.name)
        if reported:
            # Before any text, an error event means what the same error as a status would.
            text = f"{self._where()} reported an error: {redact(error.message, self._secrets)}"
            status = _event_status(error.body)
            if status is None:
                return errors.ProviderError(text, provider=self.name,
                                            hint="The server rejected the request; read its message.")
            return self._status_error(status, text, error.body, retried=False)
        return self._translate(error)

    def _translate(self, error: Exception) -> errors.ProviderError:
        if isinstance(error, errors.ProviderError):
            return error
        name = self.name
        if self._client.is_closed():
            return closed_provider_error(name)
        undecodable = decode_failure(error)
        if undecodable is not None:
            return invalid_utf8_error(undecodable, self._where(), provider=name, hints=self.hints)
        if isinstance(error, openai.APITimeoutError):
            return errors.ProviderUnavailableError(
                f"no answer from {self._where()} within {self.settings.timeout_s:g} s",
                provider=name, hint="Raise AI__TIMEOUT_S, or check that the server is not overloaded.")
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__
            if _redirect_loop(cause):
                return errors.ProviderError(
                    f"{self._where()} redirects in a loop (the client gave up after {_MAX_REDIRECTS} "
                    "redirects): it was reached, but never answers", provider=name,
                    hint=f"Check {self.url_variable}: the server, or a proxy before it, sends requests "
                         "round in circles; use the address that answers directly.")
            if _broke_after_sending(cause):
                # The server was reached and began to answer: its URL and state are fine.
                return errors.ProviderUnavailableError(
                    f"the connection to {self._where()} broke while reading the answer: "
                    f"{self._clean(cause)}",
                    provider=name, hint="The connection broke while reading the answer; retry the request.")
            return errors.ProviderUnavailableError(
                f"cannot reach {self._where()}: {self._clean(cause or error)}",
                provider=name, hint=self.hints["unavailable"])
        if isinstance(error, openai.APIStatusError):
            text = f"HTTP {error.status_code} from {self._where()}: {self._server_message(error)}"
            return self._status_error(error.status_code, text, error.body, response=error.response)
        if isinstance(error, (ValueError, AttributeError, TypeError, KeyError, IndexError)):
            # JSON that does not parse, or parses into something without choices/message.
            return self._not_openai_format(f"{type(error).__name__}: {self._clean(error)}")
        return errors.ProviderError(
            f"unexpected failure talking to {self._where()}: {type(error).__name__}: {self._clean(error)}",
            provider=name,
            hint="Retry; if it persists, build a new provider with create_ai_provider().")

    def _status_error(self, status: int, text: str, body, *, response=None,
                      retried: bool = True) -> errors.ProviderError:
        """The typed error for an HTTP status, whether it came as a status line or, with
        ``retried=False``, as an error event inside a stream."""
        code = body.get("code") if isinstance(body, dict) else None
        kind = kind_of(status, code if isinstance(code, str) else None, api_error=_is_api_error(body))
        if kind == "wrong_url":
            text = f"{text}: nothing answers chat completions at that URL"
        hints = {**self.hints, "wrong_url": self._wrong_url_hint()}
        if not retried:
            hints.setdefault("server", "The server failed while answering; retry the request.")
        return typed_error(kind, text, provider=self.name, hints=hints,
                           retry_after=retry_after_seconds(getattr(response, "headers", None)))

    def _not_openai_format(self, what: str) -> errors.ProviderError:
        return errors.ProviderError(
            f"the answer from {self._where()} is not in the OpenAI format ({what})",
            provider=self.name,
            hint=f"Check that {self.url_variable} points at an OpenAI-compatible server; "
                 "if it does, retry (the answer may have been damaged on the way).")

    def _wrong_url_hint(self) -> str:
        return f"Check {self.url_variable}: an OpenAI-compatible base URL usually ends in /v1."

    def _where(self) -> str:
        return display_url(self.base_url) or "api.openai.com"


_NOT_TEXT = object()
_ENTRY_CLASSES: dict[str, type[OpenAIProvider]] = {}  # one class per entry, built once
_MAX_REDIRECTS = 20  # httpx's default, which the openai SDK keeps


def _text_or_none(value):
    """``value`` if it is text or missing; ``_NOT_TEXT`` for a number, object, list or bool
    (the SDK builds its models without validating them, so those would pass through)."""
    return value if value is None or isinstance(value, str) else _NOT_TEXT


def _asked_tokens(request: dict) -> int:
    asked = request.get("max_tokens") or request.get("max_completion_tokens")
    return asked if isinstance(asked, int) else 4096


def _bounded_http_client():
    """The SDK's own default client, with each answer's size bounded (``_bounds``)."""
    return openai.DefaultAsyncHttpxClient(event_hooks={"response": [bound_response]})


def _redirect_loop(cause: BaseException | None) -> bool:
    libraries = [httpx2] + ([sys.modules["httpx"]] if "httpx" in sys.modules else [])
    return any(isinstance(cause, library.TooManyRedirects) for library in libraries)


def _is_api_error(body) -> bool:
    """True for the JSON error object an OpenAI-style API sends, not a web server's 404 page."""
    return isinstance(body, dict) and isinstance(body.get("error", body), (dict, str))


def _event_status(body) -> int | None:
    """The HTTP status an error event inside a stream stands for, where it says.

    An event has no status line: Azure and vLLM put the status in ``code`` ("429", 500),
    OpenAI a type or code such as "rate_limit_exceeded" or "server_error"."""
    if not isinstance(body, dict):
        return None
    code, kind = body.get("code"), body.get("type")
    if isinstance(code, (int, str)) and not isinstance(code, bool) and str(code).isdigit():
        return int(code) if 400 <= int(code) < 600 else None
    words = f"{code} {kind}".lower()
    if "rate_limit" in words or kind in ("requests", "tokens"):
        return 429
    if "server_error" in words or "internal" in words or "overloaded" in words:
        return 500
    return None


def _dropped_unanswered(cause: BaseException | None) -> bool:
    """The server closed (or reset) the connection instead of answering: what a request meets
    on a stale pooled connection -- an orderly close before any byte of the answer, or a
    reset when the request was written into a connection the server had already closed."""
    libraries = [httpx2] + ([sys.modules["httpx"]] if "httpx" in sys.modules else [])
    return any(isinstance(cause, library.ReadError)
               or (isinstance(cause, library.RemoteProtocolError)
                   and "without sending a response" in str(cause))
               for library in libraries)


def _broke_after_sending(cause: BaseException | None) -> bool:
    """True when the connection failed after the request went out, while the answer was
    being read -- as opposed to refused, unresolvable or unroutable (the server never
    reached). openai sends through httpx2; a caller's own http_client may be httpx."""
    libraries = [httpx2] + ([sys.modules["httpx"]] if "httpx" in sys.modules else [])
    return any(isinstance(cause, (library.ReadError, library.RemoteProtocolError))
               for library in libraries)
