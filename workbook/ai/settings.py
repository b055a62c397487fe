"""Settings from ``AI__*`` environment variables and ``.env``.

Field names are the variable names lower-cased without ``AI__``: ``AI__OLLAMA_BASE_URL``
is ``settings.ollama_base_url``. Each OpenAI-compatible registry entry adds two of its own,
``<name>_base_url`` and ``<name>_api_key`` (``AI__VLLM_BASE_URL``): they are read from the
registry, so an entry registered at run time is configured the same way. Secrets are
``SecretStr``: masked in ``repr``/``str``.
Invalid values raise ``ConfigurationError`` naming the variable; values a provider
*needs* but nobody set are reported when that provider is built (see ``factory``).
"""

from __future__ import annotations

import difflib
import io
import os
import re
import warnings
from enum import Enum
from urllib.parse import urlsplit
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

from pydantic import (BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo,
                      field_serializer, field_validator, model_serializer)
from pydantic_core import PydanticCustomError

from .errors import ConfigurationError
from .types import MAX_TOKENS_LIMIT

PREFIX = "AI__"


def _provider_type() -> type[Enum]:
    """The public enum of the built-in providers (shared/DESIGN.md), made from the registry
    so that a new built-in provider needs no second list here."""
    from .registry import builtin_names

    members = Enum("ProviderType", [(name.upper(), name) for name in builtin_names()], type=str,
                   module=__name__)
    members.__str__ = lambda self: self.value
    return members


ProviderType = _provider_type()


def env_name(field_name: str) -> str:
    """``ollama_base_url`` -> ``AI__OLLAMA_BASE_URL``."""
    return PREFIX + field_name.upper()


_URL_FIELDS = ("azure_openai_endpoint", "openai_base_url", "bedrock_endpoint_url", "ollama_base_url")

# Where what people put in a URL's query string belongs instead. A query string is refused:
# the SDKs append their paths after it (``/v1?k=1/chat/completions``), and a key in a URL
# shows wherever the URL does (httpx's INFO log, errors, tables).
_QUERY_STRING_HINTS = {
    "azure_openai_endpoint": "Use only https://<resource>.openai.azure.com in "
                             "AI__AZURE_OPENAI_ENDPOINT; the key goes in AI__AZURE_OPENAI_API_KEY, "
                             "the api-version in AI__AZURE_OPENAI_API_VERSION.",
    "bedrock_endpoint_url": "AWS credentials come from the AWS chain (aws configure, AWS_PROFILE), "
                            "not the URL: leave only scheme, host and port in AI__BEDROCK_ENDPOINT_URL.",
    "ollama_base_url": "Leave only scheme, host, port and path in AI__OLLAMA_BASE_URL; a proxy's "
                       "credentials go before the host (http://user:password@host:11434), "
                       "where they are sent as a header and never shown.",
}
# Characters that end or split a URL or a header inside an SDK: named, since they are invisible.
_INVISIBLE_NAMES = {"\t": "a tab", "\n": "a line break (LF)", "\r": "a carriage return (CR)",
                      "\x00": "a NUL character", " ": "a space"}
_SECRET_FIELDS = ("azure_openai_api_key", "openai_api_key")


def _query_string_hint(field_name: str) -> str:
    if field_name in _QUERY_STRING_HINTS:
        return _QUERY_STRING_HINTS[field_name]
    # An OpenAI-style base URL: openai's own, or an OpenAI-compatible entry's.
    key = env_name(field_name.removesuffix("_base_url") + "_api_key")
    return (f"Put the key in {key} and leave only scheme, host, port and path "
            f"(e.g. http://localhost:8000/v1) in {env_name(field_name)}.")


def entry_fields() -> dict[str, str]:
    """The settings the registry's OpenAI-compatible entries add: field -> "url" or "key"
    (``vllm_base_url`` -> "url"). Declared fields (openai's own) are not among them."""
    from .registry import specs

    found = {}
    for spec in specs():
        for field_name, kind in ((spec.url_field, "url"), (spec.key_field, "key")):
            if field_name and field_name not in AISettings.model_fields:
                found[field_name] = kind
    return found


def setting_names() -> list[str]:
    """Every setting's field name: the declared ones and the registry entries' own."""
    return [*AISettings.model_fields, *entry_fields()]


def is_setting(name: str) -> bool:
    return name in AISettings.model_fields or name in entry_fields()


def is_url_field(name: str) -> bool:
    return name in _URL_FIELDS or entry_fields().get(name) == "url"


