"""How Bedrock's blocking boto3 calls run without holding the event loop, a thread or a
socket longer than the call: the one module that reaches into botocore's and urllib3's
private parts (checked against the versions in ``CHECKED_AGAINST``;
``tests/providers/test_botocore_internals.py`` fails loudly when an upgrade moves them).

* Every call runs on a pool of ``POOL_SIZE`` threads, sized with botocore's connection pool,
  so concurrent calls overlap instead of queueing behind asyncio's small default executor.
* Every response body is read through ``_Body``: a ``before-send`` hook sends the request as
  botocore would (its endpoint's ``http_session``) and wraps urllib3's response. The body stops
  at the size ``max_tokens`` allows (``_bounds.max_answer_bytes``), and a call that ended --
  finished, timed out, cancelled, a stream closed early -- shuts its socket (urllib3's
  ``_connection``), so a stalled server cannot keep a pool thread reading and the process can exit.
* A ``before-parse`` hook notes how many bytes a Converse body had: botocore turns a body it
  cannot parse into an empty result, silently, and the size says whether it was cut.
"""

from __future__ import annotations

import asyncio
import contextvars
import encodings.idna  # noqa: F401 - urllib3 encodes each host with it on connecting: now, not in a first call
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from .. import errors
from ...aio import ThreadRelay
from ._bounds import Budget

CHECKED_AGAINST = {"botocore": "1.44.8", "urllib3": "2.8.0"}
POOL_SIZE = 16
BODY_SIZE = "WorkbookBodyBytes"  # put into Converse's result by _note_body_size
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def install(client, provider: str) -> None:
    """Register the hooks on a ``bedrock-runtime`` client."""
    client.meta.events.register("before-parse.bedrock-runtime.Converse", _note_body_size)
    client.meta.events.register("before-send.bedrock-runtime",
                                lambda request, **_: _send_bounded(client, provider, request))


async def call_in_thread(work, *, provider: str, max_tokens: int):
    """``work()`` (a boto3 call) on the pool, its answer bounded for ``max_tokens``."""
    call = _Call(Budget(provider, max_tokens))
    try:
        return await asyncio.get_running_loop().run_in_executor(_threads(), _on_thread(call, work))
    finally:
        call.release()  # timed out or cancelled: the thread stops reading now


def events_in_thread(open_stream, *, provider: str, max_tokens: int):
    """The items of ``open_stream()`` (a boto3 event stream, opened and read on the pool),
    as an async iterator; closing it early stops the thread and shuts the socket."""
    call = _Call(Budget(provider, max_tokens))

    def events():  # a generator: the request goes out only once the thread starts on it
        yield from _on_thread(call, open_stream)()

    return ThreadRelay(events, executor=_threads(), on_stop=call.release).__aiter__()


def missing_internals(client) -> list[str]:
    """The private parts this module uses that ``client`` (and urllib3) no longer have."""
    import io

    import urllib3

    missing = []
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if not callable(getattr(session, "send", None)):
        missing.append("botocore client._endpoint.http_session.send")
    response = urllib3.HTTPResponse(body=io.BytesIO(b""), preload_content=False)
    if not hasattr(response, "_connection"):
        missing.append("urllib3 HTTPResponse._connection")
    from botocore.awsrequest import AWSRequest

    if not hasattr(AWSRequest(method="POST", url="http://x").prepare(), "stream_output"):
        missing.append("botocore AWSPreparedRequest.stream_output")
    return missing


def _threads() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="bedrock")
        return _pool


def _note_body_size(response_dict, customized_response_dict, **_) -> None:
    """botocore hook: how many bytes of a (non-streamed) body arrived."""
    body = response_dict.get("body")
    if isinstance(body, (bytes, bytearray)):
        customized_response_dict[BODY_SIZE] = len(body)


def _send_bounded(client, provider: str, request):
    """botocore hook: send the request as botocore would, and read its body through
    ``_Body`` so the call can bound it and let go of it. Outside a call: botocore's own."""
    call = _CURRENT.get()
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if call is None or session is None:  # (a botocore without them: its own reading)
        return None
    if call.ended.is_set():
        raise errors.ProviderUnavailableError("the call ended before its request went out", provider=provider)
    request.stream_output = True  # else the session reads the whole body at once
    response = session.send(request)
    response.raw = _Body(response.raw, call)
    call.hold(response.raw)
    return response


class _Call:
    """What one call holds on its worker thread, so the event loop can let go of it."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.ended = threading.Event()
        self.bodies: list[_Body] = []
        self._lock = threading.Lock()

    def hold(self, body: "_Body") -> None:
        with self._lock:
            self.bodies.append(body)
            ended = self.ended.is_set()
        if ended:  # the call ended while the request was on its way
            body.shut()

    def release(self) -> None:
        """The call is over: wake and stop any read still blocked on its bodies."""
        with self._lock:
            self.ended.set()
            bodies = list(self.bodies)
        for body in bodies:
            body.shut()


# The call the current worker thread runs (set by _on_thread; read by the before-send hook).
_CURRENT: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("bedrock_call", default=None)


def _on_thread(call: _Call, work):
    """``work`` wrapped to run on a pool thread as part of ``call``."""
    def run(*args):
        token = _CURRENT.set(call)
        try:
            return work(*args)
        finally:
            _CURRENT.reset(token)
    return run


class _Body:
    """A response body (urllib3's), read in bounded steps: it stops at the call's budget or
    when the call ended, and ``shut()`` wakes a read blocked on a silent socket."""

    def __init__(self, raw, call: _Call):
        self._raw, self._call = raw, call
        self._read = 0
        self.finished = False

    def stream(self, amt: int = 1 << 16, decode_content=None):
        for data in self._raw.stream(amt, decode_content=decode_content):
            if self._call.ended.is_set():
                raise self._ended()
            self._read += len(data)
            if self._read > self._call.budget.limit:
                raise self._call.budget.exceeded()
            yield data
        self.finished = True

    def _ended(self) -> errors.ProviderError:
        return errors.ProviderUnavailableError(
            "the call ended (timed out or cancelled) while its answer was being read",
            provider=self._call.budget.provider,
            hint="Raise AI__TIMEOUT_S, or check that the server is not stuck.")

    def close(self) -> None:
        self._raw.close()

    def shut(self) -> None:
        """Shut the socket down (from another thread): closing alone does not wake a read."""
        if self.finished:
            return  # read to its end: the connection went back to the pool, healthy
        connection = getattr(self._raw, "_connection", None) or getattr(self._raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __getattr__(self, name):  # anything else botocore asks of urllib3's response
        return getattr(self._raw, name)
