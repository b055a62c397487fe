"""``openai``: the OpenAI chat completions API through ``openai.AsyncOpenAI``; also the base of
every OpenAI-compatible entry (vLLM, LM Studio...) and of Azure OpenAI. ``_openai_sdk`` builds the
client on the shared transport and maps the SDK's failures; retries are ``answer_call``'s, not the
SDK's (which would wait out a Retry-After of up to 120 s whatever AI__TIMEOUT_S says).
"""

from __future__ import annotations

import openai

from .. import catalog, errors
from ..settings import AISettings, display_url, env_name
from ..structured import OutputSchema
from ..types import Message, Usage
from ._http import guarded_url
from ._openai_sdk import (RegistryFact, SdkClientOwner, check_key, create, ended_early, entry_class,
                          entry_of_subclass, stream_error, text_of, translate)
from .openai_responses import or_responses_api
from .base import Answer, RemoteProvider, StreamInfo, answer_call, stream_call


class OpenAIProvider(SdkClientOwner, RemoteProvider):
    name = "openai"
    # From the registry entry named ``name`` (a subclass may set its own).
    default_base_url, default_model = RegistryFact("default_url"), RegistryFact("default_model")
    url_field, key_field = RegistryFact("url_field"), RegistryFact("key_field")  # openai_base_url...
    url_variable = RegistryFact("url_field", env_name)  # AI__OPENAI_BASE_URL, AI__VLLM_BASE_URL...
    # response_format's "strict": OpenAI and Azure OpenAI then enforce the schema exactly and
    # refuse (400) one that breaks strict mode's rules (base checks it before sending). vLLM and
    # LM Studio enforce any schema their grammar engine compiles, strict or not: they send false.
    strict_schema = True
    hints = {
        "auth": "Check AI__OPENAI_API_KEY (create a key at platform.openai.com).",
        "not_found": "Check AI__MODEL against the models your key can use (GET /v1/models).",
        "unavailable": "Check AI__OPENAI_BASE_URL and your network; is the server running?",
    }

    def __init__(self, settings: AISettings | None = None, *, http_client=None):
        self.settings = settings = settings or AISettings(provider=self.name)
        self.model = self._model_name(settings)
        self.base_url = self._base_url(settings)
        self._url, self._url_headers, url_secrets = guarded_url(self.base_url)
        self._secrets = [*settings.secret_values(), *url_secrets]
        check_key(self, settings.secret(self.key_field))
        self._http_client = http_client  # a caller's own: theirs to manage
        self._client = self._connect(http_client)  # _build_client's, on the shared transport

    def _build_client(self, settings: AISettings, http_client):
        return openai.AsyncOpenAI(
            api_key=settings.secret(self.key_field) or "not-needed",  # a local server needs none; the SDK does
            base_url=self._url, default_headers=self._url_headers or None,
            timeout=settings.timeout_s, max_retries=0, http_client=http_client)

    @answer_call
    @or_responses_api  # AI__OPENAI_API=responses: the Responses API's translation instead
    async def chat(self, messages: list[Message], *, max_tokens: int, temperature: float,
                   schema: OutputSchema | None = None) -> Answer:
        # Outside the SDK's try: a subclass's unfinished _request (a TODO) is its own error.
        request = self._request(messages, max_tokens, temperature)
        try:
            completion = await create(self, **request, **self._schema_field(schema))
            choice = completion.choices[0]
            content = text_of(self, choice.message.content, '"message.content" is a {}, not text')
        except Exception as error:  # every SDK failure becomes a typed workbook error
            raise translate(self, error) from None
        usage = completion.usage
        return Answer(content or "", completion.model,
                      Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
                      choice.finish_reason)

    @stream_call
    @or_responses_api
    async def chat_stream(self, messages: list[Message], *, max_tokens: int, temperature: float):
        request = self._request(messages, max_tokens, temperature)  # outside the try, as in chat
        try:
            chunks = await create(self, **request, stream=True, stream_options={"include_usage": True})
        except Exception as error:
            raise translate(self, error) from None
        parsed = received = 0  # chunks read in the OpenAI format / those carrying text
        ended = False  # the finish_reason arrived: only the usage chunk and [DONE] may follow
        try:
            async for chunk in chunks:
                if chunk.usage is not None:
                    yield StreamInfo(usage=Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens))
                for choice in chunk.choices:
                    text = choice.delta and text_of(self, choice.delta.content,
                                                    f'a "delta.content" that is a {{}}, not text, after {received} chunks')
                    if text and not ended:
                        received += 1
                        yield text
                    if choice.finish_reason and not ended:
                        ended = True
                        yield StreamInfo(choice.finish_reason, model=chunk.model)
                parsed += 1
        except Exception as error:
            raise stream_error(self, error, received) from None
        finally:
            await chunks.close()
        if not ended:  # the SDK ends silently when the server closes the stream early
            raise ended_early(self, parsed, received)

    def _request(self, messages: list[Message], max_tokens: int, temperature: float) -> dict:
        # The catalogue knows models, not Azure's deployment names: AI__MODEL names the model.
        limit_field = catalog.token_limit_field(self.settings.model or self.model)
        request = {"model": self.model, "messages": [{"role": m.role, "content": m.content} for m in messages],
                   limit_field: max_tokens, "temperature": temperature}
        if limit_field == "max_completion_tokens":
            # OpenAI's reasoning models (GPT-5 on) would spend the completion budget thinking,
            # and accept a temperature other than 1 only with reasoning turned off.
            request["reasoning_effort"] = "none"
        return request

    def _schema_field(self, schema: OutputSchema | None) -> dict:
        """``response_format``'s field, apart from ``_request`` (exercise 12 overrides that)."""
        # verified 2026-12-01: OpenAI API reference, chat completions `response_format`
        # {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}; Azure OpenAI takes the
        # same object (learn.microsoft.com "Structured outputs", api-version 2024-08-01-preview on,
        # and v1); LM Studio's /v1/chat/completions "follows the same format" (lmstudio.ai/docs
        # "Structured Output"); vLLM's OpenAI-compatible server accepts it too (docs.vllm.ai
        # "Structured Outputs", beside its own structured_outputs extra field).
        return {} if schema is None else {"response_format": {"type": "json_schema", "json_schema": {
            "name": schema.name, "schema": schema.schema, "strict": self.strict_schema}}}

    # -- errors: what the SDK's failures mean here (mapped in _openai_sdk) ---------------
    def _not_openai_format(self, what: str) -> errors.ProviderError:
        return errors.ProviderError(
            f"the answer from {self._where()} is not in the OpenAI format ({what})", provider=self.name,
            hint=f"Check that {self.url_variable} points at an OpenAI-compatible server; "
                 "if it does, retry (the answer may have been damaged on the way).")

    def _wrong_url_hint(self) -> str:
        return f"Check {self.url_variable}: an OpenAI-compatible base URL usually ends in /v1."

    # -- settings and lifetime ----------------------------------------------------------
    def _model_name(self, settings: AISettings) -> str:
        return settings.model or self.default_model or ""

    def _base_url(self, settings: AISettings) -> str | None:
        return getattr(settings, self.url_field) or self.default_base_url  # user:password split off above

    def _where(self) -> str:
        return display_url(self.base_url) or "api.openai.com"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self._where()!r})"

    # An entry naming no class is built as this one under its name; a subclass registered at
    # run time gets an entry of its own (AI__<NAME>_BASE_URL): see _openai_sdk.
    for_entry, registry_entry = classmethod(entry_class), classmethod(entry_of_subclass)
