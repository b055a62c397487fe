"""The provider conformance suite: does a provider keep the ``AIProvider`` contract?

``check_provider(OllamaProvider, protocol="ollama")`` runs the contract against the
offline emulator (a private one unless you pass ``emulator=``) and returns a
``ConformanceReport``: one row per check with passed / failed / skipped, what was seen,
and for a failure one line telling a student what to change.

* A **class** is built as ``cls(settings)`` with settings pointing at the emulator, one
  fresh instance per check, so a check can change ``max_retries`` or point it at a
  closed port. A class that takes no arguments cannot be pointed anywhere: the checks
  that need that control are skipped.
* An **instance** is used as it is: only the checks that need no other configuration
  run, and the emulator-based ones only if its requests reach the emulator.

Errors in the provider's code (``NotImplementedError``, ``AttributeError``...) become
failed checks, never tracebacks; every check is bounded by ``timeout_s`` so a provider
that hangs fails instead of hanging the notebook.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from .ai import errors
from .ai.scripted import scripted_reply
from .ai.types import ChatResponse, Message

PROTOCOLS = ("openai", "azure_openai", "vllm", "lmstudio", "ollama", "bedrock")
# provider type -> the emulator's name for its wire protocol (fault targeting, log)
WIRE = {"openai": "openai", "vllm": "openai", "lmstudio": "openai", "azure_openai": "azure",
        "ollama": "ollama", "bedrock": "bedrock"}
URL_FIELD = {"openai": "openai_base_url", "vllm": "openai_base_url", "lmstudio": "openai_base_url",
             "azure_openai": "azure_openai_endpoint", "ollama": "ollama_base_url",
             "bedrock": "bedrock_endpoint_url"}
NEEDS_SETTINGS = "skipped: needs a class that takes settings"
NOT_SERVED = "skipped: its requests do not reach the emulator (build it from emulator.settings(...))"
NO_WIRE = "skipped: no wire protocol to test against the emulator (pass protocol=...)"

SYSTEM_PROMPT = "You are a conformance check."


@dataclass
class CheckResult:
    name: str
    passed: bool | None  # None: skipped
    detail: str = ""
    hint: str = ""
    seconds: float = 0.0

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "–"}[self.passed]


@dataclass
class ConformanceReport:
    subject: str
    protocol: str | None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every check that ran passed (skipped checks do not count)."""
        ran = [c for c in self.checks if c.passed is not None]
        return bool(ran) and all(c.passed for c in ran)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.passed is False]

    @property
    def skipped(self) -> list[CheckResult]:
        return [c for c in self.checks if c.passed is None]

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def summary(self) -> str:
        ran = [c for c in self.checks if c.passed is not None]
        ok = sum(1 for c in ran if c.passed)
        verdict = "PASSED" if self.passed else "FAILED"
        return (f"{self.subject} ({self.protocol or 'no protocol'}): {verdict} — "
                f"{ok}/{len(ran)} checks passed, {len(self.checks) - len(ran)} skipped")

    def __repr__(self) -> str:
        return f"<ConformanceReport {self.summary()}>"

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "protocol": self.protocol, "passed": self.passed,
                "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail,
                            "hint": c.hint, "seconds": round(c.seconds, 3)} for c in self.checks]}

    def save(self, path) -> None:
        """Write the report as JSON (an exercise's last cell does this for CI)."""
        import json
        from pathlib import Path

        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False),
                              encoding="utf-8")

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame(
            [{"check": c.name, "result": c.mark, "passed": c.passed, "detail": c.detail,
              "hint": c.hint, "seconds": round(c.seconds, 3)} for c in self.checks]
        ).set_index("check")

    def __str__(self) -> str:
        width = max((len(c.name) for c in self.checks), default=5)
        lines = [self.summary()]
        for c in self.checks:
            lines.append(f"  {c.mark} {c.name:<{width}}  {c.detail}")
            if c.passed is False and c.hint:
                lines.append(f"    {'':<{width}}  Hint: {c.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {True: "#1a7f37", False: "#cf222e", None: "#6e7781"}
        rows = []
        for c in self.checks:
            hint = html.escape(c.hint) if c.passed is False else ""
            rows.append(
                f"<tr><td style='color:{colour[c.passed]};font-weight:bold;text-align:center'>"
                f"{c.mark}</td><td style='text-align:left'>{html.escape(c.name)}</td>"
                f"<td style='text-align:left'>{html.escape(c.detail)}</td>"
                f"<td style='text-align:left'><i>{hint}</i></td></tr>")
        head = ("<tr><th></th><th style='text-align:left'>check</th>"
                "<th style='text-align:left'>what happened</th>"
                "<th style='text-align:left'>hint</th></tr>")
        return (f"<p><b>{html.escape(self.summary())}</b></p>"
                f"<table>{head}{''.join(rows)}</table>")


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


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _takes_settings(cls) -> bool:
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in parameters)


