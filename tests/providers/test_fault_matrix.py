"""Issue 11's fault matrix: every network provider against every way a server misbehaves.

Each cell points one provider's real SDK at ``hostile_server.HostileServer`` (raw HTTP on
127.0.0.1, speaking that provider's wire format), makes one ``chat`` or drains one
``chat_stream``, and checks two things:

* the call was bounded by ``AI__TIMEOUT_S`` -- retries and Retry-After waits included, as
  ``shared/DESIGN.md`` promises: where the server never finishes, the error is the deadline's
  own (it names ``AI__TIMEOUT_S=1.5``) and only one request went out, because no retry fits in
  a spent deadline; and no call outlives ``GUARD_S`` (5 x the deadline), so none hung;
* it ended the right way: a success where one is right (a 429 followed by an answer, a
  complete answer whose connection stays open), otherwise a typed workbook error whose
  hint fits what happened (a bad key names the key, a hang names AI__TIMEOUT_S, an HTML
  page names the URL variable...).

A call that outlives the deadline is cancelled by the test and reported as a hang; it
cannot stall the suite. The matrix runs per wire protocol -- the first registered provider of
each (openai, azure_openai, ollama, bedrock) x 16 faults x 2 calls, plus the fault only
Bedrock can have (a wrong CRC, streams only) -- and every other provider on the same wire
(vLLM, LM Studio, a new OpenAI-compatible entry) gets smoke cells: a 429 then an answer,
streamed, and a refused key, whose hint must be its own.
"""

from __future__ import annotations

import asyncio
import gc
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from workbook.ai import AISettings, Message, create_ai_provider
from workbook.ai.errors import (AuthenticationError, IncompleteResponseError, ModelNotFoundError,
                                ProviderError, ProviderUnavailableError, RateLimitError)
from workbook.ai.registry import PROTOCOLS, get_spec, names_speaking, network_names
from workbook.ai.settings import env_name
from workbook.aio import aclose_quietly
from workbook.ports import free_port

from hostile_server import ANSWER, FAULTS, LONG_RETRY_AFTER_S, HostileServer, answer_well, provider_settings

TIMEOUT_S = 1.5
# The test cancels a call still running after 5 x its deadline: a provider that ignores
# AI__TIMEOUT_S is caught here, one that restarts it for each retry (3 x 1.5 s) by the count
# of requests -- neither by a wall-clock margin a loaded machine could eat.
GUARD_S = 5 * TIMEOUT_S
MAX_TOKENS = 16
QUESTION = [Message("user", "Why is the sky blue?")]
CALLS_BOTH = ("chat", "chat_stream")

# From the registry: a new network provider is in the matrix without anyone typing it here.
PROVIDERS = tuple(network_names())
WIRE_PROVIDERS = tuple(names_speaking(wire)[0] for wire in PROTOCOLS if names_speaking(wire))
SMOKE = (("rate_limit_then_success", "chat_stream"), ("auth_401", "chat"))
URL_VARIABLE = {name: env_name(get_spec(name).url_field) for name in PROVIDERS}


def settings_for(provider: str, url: str) -> AISettings:
    return provider_settings(provider, url, timeout_s=TIMEOUT_S, max_retries=2, max_tokens=MAX_TOKENS)


@dataclass(frozen=True)
class Expected:
    """What a cell must end in: an answer, or one of ``errors`` with a hint matching ``hint``."""

    errors: tuple[type[ProviderError], ...] = ()
    hint: str = ""  # a regex, searched case-insensitively in the hint

    @property
    def success(self) -> bool:
        return not self.errors


TIMEOUT_HINT = r"AI__TIMEOUT_S"
# Servers that never finish: only the deadline can end these calls.
DEADLINE_FAULTS = {"hang_after_headers": CALLS_BOTH, "stall_mid_body": CALLS_BOTH,
                   "endless_body": CALLS_BOTH, "endless_stream": ("chat",)}
RETRY_HINT = r"retry"


