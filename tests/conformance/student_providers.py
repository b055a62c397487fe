"""Providers as a student might write them: one correct, several broken on purpose.

The correct one is the shape of notebook 09's solution (httpx against /api/chat); each
broken one changes one thing, so a test can show the checker names that thing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import httpx

from workbook.ai import ChatResponse, Message, Usage
from workbook.ai import errors


class StudentOllama:
    name = "ollama"

    def __init__(self, settings):
        self.settings = settings
        self.model = settings.model or "llama3.2"
        self.base_url = settings.ollama_base_url

    def _body(self, messages, max_tokens, temperature, stream):
        return {"model": self.model, "stream": stream,
                "messages": [{"role": m.role, "content": m.content} for m in messages],
                "options": {"num_predict": max_tokens, "temperature": temperature}}

    def _error(self, status: int, text: str) -> errors.ProviderError:
        if status in (401, 403):
            return errors.AuthenticationError(text, provider="ollama")
        if status == 404:
            return errors.ModelNotFoundError(text, provider="ollama", hint=f"ollama pull {self.model}")
        if status == 429:
            return errors.RateLimitError(text, provider="ollama")
        if status >= 500:
            return errors.ProviderUnavailableError(text, provider="ollama")
        return errors.ProviderError(text, provider="ollama")

    async def _send(self, client, body):
        """POST with retries; returns a streaming 200 response."""
        for attempt in range(self.settings.max_retries + 1):
            try:
                response = await client.send(
                    client.build_request("POST", f"{self.base_url}/api/chat", json=body), stream=True)
            except httpx.HTTPError as error:
                raise errors.ProviderUnavailableError(
                    f"cannot reach {self.base_url}: {type(error).__name__}", provider="ollama") from None
            if response.status_code == 200:
                return response
            await response.aread()
            await response.aclose()
            error = self._error(response.status_code, response.text)
            if response.status_code not in (429, 500, 502, 503) or attempt == self.settings.max_retries:
                raise error
            await asyncio.sleep(float(response.headers.get("retry-after", 0.2)))
        raise AssertionError("unreachable")

    async def chat(self, messages: list[Message], *, max_tokens: int = 512,
                   temperature: float = 0.7) -> ChatResponse:
        started = time.perf_counter()
        async with httpx.AsyncClient(timeout=self.settings.timeout_s) as client:
            response = await self._send(client, self._body(messages, max_tokens, temperature, False))
            data = json.loads(await response.aread())
        return ChatResponse(content=data["message"]["content"], model=data["model"], provider="ollama",
                            usage=Usage(data.get("prompt_eval_count"), data.get("eval_count")),
                            finish_reason=data.get("done_reason"),
                            latency_s=time.perf_counter() - started)

    async def chat_stream(self, messages: list[Message], *, max_tokens: int = 512,
                          temperature: float = 0.7):
        async with httpx.AsyncClient(timeout=self.settings.timeout_s) as client:
            response = await self._send(client, self._body(messages, max_tokens, temperature, True))
            done = False
            try:
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    data = json.loads(line)
                    if data.get("message", {}).get("content"):
                        yield data["message"]["content"]
                    if data.get("done"):
                        done = True
            finally:
                await response.aclose()
            if not done:
                raise errors.IncompleteResponseError("stream ended without done:true", provider="ollama")


class SwallowsErrors(StudentOllama):
    """Turns every failure into an apologetic answer."""

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        try:
            return await super().chat(messages, max_tokens=max_tokens, temperature=temperature)
        except Exception:
            return ChatResponse(content="Sorry, something went wrong.", model=self.model,
                                provider="ollama", latency_s=0.001)


class SilentlyTruncates(StudentOllama):
    """Forgets to check for the final done:true line."""

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        async with httpx.AsyncClient(timeout=self.settings.timeout_s) as client:
            response = await self._send(client, self._body(messages, max_tokens, temperature, True))
            async for line in response.aiter_lines():
                if line.strip():
                    piece = json.loads(line).get("message", {}).get("content")
                    if piece:
                        yield piece
            await response.aclose()


class StreamNotAGenerator(StudentOllama):
    """``async def`` that returns the whole text instead of yielding pieces."""

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):  # type: ignore[override]
        response = await self.chat(messages, max_tokens=max_tokens, temperature=temperature)
        return [response.content]


class LeaksHttpxErrors(StudentOllama):
    """Uses raise_for_status() and lets httpx's exceptions out."""

    async def _send(self, client, body):
        response = await client.send(
            client.build_request("POST", f"{self.base_url}/api/chat", json=body), stream=True)
        if response.status_code != 200:
            await response.aread()
            response.raise_for_status()
        return response


class WrongFields(StudentOllama):
    """Sends max_tokens at the top level, where Ollama ignores it."""

    def _body(self, messages, max_tokens, temperature, stream):
        return {"model": self.model, "stream": stream, "max_tokens": max_tokens,
                "temperature": temperature,
                "messages": [{"role": m.role, "content": m.content} for m in messages]}