async def _close(provider) -> None:
    for name in ("aclose", "close"):
        method = getattr(provider, name, None)
        if callable(method):
            try:
                result = method()
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, 2)
            except Exception:
                pass
            return


async def _collect(stream_call: Callable[[], Any]) -> tuple[list[Any], Any]:
    """Call ``chat_stream`` and gather its pieces, turning misuse into a CheckFailed."""
    stream = stream_call()
    if inspect.iscoroutine(stream):
        stream.close()
        raise CheckFailed(
            "chat_stream returned a coroutine, not an async iterator (is it `async def` "
            "without a `yield`?)",
            "chat_stream must be an async generator yielding str pieces: "
            "`async def chat_stream(...)` with `yield piece` inside.")
    if not hasattr(stream, "__aiter__"):
        raise CheckFailed(
            f"chat_stream returned a {type(stream).__name__}, which `async for` cannot iterate",
            "chat_stream must be an async generator yielding str pieces.")
    pieces = []
    async for piece in stream:
        pieces.append(piece)
    return pieces, stream


class _Suite:
    def __init__(self, subject, protocol: str | None, emulator, timeout_s: float):
        self.subject = subject
        self.is_class = inspect.isclass(subject)
        self.protocol = protocol
        self.wire = WIRE.get(protocol or "")
        self.hints = _hints_for(self.wire)
        self.emulator = emulator
        self.timeout_s = timeout_s
        self.configurable = self.is_class and _takes_settings(subject) and protocol in WIRE
        # Do its requests reach the emulator? A class built from emulator settings does;
        # anything else is found out by the round trip.
        self.served: bool | None = True if self.configurable else (False if emulator is None else None)
        self.report = ConformanceReport(_name(subject), protocol)

    # -- building -----------------------------------------------------------------------
    def settings(self, **changes):
        base = self.emulator.settings(self.protocol)
        values = {"max_retries": 0, "timeout_s": min(5.0, self.timeout_s)}
        values.update(changes)
        return base.with_(**values)

    def build(self, **changes):
        if not self.is_class:
            return self.subject
        if self.configurable:
            return self.subject(self.settings(**changes))
        if changes:
            raise Skip(NEEDS_SETTINGS)
        return self.subject()

    async def run(self, name: str, check: Callable[[], Awaitable[str]], hint: str) -> None:
        started = time.perf_counter()
        if self.emulator is not None:
            self.emulator.reset()
        try:
            detail = await asyncio.wait_for(check(), self.timeout_s)
            result = CheckResult(name, True, detail)
        except Skip as skip:
            result = CheckResult(name, None, str(skip))
        except CheckFailed as failure:
            result = CheckResult(name, False, failure.detail, failure.hint or hint)
        except (asyncio.TimeoutError, TimeoutError):
            result = CheckResult(
                name, False, f"no result within {self.timeout_s:g} s",
                "A call hung: set a timeout on your HTTP client (httpx.AsyncClient(timeout=...)) "
                "and make sure every stream ends.")
        except NotImplementedError as error:
            result = CheckResult(name, False, f"not implemented yet ({_describe(error)})", hint)
        except Exception as error:  # the student's code raised something unexpected
            result = CheckResult(name, False, f"raised {_describe(error)}", hint)
        finally:
            if self.emulator is not None:
                self.emulator.reset()
        result.seconds = time.perf_counter() - started
        self.report.checks.append(result)

    def skip(self, name: str, why: str) -> None:
        self.report.checks.append(CheckResult(name, None, why))

    async def using(self, body: Callable[[Any], Awaitable[str]], **changes) -> str:
        provider = self.build(**changes)
        try:
            return await body(provider)
        finally:
            if provider is not self.subject:
                await _close(provider)

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
        kind = "async generator" if inspect.isasyncgenfunction(self.subject.chat_stream) else "method"
        return f"async chat, chat_stream ({kind}) with max_tokens and temperature"

    async def builds(self) -> str:
        provider = self.build()
        await _close(provider) if provider is not self.subject else None
        if self.configurable:
            return f"{_name(self.subject)}(settings) built from emulator.settings({self.protocol!r})"
        if self.is_class:
            return f"{_name(self.subject)}() built (takes no settings)"
        return "an instance was given"

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
            if self.served:
                expected = scripted_reply(messages)
                if response.content.strip() != expected:
                    raise CheckFailed(f"content {response.content[:60]!r} is not the emulator's reply",
                                      "Return the message content from the response body unchanged.")
            return f"{len(response.content)} chars from {response.model!r} in {response.latency_s:.3f} s"

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
                expected = scripted_reply(messages)
                if text.strip() != expected:
                    raise CheckFailed(f"pieces join to {text[:60]!r}, not the emulator's reply",
                                      "Yield every piece's text exactly once, in order.")
            elif not text.strip():
                raise CheckFailed("the pieces join to an empty text", "Yield the text of each chunk.")
            return f"{len(pieces)} pieces joining to {len(text)} chars"

        return await self.using(body)

    async def usage(self) -> str:
        async def body(provider):
            response = await provider.chat([Message("user", "Count my tokens.")],
                                           max_tokens=16, temperature=0.0)
            usage = getattr(response, "usage", None)
            got = (getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None))
            if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in got):
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
            problems = _field_problems(self.wire, sent[-1].body)
            if problems:
                raise CheckFailed("; ".join(problems), _FIELD_HINT[self.wire])
            return _FIELD_OK[self.wire]

        return await self.using(body)

    async def raises(self, fault: str, expected: tuple[type, ...], hint: str, *,
                     stream: bool = False, times: int = 1, needs_settings: bool = False,
                     **options) -> str:
        if self.wire is None:
            raise Skip(NO_WIRE)
        if needs_settings and not self.configurable:
            raise Skip(NEEDS_SETTINGS)
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
                return f"raised {type(error).__name__}" + (
                    f" (hint: {error.hint})" if getattr(error, "hint", "") else "")
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
            raise Skip(NEEDS_SETTINGS)
        port = _closed_port()
        url = f"http://127.0.0.1:{port}" + ("/v1" if URL_FIELD[self.protocol] == "openai_base_url" else "")

        async def body(provider):
            try:
                await provider.chat([Message("user", "Anyone there?")], max_tokens=8, temperature=0.0)
            except errors.ProviderUnavailableError as error:
                return f"raised ProviderUnavailableError (hint: {error.hint})"
            except errors.ProviderError as error:
                raise CheckFailed(f"raised {type(error).__name__}, expected ProviderUnavailableError",
                                  self.hints["unreachable"])
            except NotImplementedError:
                raise
            except Exception as error:
                raise CheckFailed(f"a raw {_describe(error)} leaked out", self.hints["unreachable"])
            raise CheckFailed("got a reply from a closed port?", self.hints["unreachable"])

        return await self.using(body, **{URL_FIELD[self.protocol]: url, "timeout_s": 2.0})

    async def retry_succeeds(self) -> str:
        if not self.configurable:
            raise Skip(NEEDS_SETTINGS)

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
            if failures and isinstance(failures[0], NotImplementedError):
                raise failures[0]
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
            if total < 0.2:
                return (f"{count} calls succeeded, but too quick ({total:.3f} s summed) to tell "
                        "whether they overlapped")
            if wall >= 0.75 * total:
                raise CheckFailed(f"{count} calls took {wall:.2f} s together vs {total:.2f} s summed: "
                                  "they ran one after another", self.hints["concurrent_blocking"])
            matched = "each matched to its prompt, " if not mixed else ""
            return f"{count} calls, {matched}{wall:.2f} s wall vs {total:.2f} s summed"

        return await self.using(body)


