"""The openai SDK under every OpenAI-style provider (``openai``, ``azure_openai``, each
OpenAI-compatible entry), written once: the client on the shared transport (``_http``), the
request sent again on a connection that died unanswered, and the SDK's failures mapped to
the workbook's typed errors with the provider's own hints. ``providers/openai.py`` reads
as the translation; this is what it stands on.
"""

from __future__ import annotations

import sys

import httpx2
import openai

from ...aio import aclose_quietly
from .. import errors
from ..errormap import decode_failure, invalid_utf8_error, kind_of, retry_after_seconds, typed_error
from ..registry import get_spec
from ..settings import env_name
from ._bounds import answer_budget
from ._closing import closed_provider_error
from ._http import guarded_transport
from ._redact import redact


class RegistryFact:
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


def guarded_http_client(provider):
    """The SDK's own default client on the shared transport (answers bounded, no redirects)."""
    return openai.DefaultAsyncHttpxClient(transport=guarded_transport(
        "httpx2", provider=provider.name, url_variable=provider.url_variable, secrets=provider._secrets))


def check_key(provider, key: str | None) -> None:
    """Refuse a key an HTTP header cannot carry, now rather than at the first call.

    A key pasted with a smart quote, a non-breaking space or a line break otherwise
    fails inside the SDK as a UnicodeEncodeError, which reads like a server problem.
    The key itself is never shown."""
    if key is not None and not (key.isascii() and key.isprintable()):
        variable = env_name(provider.key_field)
        raise errors.ConfigurationError(
            f"{variable} contains characters an HTTP header cannot carry "
            "(non-ASCII letters, curly quotes, line breaks or other control characters)",
            provider=provider.name,
            hint=f"Copy the key again into {variable} as plain text, without quotes or line breaks.")


async def create(provider, **request):
    """``chat.completions.create``, sent once more at once when the pooled connection it
    went out on turned out to be dead: the server closed it without answering a byte.

    llama.cpp's llama-server closes the connection after every streamed answer although
    its headers announce keep-alive; a request that reuses the connection before the
    close arrives meets "Server disconnected without sending a response". Nothing of it
    was answered, so sending it again on a fresh connection is what an HTTP client does
    for a stale keep-alive connection -- not a retry of a failed request (AI__MAX_RETRIES)."""
    return await _send(provider, provider._client.chat.completions.create, request)


async def create_response(provider, **request):
    """``responses.create`` (AI__OPENAI_API=responses), sent as ``create`` sends."""
    return await _send(provider, provider._client.responses.create, request)


async def _send(provider, method, request: dict):
    # What the answer may take is bounded by what it was asked for (see _bounds).
    with answer_budget(provider.name, _asked_tokens(request)):
        try:
            return await method(**request)
        except openai.APIConnectionError as error:
            if not _dropped_unanswered(error.__cause__):
                raise
        return await method(**request)


def clean(provider, error: BaseException) -> str:
    return redact(str(error) or type(error).__name__, provider._secrets)