def _entry_value(field_name: str, kind: str, value: Any) -> Any:
    """An entry setting's value validated as its declared twin (``openai_base_url`` /
    ``openai_api_key``) would be; ValueError / PydanticCustomError if it is wrong."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError("must be text")
    if kind == "key":
        return SecretStr(value)
    return _checked_url(value, field_name)


def _shown_name(name: str) -> str:
    """A provider name fit to print: a long or odd value may be a key pasted into the wrong
    variable, so only its length is shown."""
    if len(name) <= 24 and re.fullmatch(r"[a-z][a-z0-9_]*", name):
        close = difflib.get_close_matches(name, _known_names(), n=1)
        return repr(name) + (f" (did you mean {close[0]!r}?)" if close else "")
    return f"(a value of {len(name)} characters, not shown: it may be a secret)"


def _known_names() -> list[str]:
    from .registry import provider_names

    return provider_names()


class AISettings(BaseModel):
    """Everything a provider needs; see ``.env.example`` for what each field means."""

    # "allow": the registry's OpenAI-compatible entries add settings of their own (see
    # entry_fields); __init__ refuses every other unknown name.
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    provider: str = ProviderType.LOCAL.value
    model: str | None = None
    max_tokens: int = Field(512, gt=0, le=MAX_TOKENS_LIMIT)
    temperature: float = Field(0.7, ge=0.0, le=2.0, allow_inf_nan=False)
    timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False, le=86_400)
    max_retries: int = Field(2, ge=0, le=10)

    azure_openai_endpoint: str | None = None
    azure_openai_api_key: SecretStr | None = None
    azure_openai_deployment: str | None = None
    # "v1": the /openai/v1 path, current since August 2025 and free of dated versions
    # (learn.microsoft.com/azure/foundry/openai/api-version-lifecycle, read 2026-11-30).
    # A dated version such as 2024-10-21 selects the older deployments path.
    azure_openai_api_version: str = "v1"
    # "key": the resource's api-key; "entra": Microsoft Entra ID through azure-identity.
    azure_openai_auth: Literal["key", "entra"] = "key"

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    # Which OpenAI API the OpenAI-style providers (openai, azure_openai, every OpenAI-compatible
    # entry) call: chat completions, or the Responses API the vendors now recommend.
    openai_api: Literal["chat_completions", "responses"] = "chat_completions"

    aws_region: str | None = None
    bedrock_endpoint_url: str | None = None

    ollama_base_url: str = "http://localhost:11434"

    local_model_path: str | None = None
    local_threads: int = Field(1, ge=1, le=64)
    # A LoRA adapter (GGUF, e.g. from `python -m workbook finetune`) applied to the local model.
    local_lora_path: str | None = None

    mock_ttft_s: float = Field(0.05, ge=0.0, le=60.0, allow_inf_nan=False)
    mock_tokens_per_s: float = Field(200.0, gt=0.0, allow_inf_nan=False)

    def __init__(self, **data: Any):
        problems, hint = _entry_problems(data)
        try:
            super().__init__(**data)
        except ValidationError as error:
            more, hint = _problems(error, hint)
            problems += more
        if problems:
            raise _settings_error(problems, hint) from None

    def __getattr__(self, name: str) -> Any:
        # An entry's setting nobody set is None, as a declared field's default would be.
        if name in entry_fields():
            return (object.__getattribute__(self, "__pydantic_extra__") or {}).get(name)
        return super().__getattr__(name)

    @field_validator("provider", mode="before")
    @classmethod
    def _known_provider(cls, value: Any) -> str:
        from .registry import provider_names

        name = value.value if isinstance(value, ProviderType) else str(value).strip().lower()
        if name not in provider_names():
            raise ValueError(
                f"unknown provider {_shown_name(name)}; valid names: {', '.join(provider_names())}"
            )
        return name

    @field_validator(*_URL_FIELDS)
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _checked_url(value, info.field_name)

    @field_validator("model", "azure_openai_deployment", "aws_region", "azure_openai_api_version")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        # These travel in request paths and headers, where a tab or line break fails raw.
        if value is not None:
            _refuse_control_characters(value, "a name")
        return value

    @field_validator("azure_openai_auth", "openai_api", mode="before")
    @classmethod
    def _auth_word(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("model", "azure_openai_deployment", "aws_region", "local_model_path",
                     "local_lora_path",
                     "azure_openai_api_key", "openai_api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_serializer(*_URL_FIELDS)
    def _url_without_password(self, value: str | None) -> str | None:
        return display_url(value)

    @field_serializer(*_SECRET_FIELDS, when_used="always")
    def _secret_masked(self, value: SecretStr | None) -> str | None:
        # model_dump() would otherwise hand out the SecretStr, whose value is one call away.
        return None if value is None else "**********"

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).model_fields and name in entry_fields():
            problems, hint = _entry_problems({name: value})
            if problems:
                raise _settings_error(problems, hint)
            self.__pydantic_extra__[name] = _entry_value(name, entry_fields()[name], value)
            return
        try:
            super().__setattr__(name, value)
        except ValidationError as error:
            raise _settings_error(*_problems(error)) from None

    def with_(self, **changes: Any) -> "AISettings":
        """A validated copy with some fields changed: ``settings.with_(provider="mock")``."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update({name: value for name, value in (self.__pydantic_extra__ or {}).items()
                       if value is not None})
        values.update(changes)
        return AISettings(**values)

    def __repr_args__(self):
        # URLs may carry user:password@ (an Ollama behind a proxy): never show it.
        for name, value in super().__repr_args__():
            yield name, (display_url(value) if is_url_field(name) else value)

    @model_serializer(mode="wrap")
    def _entries_masked(self, handler):
        # Field serializers mask the declared secrets and URLs; an entry's are extras.
        dumped = handler(self)
        for name in (self.__pydantic_extra__ or {}):
            if name in dumped:
                dumped[name] = _shown(name, getattr(self, name))
        return dumped

    def public_dict(self) -> dict[str, Any]:
        """Field values for display: secrets shown only as set/unset, never their value."""
        return {name: _shown(name, getattr(self, name)) for name in setting_names()}

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    def secret_values(self) -> list[str]:
        """Every secret these settings hold (what an error message must never show)."""
        values = (getattr(self, name) for name in setting_names())
        return [value.get_secret_value() for value in values
                if isinstance(value, SecretStr) and value.get_secret_value()]


