"""How long a stream may run and how many bytes an answer may take, derived from the request.

``AI__TIMEOUT_S`` bounds a ``chat`` whole, and a stream's wait for its first piece and each
gap after it. A server that drips one piece just inside every gap could still hold a stream
for hours, and one that sends a 200 MB body (or a small gzip bomb that inflates to 1 GB) for
``max_tokens=16`` would be read whole into memory. So, from what the request could produce:

* a whole stream ends within ``stream_deadline_s(timeout_s, max_tokens)`` =
  ``AI__TIMEOUT_S + max_tokens x SLOWEST_TOKEN_S`` (1 s per token: slower than any server
  worth streaming from; at the defaults 60 s + 512 s);
* once its end marker arrived, the rest (usage, ``[DONE]``, keep-alives) gets at most
  ``AFTER_END_S`` in total, then the answer is returned (``base.stream_call``);
* an answer's body, decompressed, is at most ``max_answer_bytes(max_tokens)`` =
  ``BASE_ANSWER_BYTES`` + ``ANSWER_BYTES_PER_TOKEN`` per token: 1 MiB + 16 KiB per token (a
  streamed token costs a few hundred bytes of JSON envelope). Both are read at each call, so
  a test can lower them and prove the bound with a body of a few MB instead of hundreds.
  Decompression is done here, in steps of 64 KiB, so a bomb never inflates past the bound.

``bound_response`` bounds a response's body (``_http``'s transport calls it on every answer;
boto3's are bounded in ``_botocore_io``); the budget comes from ``answer_budget(...)`` around
the call that sends the request.
"""

from __future__ import annotations

import sys
import zlib
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from .. import errors

SLOWEST_TOKEN_S = 1.0
AFTER_END_S = 1.0
BASE_ANSWER_BYTES = 1 << 20
ANSWER_BYTES_PER_TOKEN = 16 << 10
_STEP = 1 << 16  # decompress at most this much at a time


def stream_deadline_s(timeout_s: float, max_tokens: int) -> float:
    """The most a whole stream may last, first piece to end marker."""
    return timeout_s + max_tokens * SLOWEST_TOKEN_S


def max_answer_bytes(max_tokens: int) -> int:
    """The most bytes (after decompression) one answer to ``max_tokens`` may take."""
    return BASE_ANSWER_BYTES + max_tokens * ANSWER_BYTES_PER_TOKEN


@dataclass(frozen=True)
class Budget:
    provider: str
    max_tokens: int

    @property
    def limit(self) -> int:
        return max_answer_bytes(self.max_tokens)

    def exceeded(self) -> errors.ProviderError:
        return errors.ProviderError(
            f"the answer ran past {self.limit:,} bytes, more than max_tokens={self.max_tokens} can "
            "produce: the server ignores the limit (or sends something else); reading was stopped",
            provider=self.provider,
            hint="The server misbehaves (it ignores max_tokens); check its URL, version and settings.")


_BUDGET: ContextVar[Budget | None] = ContextVar("workbook_answer_budget", default=None)


class answer_budget:  # noqa: N801 - used as a function: ``with answer_budget(...)``
    """Responses received inside this block are bounded for ``max_tokens``.

    A class rather than a ``@contextmanager`` generator: it wraps every request, and this is
    the cheaper of the two (issue 29's per-call overhead)."""

    __slots__ = ("_budget", "_token")

    def __init__(self, provider: str, max_tokens: int):
        self._budget = Budget(provider, max_tokens)

    def __enter__(self) -> None:
        self._token = _BUDGET.set(self._budget)

    def __exit__(self, *exc) -> None:
        _BUDGET.reset(self._token)


def current_budget() -> Budget | None:
    return _BUDGET.get()


class Inflater:
    """Decompresses gzip / deflate in bounded steps (raw deflate too, as some servers send)."""

    def __init__(self, encoding: str):
        self._wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._decoder = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes):
        """Yield the inflated bytes of ``data``, ``_STEP`` at most at a time."""
        while data:
            try:
                out = self._decoder.decompress(data, _STEP)
            except zlib.error:
                if self._started or self._wbits != zlib.MAX_WBITS:
                    raise
                self._wbits = -zlib.MAX_WBITS  # "deflate" sent without its zlib header
                self._decoder = zlib.decompressobj(self._wbits)
                continue
            self._started = True
            data = self._decoder.unconsumed_tail
            if out:
                yield out

    def flush(self) -> bytes:
        return self._decoder.flush()


class _BoundedBody:
    """A response body that stops at the budget, inflating gzip / deflate itself."""

    def __init__(self, inner, budget: Budget, inflater: Inflater | None):
        self._inner, self._budget, self._inflater = inner, budget, inflater
        self._limit = budget.limit  # read once per answer, not once per chunk
        self._read = 0

    def _count(self, data: bytes) -> bytes:
        self._read += len(data)
        if self._read > self._limit:
            raise self._budget.exceeded()
        return data

    async def __aiter__(self):
        async for raw in self._inner:
            if self._inflater is None:
                yield self._count(raw)
                continue
            try:
                for out in self._inflater.feed(raw):
                    yield self._count(out)
            except zlib.error:
                raise _undecodable(self._budget.provider) from None
        if self._inflater is not None:
            try:
                tail = self._inflater.flush()
            except zlib.error:
                raise _undecodable(self._budget.provider) from None
            if tail:
                yield self._count(tail)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _undecodable(provider: str) -> errors.ProviderError:
    return errors.ProviderError(
        "the answer's compressed body does not decompress (damaged, or not the encoding its "
        "content-encoding header names)", provider=provider,
        hint="Retry; if it persists, check the server (or a proxy before it) that compresses answers.")


@lru_cache(maxsize=None)
def _body_type(library: str) -> type:
    """The bounded body as a subclass of ``library``'s AsyncByteStream (httpx checks it)."""
    return type("BoundedBody", (_BoundedBody, sys.modules[library].AsyncByteStream), {})


async def bound_response(response) -> None:
    """httpx / httpx2 response hook: bound the body of a response to the current budget."""
    budget = _BUDGET.get()
    if budget is None:
        return
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = Inflater(encoding)
        del response.headers["content-encoding"]  # inflated here, in bounded steps
    library = type(response).__module__.split(".")[0]
    response.stream = _body_type(library)(response.stream, budget, inflater)