def _name(subject) -> str:
    return subject.__name__ if inspect.isclass(subject) else f"{type(subject).__name__} instance"


_USAGE_HINT = {
    "ollama": "Read prompt_eval_count and eval_count from the final done:true line into "
              "Usage(input_tokens, output_tokens).",
    "openai": "Read response.usage.prompt_tokens and completion_tokens into Usage.",
    "azure": "Read response.usage.prompt_tokens and completion_tokens into Usage.",
    "bedrock": "Read usage.inputTokens and outputTokens from the Converse response into Usage.",
}
_FIELD_HINT = {
    "ollama": "Send max_tokens as options.num_predict, temperature as options.temperature, and "
              "the system prompt as the first message with role 'system'.",
    "openai": "Send max_tokens, temperature and the system message as messages[0] (role 'system').",
    "azure": "Send max_tokens, temperature and the system message as messages[0] (role 'system').",
    "bedrock": "Send inferenceConfig.maxTokens / temperature and the system prompt in the "
               "top-level system=[{'text': ...}], not as a message.",
}
_FIELD_OK = {
    "ollama": "options.num_predict=7, options.temperature=0.3, messages[0] is the system prompt",
    "openai": "max_tokens=7, temperature=0.3, messages[0] is the system prompt",
    "azure": "max_tokens=7, temperature=0.3, messages[0] is the system prompt",
    "bedrock": "inferenceConfig.maxTokens=7, temperature=0.3, top-level system prompt",
}
_HINTS = {
    "auth": "Map HTTP 401/403 to AuthenticationError (raise it with a hint about the key).",
    "rate_limit": "Map HTTP 429 to RateLimitError once your retries are used up.",
    "model_not_found": "Map HTTP 404 to ModelNotFoundError.",
    "server_error": "Map HTTP 5xx to ProviderUnavailableError (after retrying), never return it "
                    "as an answer.",
    "cut_stream": "Check for the protocol's end marker and raise IncompleteResponseError if the "
                  "stream ends without it.",
    "unreachable": "Catch the connection error and raise ProviderUnavailableError naming the URL.",
    "retry": "Retry a 429 up to settings.max_retries times, waiting Retry-After seconds.",
    "concurrent": "Each call must work on its own: no shared per-call state on self.",
    "concurrent_blocking": "Use an async client (httpx.AsyncClient) and await it; a blocking "
                           "call (requests, time.sleep) stops every other call.",
    "round_trip": "Implement chat: POST the messages, read the reply, return a ChatResponse.",
    "stream": "chat_stream must be an async generator yielding str pieces.",
    "usage": "Fill Usage(input_tokens, output_tokens) from what the server reports.",
    "request_fields": "Send max_tokens, temperature and the system prompt where the protocol wants them.",
    "builds": "The class is built as cls(settings): accept an AISettings and read your URL and "
              "model from it.",
}