def _shown(name: str, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "**********"
    return display_url(value) if is_url_field(name) else value


URL_FIELDS = _URL_FIELDS


def _checked_url(value: str, field_name: str) -> str:
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be a URL starting with http:// or https://")
    _refuse_control_characters(value, "a URL", space_too=True)
    try:
        parts = urlsplit(value)
        parts.port  # raises for a port that is not a number in 0-65535
    except ValueError:
        raise ValueError("has an invalid port (use a number up to 65535)") from None
    if not parts.hostname:
        raise ValueError("has no host name (e.g. http://localhost:11434)")
    if "?" in value or "#" in value:
        # The value is never echoed: the query string may be the very key to hide.
        raise PydanticCustomError(
            "url_query", "has a query string or fragment (?... or #...), which a base URL must not have",
            {"hint": _query_string_hint(field_name)})
    return value.rstrip("/")


def _refuse_control_characters(value: str, kind: str, *, space_too: bool = False) -> None:
    """A ValueError naming the first invisible character of ``value`` and where it is."""
    lowest = 0x21 if space_too else 0x20
    odd = next((i for i, char in enumerate(value) if ord(char) < lowest or ord(char) == 0x7F), None)
    if odd is not None:
        what = _INVISIBLE_NAMES.get(value[odd], f"the control character U+{ord(value[odd]):04X}")
        raise ValueError(f"contains {what} at character {odd + 1}, which {kind} cannot hold "
                         "(retype the value on one line)")


def display_url(url: str | None) -> str | None:
    """``url`` without any ``user:password@`` part, for reprs, tables and errors."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


SECRET_FIELDS = tuple(
    name for name, info in AISettings.model_fields.items()
    if "SecretStr" in str(info.annotation)
)


def _problems(error: ValidationError, hint: str | None = None) -> tuple[list[str], str | None]:
    # Never echo the input: it may be a key pasted into the wrong variable.
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        field = str(item["loc"][0]) if item["loc"] else "?"
        variable = env_name(field) if is_setting(field) else field
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{variable}: {message}")
        hint = item.get("ctx", {}).get("hint", hint)
    return problems, hint


def _entry_problems(data: dict[str, Any]) -> tuple[list[str], str | None]:
    """Check, in place, the names ``data`` gives that are not declared fields: an entry's
    setting is validated (and replaced by its value), any other name is no setting."""
    problems, hint, entries = [], None, entry_fields()
    for name in [name for name in data if name not in AISettings.model_fields]:
        if name not in entries:
            problems.append(f"{name} is not a setting")
            data.pop(name)
            continue
        try:
            data[name] = _entry_value(name, entries[name], data[name])
        except PydanticCustomError as error:
            problems.append(f"{env_name(name)}: {error.message()}")
            hint = (error.context or {}).get("hint", hint)
            data.pop(name)
        except ValueError as error:
            problems.append(f"{env_name(name)}: {error}")
            data.pop(name)
    return problems, hint


def _settings_error(problems: list[str], hint: str | None) -> ConfigurationError:
    return ConfigurationError(
        "invalid settings: " + "; ".join(problems), provider="config",
        hint=hint or "Fix the named variable in your environment or .env (see .env.example).")


def near_misses(names: Iterable[str]) -> list[tuple[str, str]]:
    """(variable, the ``AI__`` name it was probably meant to be) for each name that looks
    like a setting but will be ignored: ``AI_PROVIDER``, ``ai__provider``, ``Ai__Model``."""
    found = []
    for key in names:
        if key.startswith(PREFIX):
            continue  # a real AI__ name: a setting, or an "unknown variable" error
        match = re.fullmatch(r"ai[_\-]+(\w+)", key.replace("-", "_"), flags=re.IGNORECASE)
        if not match:
            continue
        close = difflib.get_close_matches(match.group(1).lower(), setting_names(), n=1, cutoff=0.8)
        if close:
            found.append((key, env_name(close[0])))
    return found


def _warn_near_misses(values: Mapping[str, str]) -> None:
    for key, meant in near_misses(values):
        warnings.warn(f"{key} is ignored: settings are read from {meant} "
                      "(upper case, two underscores after AI)", UserWarning, stacklevel=3)


def settings_from_mapping(values: Mapping[str, str]) -> AISettings:
    """Build settings from ``AI__*`` variables in a mapping; other keys are ignored.

    An ``AI__`` variable that is not a setting is an error naming it (likely a typo); a
    near miss of one (``AI_PROVIDER``, ``ai__provider``) is ignored with a warning.
    """
    _warn_near_misses(values)
    fields: dict[str, Any] = {}
    unknown = []
    for key, value in values.items():
        if not key.startswith(PREFIX) or value is None:
            continue
        name = key[len(PREFIX):].lower()
        if is_setting(name):
            fields[name] = value
        else:
            unknown.append(key)
    if unknown:
        meant = [difflib.get_close_matches(key[len(PREFIX):].lower(), setting_names(), n=1)
                 for key in sorted(unknown)]
        suggestions = [f"{key}: did you mean {env_name(close[0])}?" for key, close in zip(sorted(unknown), meant) if close]
        raise ConfigurationError(
            f"unknown variable(s): {', '.join(sorted(unknown))}"
            + (f" ({'; '.join(suggestions)})" if suggestions else ""),
            provider="config",
            hint="Check the spelling against .env.example (note the double underscore).",
        )
    # An empty variable (``AI__MODEL=``) means "not set", as in most .env tools.
    return AISettings(**{k: v for k, v in fields.items() if str(v).strip() != ""})


def find_env_file(start: Path | None = None) -> Path | None:
    """The nearest ``.env`` in the working directory or above it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".env"
        if candidate.is_file():
            return candidate
    return None


def load_settings(env_file: str | os.PathLike | None = None, *, environ: Mapping[str, str] | None = None,
                  override: bool = False) -> AISettings:
    """Settings from the environment, then ``.env`` (python-dotenv).

    ``env_file``: a specific file (a profile such as ``profiles/ollama.env``); by default the
    nearest ``.env`` at or above the working directory. Environment variables win over the
    file unless ``override=True`` (then the file wins, which is what a profile wants).
    ``environ`` replaces ``os.environ`` (tests, notebooks showing two configurations).
    """
    from dotenv import dotenv_values

    environment = dict(os.environ if environ is None else environ)
    path = Path(env_file) if env_file is not None else find_env_file()
    file_values: dict[str, str] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigurationError(
                f"settings file {path} does not exist", provider="config",
                hint="Copy .env.example to .env, or pass the right path.",
            )
        file_values = {k: v for k, v in dotenv_values(stream=io.StringIO(_read_env_text(path))).items()
                       if v is not None}
    merged = {**environment, **file_values} if override else {**file_values, **environment}
    return settings_from_mapping(merged)


def _read_env_text(path: Path) -> str:
    """The text of a ``.env`` file, which must be UTF-8 (a BOM is allowed): python-dotenv
    would otherwise fail with a bare UnicodeDecodeError naming no file, or -- for UTF-16 --
    read keys with NULs between the letters and find no setting at all."""
    data = path.read_bytes()
    save_as = ("Open it in an editor and save it as UTF-8 (VS Code: the encoding in the status "
               "bar -> Save with Encoding -> UTF-8; Notepad: Save as -> Encoding UTF-8).")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise ConfigurationError(
            f"settings file {path} is saved as UTF-16 (or has NUL bytes), not UTF-8 text",
            provider="config", hint=save_as)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ConfigurationError(
            f"settings file {path} is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} "
            "cannot be read (a file saved as Windows-1252 or Latin-1?)",
            provider="config", hint=save_as) from None