def server_message(provider, error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return redact(str(inner["message"]), provider._secrets)
    return clean(provider, error)

def stream_error(provider, error: Exception, received: int) -> errors.ProviderError:
    """A failure while reading a stream, ``received`` text chunks in."""
    if isinstance(error, errors.ProviderError):
        return error
    reported = type(error) is openai.APIError  # an {"error": ...} event, not a transport failure
    if received and reported:
        return errors.IncompleteResponseError(
            f"the server reported an error after {received} chunks: "
            f"{redact(error.message, provider._secrets)}",
            provider=provider.name, hint="The answer is incomplete; retry the request.")
    if received and _timed_out(error):
        return provider._stalled(received)
    if received and decode_failure(error) is None:
        # A cut inside a chunked body surfaces as APIConnectionError (or a raw
        # transport error): the answer so far is incomplete, say so. (Invalid UTF-8
        # is no cut but the server's encoding: ``_translate`` names it.)
        return errors.IncompleteResponseError(
            f"the stream broke after {received} chunks: {clean(provider, error)}",
            provider=provider.name)
    if reported:
        # Before any text, an error event means what the same error as a status would.
        text = f"{provider._where()} reported an error: {redact(error.message, provider._secrets)}"
        status = _event_status(error.body)
        if status is None:
            return errors.ProviderError(text, provider=provider.name,
                                        hint="The server rejected the request; read its message.")
        return status_error(provider, status, text, error.body, retried=False)
    return translate(provider, error)

def translate(provider, error: Exception) -> errors.ProviderError:
    if isinstance(error, errors.ProviderError):
        return error
    name = provider.name
    if provider._client.is_closed():
        return closed_provider_error(name)
    undecodable = decode_failure(error)
    if undecodable is not None:
        return invalid_utf8_error(undecodable, provider._where(), provider=name, hints=provider.hints)
    if isinstance(error, openai.APITimeoutError):
        return errors.ProviderUnavailableError(
            f"no answer from {provider._where()} within {provider.settings.timeout_s:g} s",
            provider=name, hint="Raise AI__TIMEOUT_S, or check that the server is not overloaded.")
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__
        if _redirect_loop(cause):
            return errors.ProviderError(
                f"{provider._where()} redirects in a loop (the client gave up after {_MAX_REDIRECTS} "
                "redirects): it was reached, but never answers", provider=name,
                hint=f"Check {provider.url_variable}: the server, or a proxy before it, sends requests "
                     "round in circles; use the address that answers directly.")
        if _broke_after_sending(cause):
            # The server was reached and began to answer: its URL and state are fine.
            return errors.ProviderUnavailableError(
                f"the connection to {provider._where()} broke while reading the answer: "
                f"{clean(provider, cause)}",
                provider=name, hint="The connection broke while reading the answer; retry the request.")
        return errors.ProviderUnavailableError(
            f"cannot reach {provider._where()}: {clean(provider, cause or error)}",
            provider=name, hint=provider.hints["unavailable"])
    if isinstance(error, openai.APIStatusError):
        text = f"HTTP {error.status_code} from {provider._where()}: {server_message(provider, error)}"
        return status_error(provider, error.status_code, text, error.body, response=error.response)
    if isinstance(error, (ValueError, AttributeError, TypeError, KeyError, IndexError)):
        # JSON that does not parse, or parses into something without choices/message.
        return provider._not_openai_format(f"{type(error).__name__}: {clean(provider, error)}")
    return errors.ProviderError(
        f"unexpected failure talking to {provider._where()}: {type(error).__name__}: {clean(provider, error)}",
        provider=name,
        hint="Retry; if it persists, build a new provider with create_ai_provider().")

def status_error(provider, status: int, text: str, body, *, response=None,
                  retried: bool = True) -> errors.ProviderError:
    """The typed error for an HTTP status, whether it came as a status line or, with
    ``retried=False``, as an error event inside a stream."""
    code = body.get("code") if isinstance(body, dict) else None
    kind = kind_of(status, code if isinstance(code, str) else None, api_error=_is_api_error(body))
    if kind == "wrong_url":
        api = provider.settings.openai_api.replace("_", " ")  # chat completions, responses
        text = f"{text}: nothing answers {api} at that URL"
    hints = {**provider.hints, "wrong_url": provider._wrong_url_hint()}
    if not retried:
        hints.setdefault("server", "The server failed while answering; retry the request.")
    return typed_error(kind, text, provider=provider.name, hints=hints,
                       retry_after=retry_after_seconds(getattr(response, "headers", None)))


class SdkClientOwner:
    """Building the provider's SDK client, closing it, and replacing it after its event loop
    closed (a caller's own ``http_client`` is theirs to manage)."""

    def _connect(self, http_client=None):
        """The provider's ``_build_client`` on the shared transport, its API loaded now.

        The SDK imports an API's code when a client first touches it (``client.chat``,
        ``client.responses``): tens of milliseconds, seconds on a loaded machine, that would
        otherwise block the event loop inside the first call and count against its deadline."""
        client = self._build_client(self.settings, http_client or guarded_http_client(self))
        client.responses if self.settings.openai_api == "responses" else client.chat.completions
        return client

    async def aclose(self) -> None:
        await self._client.close()

    async def _renew_client(self) -> None:
        if self._http_client is None:
            stale, self._client = self._client, self._connect()
            # Its connections died with their loop. Closing it (which fails part-way) marks
            # it closed, so it does not try again, noisily, when it is garbage-collected.
            await aclose_quietly(stale)


def text_of(provider, value, what: str) -> str | None:
    """``value`` if it is text or missing, else the not-OpenAI-format error saying ``what``
    (with ``{}`` for its type): the SDK builds its models without validating them, so a
    number, object, list or bool would pass through."""
    if value is None or isinstance(value, str):
        return value
    raise provider._not_openai_format(what.format(type(value).__name__))


def ended_early(provider, parsed: int, received: int, *, end: str = "a finish_reason") -> errors.ProviderError:
    """A stream that ended without its ``end`` marker, after ``parsed`` chunks."""
    if not parsed:  # not one chunk: an HTML page or an empty body, not an answer cut short
        return provider._not_openai_format("a stream with no chunk in it")
    return errors.IncompleteResponseError(
        f"the stream ended after {received} chunks without {end}", provider=provider.name)


def entry_of_subclass(cls: type, name: str):
    """The entry ``register_provider(name, cls)`` gives an OpenAIProvider subclass: an
    OpenAI-compatible server configured by ``AI__<NAME>_BASE_URL`` / ``AI__<NAME>_API_KEY``."""
    from ..registry import openai_compatible

    return openai_compatible(name, cls, default_url=cls.default_base_url or "",
                             default_model=cls.default_model, strict_schema=cls.strict_schema)


def entry_class(base: type, name: str) -> type:
    """The provider class of an OpenAI-compatible registry entry that names no class of its
    own: ``base`` under the entry's name, with the entry's hints."""
    if name not in _ENTRY_CLASSES:
        spec = get_spec(name)
        variable = f"AI__{name.upper()}"
        hints = {"auth": f"Check {variable}_API_KEY.",
                 "not_found": "Check AI__MODEL against the models the server offers (GET /v1/models).",
                 "unavailable": f"Check {variable}_BASE_URL and your network; is the server running?",
                 **spec.hints}
        title = "".join(part.title() for part in name.split("_"))
        _ENTRY_CLASSES[name] = type(f"{title}Provider", (base,), {
            "name": name, "hints": hints, "strict_schema": spec.strict_schema,
            "__module__": base.__module__, "__doc__": spec.description})
    return _ENTRY_CLASSES[name]


_ENTRY_CLASSES: dict[str, type] = {}  # one class per entry, built once
_MAX_REDIRECTS = 20  # httpx's default, which the openai SDK keeps


def _asked_tokens(request: dict) -> int:
    asked = (request.get("max_tokens") or request.get("max_completion_tokens")
             or request.get("max_output_tokens"))
    return asked if isinstance(asked, int) else 4096


def _redirect_loop(cause: BaseException | None) -> bool:
    libraries = [httpx2] + ([sys.modules["httpx"]] if "httpx" in sys.modules else [])
    return any(isinstance(cause, library.TooManyRedirects) for library in libraries)


def _is_api_error(body) -> bool:
    """True for the JSON error object an OpenAI-style API sends, not a web server's 404 page.

    The object carries a "message"; a web framework's own 404 for a path it does not serve does
    not: FastAPI's ``{"detail": "Not Found"}`` (vLLM, llama-cpp-python's server) is a wrong URL, such
    as a base URL without its /v1, not an unknown model."""
    if not isinstance(body, dict):
        return False
    error = body.get("error", body)
    return isinstance(error, str) or (isinstance(error, dict) and "message" in error)


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


def _timed_out(error: BaseException) -> bool:
    """The client's read timeout, raw from inside a stream or wrapped by the SDK."""
    libraries = [httpx2] + ([sys.modules["httpx"]] if "httpx" in sys.modules else [])
    causes = (error, error.__cause__)
    return isinstance(error, openai.APITimeoutError) or any(
        isinstance(cause, library.TimeoutException) for cause in causes for library in libraries)


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