# What each hint says in the words of the SDK a student uses for that protocol.
_OPENAI_HINTS = {
    "auth": "Catch openai.AuthenticationError / PermissionDeniedError (401/403) and raise "
            "AuthenticationError with a hint about the key.",
    "rate_limit": "Let the SDK retry (max_retries=settings.max_retries), then turn "
                  "openai.RateLimitError into RateLimitError.",
    "model_not_found": "Turn openai.NotFoundError (404) into ModelNotFoundError; on Azure the "
                       "deployment name is not the model name.",
    "server_error": "Turn openai.InternalServerError (5xx) into ProviderUnavailableError.",
    "cut_stream": "The SDK ends a cut stream silently: raise IncompleteResponseError when no chunk "
                  "carried a finish_reason (and when APIConnectionError interrupts the loop).",
    "unreachable": "Turn openai.APIConnectionError / APITimeoutError into ProviderUnavailableError "
                   "naming the base URL.",
    "retry": "Pass max_retries=settings.max_retries to the client: the SDK honours Retry-After.",
}
_WIRE_HINTS = {
    "ollama": {
        "model_not_found": "Map HTTP 404 to ModelNotFoundError: Ollama says 'try pulling it first', "
                           "so hint `ollama pull MODEL`.",
        "cut_stream": "Check for the final done:true line and raise IncompleteResponseError if the "
                      "stream ends without it.",
        "unreachable": "Catch httpx.ConnectError / httpx.HTTPError and raise "
                       "ProviderUnavailableError naming the URL.",
    },
    "openai": _OPENAI_HINTS,
    "azure": _OPENAI_HINTS,
    "bedrock": {
        "auth": "Turn botocore ClientError codes UnrecognizedClientException and "
                "AccessDeniedException into AuthenticationError.",
        "rate_limit": "Let botocore retry (Config(retries={'total_max_attempts': N + 1, "
                      "'mode': 'standard'})), then turn ThrottlingException into RateLimitError.",
        "model_not_found": "Turn ValidationException 'model identifier is invalid' and "
                           "ResourceNotFoundException into ModelNotFoundError.",
        "server_error": "Turn InternalServerException / ServiceUnavailableException into "
                        "ProviderUnavailableError.",
        "cut_stream": "boto3's event stream ends a cut stream silently: raise "
                      "IncompleteResponseError when no messageStop event arrived.",
        "unreachable": "Turn botocore EndpointConnectionError into ProviderUnavailableError.",
        "retry": "Configure botocore's retries from settings.max_retries (standard mode).",
        "concurrent_blocking": "boto3 blocks: run converse in a thread (asyncio.to_thread or "
                               "loop.run_in_executor) so calls overlap.",
    },
}