def expected(fault: str, provider: str) -> Expected:
    url_variable = re.escape(URL_VARIABLE[provider])
    table = {
        "auth_401": Expected((AuthenticationError,), r"key|credential"),
        "forbidden_403": Expected((AuthenticationError,), r"key|credential|access|permission"),
        "not_found_404": Expected((ModelNotFoundError,), r"AI__MODEL|deployment|ollama pull"),
        "rate_limit_then_success": Expected(),
        "rate_limit_long_retry_after": Expected((RateLimitError,), r"wait|retry|quota"),
        "server_error_500": Expected((ProviderUnavailableError,), RETRY_HINT),
        "hang_after_headers": Expected((ProviderUnavailableError,), TIMEOUT_HINT),
        "stall_mid_body": Expected((ProviderUnavailableError, IncompleteResponseError),
                                   f"{TIMEOUT_HINT}|{RETRY_HINT}"),
        "complete_held_open": Expected(),
        "connection_refused": Expected((ProviderUnavailableError,), f"running|start|{url_variable}"),
        "cut_stream": Expected((IncompleteResponseError, ProviderUnavailableError), RETRY_HINT),
        "malformed_body": Expected((ProviderError,), f"{url_variable}|{RETRY_HINT}"),
        "html_200": Expected((ProviderError,), url_variable),
        "endless_body": Expected((ProviderError,), f"{TIMEOUT_HINT}|{url_variable}|server"),
        "endless_stream": Expected((ProviderError,), f"{TIMEOUT_HINT}|{url_variable}|server"),
        "invalid_utf8": Expected((ProviderError,), f"{url_variable}|UTF-8|encoding|server"),
        "wrong_crc": Expected((ProviderError,), f"{url_variable}|{RETRY_HINT}|server"),
    }
    return table[fault]


MATRIX_FAULTS = [name for name in FAULTS if name != "wrong_crc"] + ["connection_refused"]
CELLS = [
    pytest.param(provider, fault, call, id=f"{provider}-{fault}-{call}")
    for provider in WIRE_PROVIDERS
    for fault in MATRIX_FAULTS + (["wrong_crc"] if provider == "bedrock" else [])
    for call in ("chat", "chat_stream")
    # A wrong CRC exists only in an event stream; Bedrock's chat reads plain JSON (Converse).
    if not (fault == "wrong_crc" and call == "chat")
] + [pytest.param(provider, fault, call, id=f"{provider}-{fault}-{call}")
     for provider in PROVIDERS if provider not in WIRE_PROVIDERS for fault, call in SMOKE]


async def _drain(stream) -> str:
    pieces = []
    async for piece in stream:
        pieces.append(piece)
    return "".join(pieces)


