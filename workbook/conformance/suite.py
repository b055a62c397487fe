"""The checks themselves: ``_Suite`` runs each one against a provider and records the result.

A check is a coroutine returning a one-line detail on success; it raises ``CheckFailed``
(what was seen, what to change) or ``Skip`` (why it cannot run for this subject), and
anything else the provider's code raises becomes a failed check too. ``_Suite.run``
bounds every check by ``timeout_s`` and resets the emulator around it. The helpers below
build and close providers, gather a ``chat_stream`` and find a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Awaitable, Callable, Literal

from pydantic import BaseModel

from ..ai import errors
from ..ai.registry import accepts_settings, get_spec
from ..aio import aclose_quietly
from ..ports import free_port
from ..ai.scripted import scripted_answer, scripted_reply
from ..ai.structured import output_schema, takes_response_format
from ..ai.types import ChatResponse, Message
from .hints import _FIELD_HINT, _HINT_KEY, _HINT_MUST_SAY, _HINTS, _USAGE_HINT, _hints_for
from .report import CORE, CheckResult, ConformanceReport, NOT_WRITTEN
from .wire import _FIELD_OK, SCHEMA_FIELD, SYSTEM_PROMPT, URL_FIELD, WIRE, _field_problems, responses_view

# A provider in a check gets AI__TIMEOUT_S=CALL_TIMEOUT_S (capped by the check's own bound);
# a check (a build, one or two calls, their retries) is cancelled after CHECK_TIMEOUT_S
# unless the caller sets another bound. Against the in-process emulator a check takes under
# 2.5 s on an idle machine and up to ~12 s with both cores busy (measured 2026-12-07: 500
# exhausted 0.5 s -> 3.6 s, Bedrock's 8 concurrent calls 0.7 s -> 11.7 s): the bound is for
# a provider that hangs, not a slow machine, so it leaves a loaded one room.
CALL_TIMEOUT_S = 5.0
CHECK_TIMEOUT_S = 30.0
NEEDS_SETTINGS = "skipped: needs a class that takes settings"
AN_INSTANCE = "skipped: an instance was given -- pass the class so the checker can build it with other settings"
NEEDS_PROTOCOL = "skipped: needs protocol=... to know which setting holds its URL"
NOT_SERVED = "skipped: its requests do not reach the emulator (build it from emulator.settings(...))"
NO_WIRE = "skipped: no wire protocol to test against the emulator (pass protocol=...)"


class CheckFailed(Exception):
    """Raised inside a check: ``detail`` is what was seen, ``hint`` what to change."""

    def __init__(self, detail: str, hint: str = ""):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


class Skip(Exception):
    pass


def _describe(error: BaseException) -> str:
    text = str(error).split("\n")[0]
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _kind_of(error: BaseException, expected: tuple[type, ...]) -> str:
    """The raised type, and the expected one it is a kind of when the names differ:
    "ProviderUnavailableError (a ProviderError)" beside a row titled "→ ProviderError"."""
    broadest = next((kind for kind in expected if all(issubclass(other, kind) for other in expected)), None)
    raised = type(error).__name__
    return raised if broadest is None or type(error) is broadest else f"{raised} (a {broadest.__name__})"


def _unfinished(error: BaseException) -> NotImplementedError | None:
    """The ``NotImplementedError`` of a TODO behind ``error``, if any.

    A subclass of a built-in provider (exercise 12) has its TODO's error wrapped into a
    ``ProviderError`` by the base class; the student should still read "not implemented yet".
    """
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, NotImplementedError):
            return error
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


def _todo_method(todo: NotImplementedError) -> str | None:
    """The method whose TODO stub raised: the last frame of its traceback."""
    frame = todo.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame.tb_frame.f_code.co_name if frame is not None else None


def _todo_result(name: str, todo: NotImplementedError) -> CheckResult:
    """A row that reached a TODO stub: it names the method, and its hint is to write that TODO
    (the check's own hint speaks of a finished method, which may not be the one to write: in
    exercise 12 every call waits for ``_request``, not for ``chat``)."""
    method = _todo_method(todo)
    where = f"`{method}`: " if method else ""
    hint = (f"Write the TODO in `{method}` (its docstring says what)." if method
            else "Write the TODO this call reached (its docstring says what).")
    return CheckResult(name, False, f"{NOT_WRITTEN} ({where}{todo})" if str(todo) else f"{NOT_WRITTEN} ({method})", hint)


async def _collect(stream_call: Callable[[], Any]) -> tuple[list[Any], Any]:
    """Call ``chat_stream`` and gather its pieces, turning misuse into a CheckFailed."""
    stream = stream_call()
    if inspect.iscoroutine(stream):
        stream.close()
        raise CheckFailed(
            "chat_stream returned a coroutine, not an async iterator (is it `async def` "
            "without a `yield`?)",
            _HINTS["stream"])
    if not hasattr(stream, "__aiter__"):
        raise CheckFailed(
            f"chat_stream returned a {type(stream).__name__}, which `async for` cannot iterate",
            _HINTS["stream"])
    pieces = []
    async for piece in stream:
        pieces.append(piece)
    return pieces, stream


class _Suite:
    def __init__(self, subject, protocol: str | None, emulator, timeout_s: float, *,
                 model: str | None = None, extra_fields: dict[str, Any] | None = None,
                 openai_api: str | None = None):
        self.subject = subject
        self.is_class = inspect.isclass(subject)
        self.protocol = protocol  # the registered provider whose emulator settings build it
        self.wire = WIRE.get(protocol or "")  # the wire it speaks: one of the registry's PROTOCOLS
        self.hints = _hints_for(self.wire)
        self.emulator = emulator
        self.timeout_s = timeout_s
        self.model = model
        self.extra_fields = dict(extra_fields or {})
        self.openai_api = openai_api  # AI__OPENAI_API for an OpenAI-style class; None: the default
        self.view = responses_view(self.wire, openai_api)  # what its requests look like
        self.configurable = self.is_class and accepts_settings(subject) and protocol in WIRE
        # Do its requests reach the emulator? A class built from emulator settings does;
        # anything else is found out by the round trip.
        self.served: bool | None = True if self.configurable else (False if emulator is None else None)
        self.report = ConformanceReport(_name(subject), self.wire)

    # -- building -----------------------------------------------------------------------
    def _settings_owner(self) -> str:
        """The registered provider whose settings the subject reads: its own name's when it
        is registered with settings of its own (AI__<NAME>_BASE_URL), else the protocol's."""
        own = get_spec(str(getattr(self.subject, "name", "")))
        if own is not None and own.protocol == self.wire and own.url_field is not None:
            return own.name
        return self.protocol

    def settings(self, **changes):
        base = self.emulator.settings(self._settings_owner())
        values = {"max_retries": 0, "timeout_s": min(CALL_TIMEOUT_S, self.timeout_s)}
        if self.model:
            values["model"] = self.model
        if self.openai_api:
            values["openai_api"] = self.openai_api
        values.update(changes)
        return base.with_(**values)

    def _cannot_configure(self) -> Skip:
        """Why this subject cannot be built with settings the checker chooses."""
        if not self.is_class:
            return Skip(AN_INSTANCE)
        if not accepts_settings(self.subject):
            return Skip(NEEDS_SETTINGS)
        return Skip(NEEDS_PROTOCOL)

    def build(self, **changes):
        if not self.is_class:
            return self.subject
        if self.configurable:
            return self.subject(self.settings(**changes))
        if changes:
            raise self._cannot_configure()
        return self.subject()

    async def run(self, name: str, check: Callable[[], Awaitable[str]], hint: str, *,
                  level: str = CORE) -> None:
        started = time.perf_counter()
        if self.emulator is not None:
            self.emulator.reset()
        try:
            detail = await asyncio.wait_for(check(), self.timeout_s)
            result = CheckResult(name, True, detail)
        except Skip as skip:
            result = CheckResult(name, None, str(skip))
        except CheckFailed as failure:
            todo = _unfinished(failure.__context__) if failure.__context__ else None
            result = (_todo_result(name, todo) if todo
                      else CheckResult(name, False, failure.detail, failure.hint or hint))
        except (asyncio.TimeoutError, TimeoutError):
            result = CheckResult(
                name, False, f"no result within {self.timeout_s:g} s",
                "A call hung: set a timeout on your HTTP client (httpx.AsyncClient(timeout=...)) "
                "and make sure every stream ends.")
        except NotImplementedError as error:
            result = _todo_result(name, error)
        except Exception as error:  # the student's code raised something unexpected
            todo = _unfinished(error)
            result = _todo_result(name, todo) if todo else CheckResult(name, False, f"raised {_describe(error)}", hint)
        finally:
            if self.emulator is not None:
                self.emulator.reset()
        result.seconds = time.perf_counter() - started
        result.level = level
        self.report.checks.append(result)

    def skip(self, name: str, why: str) -> None:
        self.report.checks.append(CheckResult(name, None, why))

    async def using(self, body: Callable[[Any], Awaitable[str]], **changes) -> str:
        provider = self.build(**changes)
        try:
            return await body(provider)
        finally:
            if provider is not self.subject:
                await aclose_quietly(provider, 2)

    def _scripted(self) -> bool:
        """Does the emulator answer from the scripted responder (known replies and counts)?"""
        return getattr(self.emulator, "backend_name", "scripted") == "scripted"

    def _judge_hint(self, error: BaseException, check: str) -> None:
        """A typed error's hint must tell the user what to do: not empty, not a TODO, what the
        wire needs said (``ollama pull``; Bedrock's AccessDeniedException names IAM), and -- for a subclass of a built-in provider -- its
        own words, not a hint it inherited or one the workbook has for another server."""
        hint = str(getattr(error, "hint", "") or "").strip()
        name = type(error).__name__
        if not hint:
            raise CheckFailed(f"raised {name} without a hint",
                              "Give every error a hint=: one line telling the user what to do.")
        if "TODO" in hint:
            raise CheckFailed(f"raised {name} whose hint is still a TODO ({hint[:60]!r})",
                              "Replace the TODO with one line telling the user what to do.")
        needed, misleading, advice = _HINT_MUST_SAY.get((self.wire, check), (None, None, ""))
        if needed and needed not in hint:
            raise CheckFailed(f"raised {name}, but its hint ({hint[:80]!r}) does not say `{needed}`", advice)
        if misleading and misleading in hint:
            raise CheckFailed(f"raised {name}, but its hint ({hint[:80]!r}) says `{misleading}`, "
                              "another failure's fix", advice)
        owner = _borrowed_hints(self.subject, self.wire).get(hint) if check in _HINT_KEY else None
        if owner:
            key = _HINT_KEY[check]
            raise CheckFailed(
                f"raised {name} with {owner}'s hint ({hint[:70]!r}), not one for this server",
                f"Write hints[{key!r}] in your own words: what to do with *this* server.")

    def new_requests(self) -> list:
        return [r for r in self.emulator.requests if r.protocol == self.wire] if self.wire else []

    # -- the checks ---------------------------------------------------------------------
    async def shape(self) -> str:
        missing = [m for m in ("chat", "chat_stream") if not callable(getattr(self.subject, m, None))]
        if missing:
            raise CheckFailed(f"missing {', '.join(missing)}",
                              "Define both `async def chat(...)` and `def chat_stream(...)`.")
        if not inspect.iscoroutinefunction(getattr(self.subject, "chat")):
            raise CheckFailed("chat is not a coroutine function",
                              "Declare it `async def chat(self, messages, *, max_tokens=512, "
                              "temperature=0.7)`.")
        for method in ("chat", "chat_stream"):
            parameters = inspect.signature(getattr(self.subject, method)).parameters
            for keyword in ("max_tokens", "temperature"):
                if keyword not in parameters and not any(
                        p.kind is p.VAR_KEYWORD for p in parameters.values()):
                    raise CheckFailed(f"{method} has no {keyword} parameter",
                                      f"Give {method} keyword arguments max_tokens and temperature.")
        # Either way chat_stream gives an async iterator: a generator is one, a built-in provider's
        # method returns one (its decorator wraps a generator).
        kind = ("an async generator" if inspect.isasyncgenfunction(self.subject.chat_stream)
                else "returns an async iterator")
        return f"async chat, chat_stream ({kind}) with max_tokens and temperature"

    async def builds(self) -> str:
        provider = self.build()
        await aclose_quietly(provider, 2) if provider is not self.subject else None
        if self.configurable:
            return f"{_name(self.subject)}(settings) built from emulator.settings({self.protocol!r})"
        if self.is_class:
            return f"{_name(self.subject)}() built (takes no settings)"
        raise Skip("skipped: an instance was given, so there was nothing to build (pass the class to check it)")

    async def round_trip(self) -> str:
        async def body(provider):
            before = len(self.emulator.requests) if self.emulator else 0
            messages = [Message("user", "Say hello to the conformance checker.")]
            response = await provider.chat(messages, max_tokens=64, temperature=0.0)
            if self.emulator is not None and not self.configurable:
                self.served = len(self.emulator.requests) > before
            if not isinstance(response, ChatResponse):
                raise CheckFailed(f"chat returned a {type(response).__name__}",
                                  "chat must return a ChatResponse(content=..., model=..., "
                                  "provider=..., usage=..., latency_s=...).")
            problems = []
            if not isinstance(response.content, str) or not response.content.strip():
                problems.append("content is empty")
            if not response.provider:
                problems.append("provider is empty")
            if not response.model:
                problems.append("model is empty")
            if not (isinstance(response.latency_s, (int, float)) and response.latency_s > 0):
                problems.append(f"latency_s is {response.latency_s!r}")
            if problems:
                raise CheckFailed("; ".join(problems),
                                  "Fill every ChatResponse field: the reply text, model and "
                                  "provider names, and latency_s = time.perf_counter() difference.")
            if not self.served:
                return f"{len(response.content)} chars from model {response.model!r} in {response.latency_s:.3f} s"
            expected = scripted_answer(messages, 64, source="emulator")
            if response.content.strip() != expected.text.strip():
                raise CheckFailed(f"content {response.content[:60]!r} is not the emulator's reply",
                                  "Return the message content from the response body unchanged.")
            # Every provider says why an answer ended in the same two words, so code that
            # reads finish_reason works whichever provider answered.
            if response.finish_reason != expected.finish_reason:
                raise CheckFailed(f"finish_reason is {response.finish_reason!r}, not {expected.finish_reason!r}",
                                  self.hints["finish"])
            return (f"{len(response.content)} chars in {response.latency_s:.3f} s from the emulator "
                    f"answering as {response.model!r} (finish_reason {response.finish_reason!r})")

        return await self.using(body)

    async def stream(self) -> str:
        async def body(provider):
            messages = [Message("user", "Stream a short answer, please.")]
            pieces, _ = await _collect(lambda: provider.chat_stream(
                messages, max_tokens=64, temperature=0.0))
            bad = [type(p).__name__ for p in pieces if not isinstance(p, str)]
            if bad:
                raise CheckFailed(f"yielded {bad[0]} pieces, not str",
                                  "Yield the text of each chunk (a str), not the chunk object.")
            if len(pieces) < 2:
                raise CheckFailed(f"{len(pieces)} piece(s): the answer arrived in one block",
                                  "Yield each chunk as it arrives (stream=True, then iterate the "
                                  "lines); don't collect the whole answer first.")
            text = "".join(pieces)
            if self.served:
                expected = scripted_reply(messages, source="emulator")
                if text.strip() != expected:
                    raise CheckFailed(f"pieces join to {text[:60]!r}, not the emulator's reply",
                                      "Yield every piece's text exactly once, in order.")
            elif not text.strip():
                raise CheckFailed("the pieces join to an empty text", "Yield the text of each chunk.")
            return f"{len(pieces)} pieces joining to {len(text)} chars"

        return await self.using(body)

    async def usage(self) -> str:
        async def body(provider):
            messages = [Message("user", "Count my tokens.")]
            response = await provider.chat(messages, max_tokens=16, temperature=0.0)
            usage = getattr(response, "usage", None)
            got = (getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None))
            counted = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in got)
            if counted and self.served and self._scripted():
                # The emulator's scripted answer is known: its counts differ (a short prompt,
                # a longer answer), so a swap or a made-up number shows.
                answer = scripted_answer(messages, 16, source="emulator")
                reported = (answer.input_tokens, answer.output_tokens)
                if got == reported[::-1]:
                    raise CheckFailed(
                        f"input_tokens={got[0]} and output_tokens={got[1]} are swapped: the server "
                        f"reported {reported[0]} in, {reported[1]} out",
                        _USAGE_HINT.get(self.wire, "Read the token counts the server reports into Usage."))
                if got != reported:
                    raise CheckFailed(
                        f"usage is input_tokens={got[0]}, output_tokens={got[1]}; the server "
                        f"reported {reported[0]} in, {reported[1]} out",
                        _USAGE_HINT.get(self.wire, "Read the token counts the server reports into Usage."))
            if counted:
                return f"input_tokens={got[0]}, output_tokens={got[1]}"
            if self.served:
                raise CheckFailed(
                    f"usage is input_tokens={got[0]!r}, output_tokens={got[1]!r}",
                    _USAGE_HINT.get(self.wire, "Read the token counts the server reports into Usage."))
            raise Skip(f"skipped: not reported (input_tokens={got[0]!r}, output_tokens={got[1]!r})")

        return await self.using(body)

    async def request_fields(self) -> str:
        if self.wire is None:
            raise Skip(NO_WIRE)
        if not self.served:
            raise Skip(NOT_SERVED)

        async def body(provider):
            before = len(self.new_requests())
            await provider.chat([Message("system", SYSTEM_PROMPT), Message("user", "Hi.")],
                                max_tokens=7, temperature=0.3)
            sent = self.new_requests()[before:]
            if not sent:
                raise CheckFailed("no request reached the emulator", "Send the request to the configured URL.")
            problems = _field_problems(self.view, sent[-1].body, sent[-1].path)
            if problems:
                raise CheckFailed("; ".join(problems), _FIELD_HINT[self.wire])
            extra = _extra_field_problems(self.extra_fields, sent[-1].body)
            if extra:
                raise CheckFailed("; ".join(extra), _extra_field_hint(self.wire, self.extra_fields))
            asked = "".join(f", {name}={value!r}" for name, value in self.extra_fields.items())
            return _FIELD_OK[self.view] + asked

        return await self.using(body)

    async def raises(self, fault: str, expected: tuple[type, ...], hint: str, *,
                     stream: bool = False, times: int = 1, needs_settings: bool = False,
                     then: tuple[str, dict[str, Any]] | None = None, also: str | None = None,
                     **options) -> str:
        """Inject ``fault`` and expect one of ``expected`` with a hint a user can act on;
        ``also``: another fault that must give one of ``expected`` too (the same failure in the
        service's other words); ``then``: a second fault (name, options) the same provider must
        turn into a typed error too (the same requirement on other data: a 400 after a 500)."""
        outcome = await self._raises_once(fault, expected, hint, stream=stream, times=times,
                                          needs_settings=needs_settings, **options)
        if also is not None:
            self.emulator.reset()
            try:
                outcome += f"; {also} too: " + await self._raises_once(also, expected, hint)
            except CheckFailed as failure:
                raise CheckFailed(f"{fault} is handled, but not {also}: {failure.detail}",
                                  failure.hint) from None
        if then is not None:
            name, more = then
            self.emulator.reset()  # faults the first call left unused must not answer the second
            try:
                second = await self._raises_once(name, (errors.ProviderError,), self.hints["other_status"],
                                                 needs_settings=needs_settings, **more)
            except CheckFailed as failure:
                raise CheckFailed(f"{fault} is handled, but after {name}: {failure.detail}",
                                  failure.hint) from None
            outcome += f"; {name} too: {second}"
        return outcome

    async def _raises_once(self, fault: str, expected: tuple[type, ...], hint: str, *,
                           stream: bool = False, times: int = 1, needs_settings: bool = False,
                           **options) -> str:
        if self.wire is None:
            raise Skip(NO_WIRE)
        if needs_settings and not self.configurable:
            raise self._cannot_configure()
        if not self.served:
            raise Skip(NOT_SERVED)
        changes = {"max_retries": 1} if needs_settings else {}

        async def body(provider):
            self.emulator.inject(fault, times=times, protocol=self.wire, **options)
            messages = [Message("user", f"Trigger {fault}.")]
            try:
                if stream:
                    pieces, _ = await _collect(lambda: provider.chat_stream(
                        messages, max_tokens=64, temperature=0.0))
                    outcome = f"{len(pieces)} pieces and no error"
                else:
                    response = await provider.chat(messages, max_tokens=16, temperature=0.0)
                    outcome = f"a reply ({getattr(response, 'content', response)!r:.50})"
            except CheckFailed:
                raise
            except expected as error:
                if _unfinished(error):  # a TODO wrapped into the expected error is no pass
                    raise _unfinished(error) from None
                self._judge_hint(error, fault)
                return f"raised {_kind_of(error, expected)} (hint: {error.hint})"
            except errors.ProviderError as error:
                raise CheckFailed(f"raised {type(error).__name__}, expected "
                                  f"{' or '.join(e.__name__ for e in expected)}", hint)
            except NotImplementedError:
                raise
            except Exception as error:
                raise CheckFailed(f"a raw {_describe(error)} leaked out", hint)
            raise CheckFailed(f"got {outcome}: the failure was swallowed", hint)

        return await self.using(body, **changes)

    async def unreachable(self) -> str:
        if not self.configurable:
            raise self._cannot_configure()
        port = free_port()
        url = f"http://127.0.0.1:{port}" + ("/v1" if self.wire == "openai" else "")

        async def body(provider):
            try:
                await provider.chat([Message("user", "Anyone there?")], max_tokens=8, temperature=0.0)
            except errors.ProviderUnavailableError as error:
                self._judge_hint(error, "unreachable")
                return f"raised ProviderUnavailableError (hint: {error.hint})"
            except errors.ProviderError as error:
                raise CheckFailed(f"raised {type(error).__name__}, expected ProviderUnavailableError",
                                  self.hints["unreachable"])
            except NotImplementedError:
                raise
            except Exception as error:
                raise CheckFailed(f"a raw {_describe(error)} leaked out", self.hints["unreachable"])
            raise CheckFailed("got a reply from a closed port?", self.hints["unreachable"])

        return await self.using(body, **{URL_FIELD[self._settings_owner()]: url, "timeout_s": 2.0})

    async def retry_succeeds(self) -> str:
        if not self.configurable:
            raise self._cannot_configure()

        async def body(provider):
            self.emulator.inject("rate_limit", times=1, protocol=self.wire, retry_after=0)
            response = await provider.chat([Message("user", "Retry me.")], max_tokens=16,
                                           temperature=0.0)
            attempts = len(self.new_requests())
            if attempts < 2:
                raise CheckFailed(f"{attempts} request(s) sent", self.hints["retry"])
            return f"answered after {attempts} attempts ({len(response.content)} chars)"

        try:
            return await self.using(body, max_retries=2)
        except errors.RateLimitError as error:
            raise CheckFailed(f"raised RateLimitError with AI__MAX_RETRIES=2: {error.message}",
                              self.hints["retry"]) from None

    async def structured(self) -> str:
        """chat(..., response_format=X): X reaches the server in its field, the answer comes
        back validated in ``parsed``, and an answer off the schema raises StructuredOutputError."""
        if not takes_response_format(self.subject):
            raise Skip("skipped: chat takes no response_format (optional)")
        messages = [Message("user", "Route this ticket: I was charged twice.")]
        hint = ("Send response_format's schema in the protocol's own field, validate the answer with "
                "workbook.ai.structured.output_schema(X).parse(text) and return it as ChatResponse.parsed.")

        async def body(provider):
            before = len(self.new_requests())
            response = await provider.chat(messages, max_tokens=64, temperature=0.0,
                                           response_format=_ConformanceRoute)
            parsed = getattr(response, "parsed", None)
            if not isinstance(parsed, _ConformanceRoute):
                raise CheckFailed(f"parsed is a {type(parsed).__name__}, not an instance of the class "
                                  "passed as response_format", hint)
            if not (self.served and self.wire in SCHEMA_FIELD):
                return f"parsed {parsed!r}"
            field, read = SCHEMA_FIELD[self.view]
            sent = self.new_requests()[before:]
            if not sent or read(sent[-1].body) != output_schema(_ConformanceRoute).schema:
                raise CheckFailed(f"the schema did not arrive in {field}", hint)
            self.emulator.inject("off_schema", protocol=self.wire)
            try:
                await provider.chat(messages, max_tokens=64, temperature=0.0, response_format=_ConformanceRoute)
            except errors.StructuredOutputError:
                pass
            except errors.ProviderError as error:
                raise CheckFailed(f"an answer off the schema raised {type(error).__name__}, "
                                  "expected StructuredOutputError", hint) from None
            else:
                raise CheckFailed("an answer off the schema was accepted", hint)
            return f"schema in {field}, answer parsed; an answer off the schema → StructuredOutputError"

        return await self.using(body)

    async def concurrent(self) -> str:
        count = 8

        async def body(provider):
            if self.served and self.emulator is not None:
                self.emulator.inject("slow_first_token", times=count, protocol=self.wire, seconds=0.3)

            async def one(index: int):
                started = time.perf_counter()
                response = await provider.chat(
                    [Message("user", f"Concurrent request number {index} of {count}.")],
                    max_tokens=16, temperature=0.0)
                return response, time.perf_counter() - started

            started = time.perf_counter()
            results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
            wall = time.perf_counter() - started
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures and _unfinished(failures[0]):
                raise _unfinished(failures[0])
            if failures:
                raise CheckFailed(f"{len(failures)} of {count} calls failed: {_describe(failures[0])}",
                                  self.hints["concurrent"])
            mixed = [i for i, (response, _) in enumerate(results)
                     if f"number {i} of" not in response.content.lower()]
            if mixed and self.served:
                raise CheckFailed(f"replies {mixed[:3]} do not answer their own prompt",
                                  "Keep each call's state local to the call (no shared "
                                  "self.last_response); build each request from its own messages.")
            total = sum(seconds for _, seconds in results)
            if total < 0.2:  # a pass here would claim what was not seen
                raise Skip(f"could not tell: {count} calls succeeded, but too quick ({total:.3f} s "
                           "summed) to see whether they overlapped")
            if wall >= 0.75 * total:
                raise CheckFailed(f"{count} calls took {wall:.2f} s together vs {total:.2f} s summed: "
                                  "they ran one after another", self.hints["concurrent_blocking"])
            matched = "each matched to its prompt, " if not mixed else ""
            return f"{count} calls, {matched}{wall:.2f} s wall vs {total:.2f} s summed"

        return await self.using(body)


