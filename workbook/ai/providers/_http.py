"""The one HTTP transport under every httpx-based provider: Ollama's ``httpx.AsyncClient``
and the openai SDK's client (``http_client=``, on httpx2).

What it does for each request, whatever the protocol above it:

* bounds the answer's body to what the request may produce and inflates gzip / deflate
  itself in bounded steps (``_bounds``: the budget comes from ``answer_budget(...)``);
* refuses redirects: a loop would be followed round and round, and a redirect to another
  host could carry the URL's credentials. Nothing the workbook calls redirects, so a 3xx
  means a proxy or another server sits at the configured URL.

A URL's ``user:password@`` is split off by ``guarded_url`` (sent as a header, since httpx
logs request URLs at INFO); the pieces are what an error must never show (``_redact``).
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 - see _FIRST_CONNECTION below
import contextlib
import importlib
import json
import sys
from contextlib import asynccontextmanager
from functools import lru_cache

from ...aio import aclose_quietly
from .. import errors
from ..errormap import invalid_utf8_error, kind_of, retry_after_seconds, typed_error
from ..settings import display_url
from ._bounds import answer_budget, bound_response
from ._closing import closed_provider_error
from ._redact import redact
from ._url_credentials import split_credentials

# What a client's first connection would otherwise import on the event loop, inside the first
# call's deadline: anyio's asyncio backend (httpcore connects through anyio, which loads its
# backend by this name on first use) and the thread pool asyncio resolves host names on.
# The name is anyio's own, not public API: tests/providers/test_first_call_imports.py fails if
# an upgrade moves it; a provider still works then, only its first call is slower.
_FIRST_CONNECTION = "anyio._backends._asyncio"
with contextlib.suppress(ImportError):
    importlib.import_module(_FIRST_CONNECTION)


def guarded_url(url: str | None) -> tuple[str | None, dict[str, str], list[str]]:
    """(the URL without user:password, the header carrying them, the secrets to redact)."""
    return split_credentials(url)


def guarded_transport(library: str, *, provider: str, url_variable: str, secrets: list[str], inner=None):
    """The transport for an ``httpx`` or ``httpx2`` client (``library``); ``inner``: the
    transport that really sends (default: the library's own)."""
    module = sys.modules.get(library) or __import__(library)
    return _transport_type(library)(inner or module.AsyncHTTPTransport(), provider, url_variable, secrets)


class _Guarded:
    def __init__(self, inner, provider: str, url_variable: str, secrets: list[str]):
        self._inner, self._provider, self._variable, self._secrets = inner, provider, url_variable, secrets

    async def handle_async_request(self, request):
        response = await self._inner.handle_async_request(request)
        if 300 <= response.status_code < 400 and "location" in response.headers:
            await response.aclose()
            raise self._redirect(request, response)
        await bound_response(response)  # answers bounded for the request's max_tokens (_bounds)
        return response

    def _redirect(self, request, response) -> errors.ProviderError:
        where = display_url(f"{request.url.scheme}://{request.url.netloc.decode()}")
        target = redact(display_url(response.headers.get("location", "")) or "nowhere", self._secrets)
        return errors.ProviderError(
            f"{where} answered HTTP {response.status_code}, a redirect to {target}: redirects are not followed",
            provider=self._provider,
            hint=f"Set {self._variable} to the address that answers directly (a proxy or another "
                 "server is at that URL).")

    async def aclose(self) -> None:
        await self._inner.aclose()


@lru_cache(maxsize=None)
def _transport_type(library: str) -> type:
    """The guarded transport as a subclass of ``library``'s AsyncBaseTransport (httpx checks it)."""
    return type("GuardedTransport", (_Guarded, sys.modules[library].AsyncBaseTransport), {})


async def strict_lines(chunks, where: str, *, provider: str):
    """Lines of a body from its raw bytes, decoded strictly (httpx's own decoding would hide
    invalid UTF-8 as U+FFFD), each with whether its newline arrived (the last may be cut).

    Linear time: a line's parts are kept in a list and joined once, and only each new chunk
    is searched for newlines (re-splitting all pending bytes per chunk made a 40 MB line cost
    seconds of CPU)."""
    parts: list[bytes] = []
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            parts.append(chunk[start:end])
            yield strict_text(b"".join(parts), where, provider=provider), True
            parts.clear()
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    pending = b"".join(parts)
    if pending.strip():
        yield strict_text(pending, where, provider=provider), False


def strict_text(raw: bytes, where: str, *, provider: str) -> str:
    """``raw`` as UTF-8, or the typed error naming the bytes that are not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid_utf8_error(error, where, provider=provider) from None


@asynccontextmanager
async def post(provider, path: str, body: dict, *, max_tokens: int):
    """POST ``body`` to ``path`` once with ``provider._client``, its answer bounded for
    ``max_tokens``; yields a 200 response (to stream), raises a typed error otherwise.

    ``provider`` gives its ``name``, ``service``, ``base_url``, ``_hints``, ``url_variable``,
    ``_where()``, ``_secrets`` and ``_hint(kind)``."""
    client = provider._client
    try:
        with answer_budget(provider.name, max_tokens):
            response = await client.send(client.build_request("POST", path, json=body), stream=True)
    except errors.ProviderError:  # refused by the transport (a redirect)
        raise
    except Exception as exc:
        if isinstance(exc, sys.modules[type(client).__module__.split(".")[0]].HTTPError):
            raise transport_error(provider, exc) from None
        if client.is_closed:  # not a network failure: retrying would not help
            raise closed_provider_error(provider.name) from None
        raise errors.ProviderError(
            f"could not send the request to {provider._where()}: {type(exc).__name__}: "
            f"{redact(str(exc), provider._secrets)}", provider=provider.name,
            hint=f"Check {provider.url_variable}; if it is right, rebuild the provider with "
                 "create_ai_provider() and retry.") from None
    try:
        if response.status_code != 200:
            raise _status_error(provider, path, response, await read(provider, response))
        yield response
    finally:
        await response.aclose()


async def read(provider, response) -> bytes:
    """The whole body of ``response``; a transport failure while reading is typed."""
    try:
        return await response.aread()
    except Exception as exc:
        if isinstance(exc, sys.modules[type(response).__module__.split(".")[0]].HTTPError):
            raise transport_error(provider, exc) from None
        raise


def _status_error(provider, path: str, response, body: bytes) -> errors.ProviderError:
    try:
        said = json.loads(body).get("error")  # the API's own {"error": ...}, not a web server's page
    except (ValueError, AttributeError):
        said = None
    kind = kind_of(response.status_code, api_error=said is not None)
    text = redact(str(said or body.decode("utf-8", "replace") or response.reason_phrase), provider._secrets)
    message = (f"HTTP 404 from {display_url(provider.base_url)}{path}: nothing answers {provider.service}'s "
               "chat API there" if kind == "wrong_url"  # a web server's page: the path is wrong
               else f"HTTP {response.status_code} from {provider.service}: {text}")
    return typed_error(kind, message, provider=provider.name,
                       hints={**provider._hints, "not_found": provider._hint("not_found")},
                       retry_after=retry_after_seconds(response.headers))


def transport_error(provider, exc) -> errors.ProviderError:
    """A failure of the connection before any answer: each is worth a retry and has its own fix."""
    library = sys.modules[type(exc).__module__.split(".")[0]]
    where = provider._where()
    if isinstance(exc, library.TimeoutException):
        message = f"no answer from {where} within {provider.settings.timeout_s:g} s"
        hint = provider._hints["timeout"]
    elif isinstance(exc, library.ConnectError):
        message, hint = f"cannot reach {where}: {type(exc).__name__}", provider._hints["unavailable"]
    else:
        message, hint = f"the connection to {where} broke: {type(exc).__name__}", provider._hints["broke"]
    return errors.ProviderUnavailableError(message, provider=provider.name, hint=hint)


def broken_stream(provider, exc, received: int) -> errors.ProviderError:
    """A failure of the connection ``received`` pieces into a stream: a read timeout is the stall
    the stream's deadline names (``_stalled``: whichever clock noticed it), anything else a cut."""
    library = sys.modules[type(exc).__module__.split(".")[0]]
    if isinstance(exc, library.TimeoutException):
        return provider._stalled(received)
    return errors.IncompleteResponseError(
        f"the stream broke after {received} chunks: {type(exc).__name__}", provider=provider.name)


def json_object(text: str, not_ours) -> dict:
    """``text`` parsed as a JSON object; else ``not_ours(what it is)``, the provider's error
    for an answer that is not its protocol's."""
    try:
        data = json.loads(text)
    except ValueError:
        raise not_ours("a body that is not JSON") from None
    if not isinstance(data, dict):
        raise not_ours("a JSON value that is not an object")
    return data


class HttpClientOwner:
    """Closing, and replacing after its event loop closed, a provider's own ``_client``
    built by its ``_build_client()`` (a caller's own ``_transport`` is theirs to manage)."""

    _transport = None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _renew_client(self) -> None:
        if self._transport is None:
            stale, self._client = self._client, self._build_client()
            await aclose_quietly(stale)  # its connections died with their loop