class Skeleton:
    """The exercise before the student starts."""

    name = "ollama"

    def __init__(self, settings):
        self.settings = settings

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        raise NotImplementedError("chat: POST /api/chat with stream=false")

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        raise NotImplementedError("chat_stream: POST /api/chat and yield each line's content")
        yield ""  # pragma: no cover - makes this an async generator


class Hangs(StudentOllama):
    """Waits forever for a reply (no timeout)."""

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        await asyncio.sleep(3600)


class Echo:
    """No settings, no network: echoes the last message word by word."""

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        started = time.perf_counter()
        await asyncio.sleep(0.05)
        text = f"You said: {messages[-1].content}"
        return ChatResponse(text, "echo-1", "echo", Usage(1, len(text.split())),
                            latency_s=time.perf_counter() - started)

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        for word in f"You said: {messages[-1].content}".split(" "):
            await asyncio.sleep(0)
            yield word + " "


class CoreOnly(SilentlyTruncates):
    """Does what the module asks and no more: no retries, no check for a cut stream."""

    async def _send(self, client, body):
        try:
            response = await client.send(
                client.build_request("POST", f"{self.base_url}/api/chat", json=body), stream=True)
        except httpx.HTTPError as error:
            raise errors.ProviderUnavailableError(
                f"cannot reach {self.base_url}: {type(error).__name__}", provider="ollama") from None
        if response.status_code != 200:
            await response.aread()
            await response.aclose()
            raise self._error(response.status_code, response.text)
        return response


# -- each breaks exactly one requirement a hidden test of exercise 09 or 12 grades ---------------
class SwapsUsage(StudentOllama):
    """Reads eval_count as the input and prompt_eval_count as the output."""

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        response = await super().chat(messages, max_tokens=max_tokens, temperature=temperature)
        return dataclasses.replace(response, usage=Usage(response.usage.output_tokens,
                                                         response.usage.input_tokens))


class NoPullHint(StudentOllama):
    """Maps a 404 to ModelNotFoundError, but its hint does not say `ollama pull`."""

    def _error(self, status, text):
        if status == 404:
            return errors.ModelNotFoundError(text, provider="ollama", hint="Check the model name.")
        return super()._error(status, text)


class NoFallbackError(StudentOllama):
    """Maps the statuses the TODO lists and forgets the `else`: any other status gives None."""

    def _error(self, status, text):
        if status in (401, 403, 404, 429) or status >= 500:
            return super()._error(status, text)
        return None


# Exercise 12: llama.cpp's server as a subclass of the OpenAI provider.
from workbook.ai.providers.openai import OpenAIProvider  # noqa: E402 - the section's own import

LLAMACPP_HINTS = {
    "auth": "llama-server was started with --api-key: set AI__LLAMACPP_API_KEY to that key.",
    "not_found": "llama-server serves the model it was started with (-m); check AI__LLAMACPP_BASE_URL.",
    "unavailable": "Start it: `llama-server -m MODEL.gguf --port 8080`, or set AI__LLAMACPP_BASE_URL.",
}
LLAMACPP_FIELDS = {"cache_prompt": False}


class StudentLlamaCpp(OpenAIProvider):
    """The shape of notebook 12's solution."""

    name = "llamacpp"
    default_base_url = "http://localhost:8080/v1"
    default_model = "default"
    hints = LLAMACPP_HINTS

    def _request(self, messages, max_tokens, temperature):
        return {**super()._request(messages, max_tokens, temperature), "extra_body": dict(LLAMACPP_FIELDS)}


def llamacpp_with_hints(hints: dict) -> type:
    """StudentLlamaCpp with other hints (the same class otherwise)."""
    return type("LlamaCppWithHints", (StudentLlamaCpp,), {"hints": hints})


class NoExtraBody(StudentLlamaCpp):
    """Its own hints, but the request is the parent's: no cache_prompt."""

    def _request(self, messages, max_tokens, temperature):
        return OpenAIProvider._request(self, messages, max_tokens, temperature)


class LlamaCppStub(OpenAIProvider):
    """Notebook 12's student copy before any TODO is done."""

    name = "llamacpp"
    default_base_url = "http://localhost:8080/v1"
    default_model = "default"

    @property
    def hints(self):
        raise NotImplementedError("TODO: write this part")

    def _request(self, messages, max_tokens, temperature):
        raise NotImplementedError("TODO: write this part")


from workbook.ai.providers.openai import OpenAIProvider  # noqa: E402 - only this class needs it


class IgnoresOpenAIApi(OpenAIProvider):
    """Speaks chat completions whatever AI__OPENAI_API says."""

    def __init__(self, settings=None, **kwargs):
        super().__init__(settings.with_(openai_api="chat_completions"), **kwargs)