def _builtin_classes(wire: str | None) -> list[type]:
    """The workbook's own provider classes speaking ``wire`` (imported on demand)."""
    from ..ai.registry import _BUILTINS, provider_factory

    classes = []
    for spec in _BUILTINS:
        if spec.protocol == wire and wire is not None:
            try:
                classes.append(provider_factory(spec))
            except Exception:  # noqa: BLE001 - an SDK missing: that class cannot be compared
                continue
    return classes


def _borrowed_hints(subject, wire: str | None) -> dict[str, str]:
    """hint text -> whose it is, for the hints a subclass of a built-in provider would be
    borrowing: every built-in class's of the same wire, and the errors' defaults. Empty for
    a built-in class itself, and for a class of the student's own (exercise 09), whose
    hints are theirs whatever words they choose."""
    cls = subject if inspect.isclass(subject) else type(subject)
    builtins = _builtin_classes(wire)
    if cls in builtins or not any(issubclass(cls, b) for b in builtins):
        return {}
    from ..ai.errormap import _KINDS

    borrowed = {default: "the workbook's default" for _, default in _KINDS.values()}
    for error_type in (v for v in vars(errors).values()
                       if isinstance(v, type) and issubclass(v, errors.ProviderError)):
        borrowed[error_type.default_hint] = f"{error_type.__name__}'s default"
    for builtin in builtins:
        own = vars(builtin).get("hints")
        if isinstance(own, dict):
            borrowed.update({text: builtin.__name__ for text in own.values() if isinstance(text, str)})
    return {text.strip(): whose for text, whose in borrowed.items() if text}


def _extra_field_problems(wanted: dict[str, Any], body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the request body is not a JSON object"]
    missing = object()
    problems = []
    for name, value in wanted.items():
        got = body.get(name, missing)
        if got is missing:
            problems.append(f"the request has no {name} field (this exercise asks for {name}={value!r})")
        elif got != value:
            problems.append(f"{name} is {got!r}, not {value!r}")
    return problems


def _extra_field_hint(wire: str | None, wanted: dict[str, Any]) -> str:
    fields = ", ".join(f"{name!r}: {value!r}" for name, value in wanted.items())
    if wire in ("openai", "azure_openai"):
        return (f"Add the server's own field(s) through the SDK's extra_body: "
                f"extra_body={{{fields}}} in the request _request returns.")
    return f"Add {{{fields}}} to the request body."


class _ConformanceRoute(BaseModel):
    """The schema the structured-output check asks for."""

    team: Literal["billing", "technical", "account"]
    urgent: bool


def _name(subject) -> str:
    return subject.__name__ if inspect.isclass(subject) else f"{type(subject).__name__} instance"