async def _call(provider, call: str) -> str:
    if call == "chat":
        return (await provider.chat(QUESTION, max_tokens=MAX_TOKENS)).content
    return await _drain(provider.chat_stream(QUESTION, max_tokens=MAX_TOKENS))


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch):
    # The SDKs read their own variables when a setting is missing; the cell must not.
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def _no_collection_pauses():
    """The garbage collector paused while a group's cells run (it runs between groups).

    A full collection walks every object of this test process (openai's types, botocore's
    models, pytest's own, and what earlier groups left): measured with ``gc.callbacks``, one
    pass blocked the event loop for 0.1 s early in the matrix and 1.3 s late in it, on this
    machine under load, and one landing inside a group ate that group's 1.5 s deadlines (every
    complete_held_open cell failed "no complete answer within 1.5 s") -- a pause of the test
    process, no part of the fault it plays. A group runs for seconds: nothing piles up.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass
class Outcome:
    result: BaseException | str | None  # None: still running at the deadline, cancelled
    elapsed_s: float
    sent: int  # model requests that reached the server


async def _run_group(fault: str, cells: list[tuple[str, str]]) -> list[Outcome]:
    """The cells of one fault at once, each with a server of its own.

    Providers are built before any clock starts: building one imports its SDK, and what the
    SDK would import at its first request (test_first_call_imports.py), which blocks the loop
    and would eat into the other cells' deadlines.
    """
    # Refused: the providers point at a port nobody listens on; the server only counts.
    servers = [HostileServer(FAULTS.get(fault, answer_well)).__enter__() for _ in cells]
    try:
        providers = [
            create_ai_provider(settings_for(name, f"http://127.0.0.1:{free_port()}"
                                            if fault == "connection_refused" else server.url))
            for (name, _), server in zip(cells, servers)]
        with _no_collection_pauses():
            outcomes = await asyncio.gather(*(_timed(provider, call)
                                              for provider, (_, call) in zip(providers, cells)))
        for outcome, server in zip(outcomes, servers):
            outcome.sent = len(server.requests)
        await asyncio.gather(*(aclose_quietly(provider, timeout_s=1) for provider in providers))
    finally:
        for server in servers:
            server.stop()
    return outcomes


async def _timed(provider, call: str) -> Outcome:
    started = time.monotonic()
    result: BaseException | str | None
    try:
        result = await asyncio.wait_for(_call(provider, call), GUARD_S)
    except asyncio.TimeoutError:
        result = None
    except Exception as error:  # judged by the test: typed or not
        result = error
    return Outcome(result, time.monotonic() - started, 0)


# The cells of one fault (6 providers x 2 calls) run together, the faults one after
# another: the matrix then costs about 17 deadlines, not 193.
_OUTCOMES: dict[str, dict[tuple[str, str], Outcome]] = {}


async def outcome_of(provider_name: str, fault: str, call: str) -> Outcome:
    if fault not in _OUTCOMES:
        cells = [(p, c) for p, f, c in (cell.values for cell in CELLS) if f == fault]
        _OUTCOMES[fault] = dict(zip(cells, await _run_group(fault, cells)))
    return _OUTCOMES[fault][(provider_name, call)]


@pytest.mark.parametrize("provider_name, fault, call", CELLS)
async def test_cell(provider_name, fault, call):
    want = expected(fault, provider_name)
    cell = await outcome_of(provider_name, fault, call)
    outcome, elapsed, sent = cell.result, cell.elapsed_s, cell.sent

    assert outcome is not None, (
        f"still running after {GUARD_S:g} s with AI__TIMEOUT_S={TIMEOUT_S:g} "
        f"(cancelled by the test; {sent} request(s) reached the server)")
    if call in DEADLINE_FAULTS.get(fault, ()):
        # The deadline ended it (not the guard, not a read timeout per attempt), once.
        assert isinstance(outcome, ProviderError) and f"{TIMEOUT_S:g} s" in outcome.message, (
            f"expected the AI__TIMEOUT_S={TIMEOUT_S:g} deadline's error, got {outcome!r} "
            f"after {elapsed:.1f} s")
        assert sent == 1, f"{sent} requests: the spent deadline was restarted for a retry"
    if want.success:
        assert not isinstance(outcome, BaseException), f"expected an answer, got {outcome!r}"
        assert outcome == "".join(ANSWER), f"expected the whole answer, got {outcome!r}"
        return
    assert isinstance(outcome, BaseException), f"expected an error, got the answer {outcome!r}"
    assert isinstance(outcome, ProviderError), (
        f"a raw {type(outcome).__module__}.{type(outcome).__name__} escaped: {outcome}")
    assert isinstance(outcome, want.errors), (
        f"expected {' or '.join(e.__name__ for e in want.errors)}, got {outcome!r}")
    assert outcome.hint != ProviderError.default_hint, f"only the generic hint: {outcome!r}"
    assert re.search(want.hint, outcome.hint, re.IGNORECASE), (
        f"hint does not fit ({want.hint!r} wanted): {outcome.hint!r} for {outcome.message!r}")
    if fault == "rate_limit_long_retry_after":
        # Waiting 100 s is longer than the time left: fail at once, say when to come back
        # and how many requests really went out.
        assert outcome.retry_after == LONG_RETRY_AFTER_S, (
            f"retry_after is {outcome.retry_after!r}; the server said Retry-After: {LONG_RETRY_AFTER_S}")
        assert re.search(rf"\b{sent} request", outcome.message), (
            f"{sent} request(s) were sent; the message says: {outcome.message!r}")