def _hints_for(wire: str | None) -> dict[str, str]:
    return {**_HINTS, **_WIRE_HINTS.get(wire or "", {})}


def _field_problems(wire: str, body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the request body is not a JSON object"]
    problems = []
    if wire in ("openai", "azure"):
        tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        if tokens != 7:
            problems.append(f"max_tokens is {tokens!r}, not 7")
        if body.get("temperature") != 0.3:
            problems.append(f"temperature is {body.get('temperature')!r}, not 0.3")
        messages = body.get("messages") or [{}]
        if messages[0].get("role") != "system" or messages[0].get("content") != SYSTEM_PROMPT:
            problems.append("messages[0] is not the system prompt")
    elif wire == "ollama":
        options = body.get("options") or {}
        if options.get("num_predict") != 7:
            problems.append(f"options.num_predict is {options.get('num_predict')!r}, not 7")
        if options.get("temperature") != 0.3:
            problems.append(f"options.temperature is {options.get('temperature')!r}, not 0.3")
        messages = body.get("messages") or [{}]
        if messages[0].get("role") != "system" or messages[0].get("content") != SYSTEM_PROMPT:
            problems.append("messages[0] is not the system prompt")
    elif wire == "bedrock":
        config = body.get("inferenceConfig") or {}
        if config.get("maxTokens") != 7:
            problems.append(f"inferenceConfig.maxTokens is {config.get('maxTokens')!r}, not 7")
        if config.get("temperature") != 0.3:
            problems.append(f"inferenceConfig.temperature is {config.get('temperature')!r}, not 0.3")
        system = body.get("system") or []
        if not any(isinstance(s, dict) and s.get("text") == SYSTEM_PROMPT for s in system):
            problems.append("the system prompt is not in the top-level system field")
        if any(m.get("role") == "system" for m in body.get("messages") or []):
            problems.append("a message has role 'system' (Bedrock has no such role)")
    return problems


def _protocol_of(subject, protocol: str | None) -> str | None:
    if protocol is not None:
        protocol = str(protocol)
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r} is not one the emulator speaks; "
                             f"choose one of {', '.join(PROTOCOLS)}")
        return protocol
    name = getattr(subject, "name", None)
    return name if isinstance(name, str) and name in PROTOCOLS else None


async def check_provider_async(provider_or_class, *, protocol: str | None = None,
                               emulator=None, timeout_s: float = 10.0) -> ConformanceReport:
    """Run the conformance suite on the running event loop (``await`` it in a notebook)."""
    subject = provider_or_class
    protocol = _protocol_of(subject, protocol)
    if protocol is None and inspect.isclass(subject) and _takes_settings(subject):
        raise ValueError(
            f"{_name(subject)} has no `name` among {', '.join(PROTOCOLS)}: pass protocol=... "
            "to say which wire protocol it speaks")
    own = None
    if emulator is None and protocol is not None:
        from .emulator import Emulator

        own = emulator = await asyncio.to_thread(lambda: Emulator().start())
    if protocol == "bedrock" and emulator is not None:
        # boto3 signs with the normal credentials chain: offline it needs some, and a
        # Bedrock bearer token makes botocore refuse the emulator's plain-HTTP endpoint.
        for name, value in emulator.env("bedrock").items():
            if name.startswith("AWS_"):
                os.environ.setdefault(name, value)
        os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)
    suite = _Suite(subject, protocol, emulator, timeout_s)
    try:
        await suite.run("has chat and chat_stream", suite.shape,
                        "Follow the AIProvider protocol in workbook.ai.types.")
        if suite.report.checks[-1].passed is False:
            return suite.report
        await suite.run("builds from settings", suite.builds, suite.hints["builds"])
        if suite.report.checks[-1].passed is False:
            return suite.report
        await suite.run("round trip", suite.round_trip, suite.hints["round_trip"])
        await suite.run("streams in pieces", suite.stream, suite.hints["stream"])
        await suite.run("usage reported", suite.usage, suite.hints["usage"])
        await suite.run("request fields", suite.request_fields, suite.hints["request_fields"])
        await suite.run("bad key → AuthenticationError", lambda: suite.raises(
            "auth", (errors.AuthenticationError,), suite.hints["auth"]), suite.hints["auth"])
        await suite.run("429 exhausted → RateLimitError", lambda: suite.raises(
            "rate_limit", (errors.RateLimitError,), suite.hints["rate_limit"], times=5,
            needs_settings=True, retry_after=0), suite.hints["rate_limit"])
        await suite.run("unknown model → ModelNotFoundError", lambda: suite.raises(
            "model_not_found", (errors.ModelNotFoundError,), suite.hints["model_not_found"]),
            suite.hints["model_not_found"])
        await suite.run("500 exhausted → ProviderError", lambda: suite.raises(
            "server_error", (errors.ProviderUnavailableError, errors.ProviderError),
            suite.hints["server_error"], times=5, needs_settings=True), suite.hints["server_error"])
        await suite.run("cut stream → error", lambda: suite.raises(
            "cut_stream", (errors.ProviderError,), suite.hints["cut_stream"], stream=True,
            after_chunks=2), suite.hints["cut_stream"])
        await suite.run("unreachable server → ProviderUnavailableError", suite.unreachable,
                        suite.hints["unreachable"])
        await suite.run("retry after 429 succeeds", suite.retry_succeeds, suite.hints["retry"])
        await suite.run("8 concurrent calls overlap", suite.concurrent, suite.hints["concurrent"])
        return suite.report
    finally:
        if own is not None:
            await asyncio.to_thread(own.stop)


def check_provider(provider_or_class, *, protocol: str | None = None, emulator=None,
                   timeout_s: float = 10.0) -> ConformanceReport:
    """Run the conformance suite and return its report (blocking).

    Works with or without a running event loop: the suite runs on its own loop in a
    worker thread. In a notebook prefer ``await check_provider_async(...)`` for an
    instance, whose client may be tied to the kernel's loop.
    """
    outcome: dict[str, Any] = {}

    def work():
        try:
            outcome["report"] = asyncio.run(check_provider_async(
                provider_or_class, protocol=protocol, emulator=emulator, timeout_s=timeout_s))
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=work, name="conformance", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]


__all__ = ["check_provider", "check_provider_async", "ConformanceReport", "CheckResult", "PROTOCOLS"]
