"""Which providers exist, where their code lives, and which settings each one needs.

Built-in providers are named by ``"module:Class"`` strings so that ``import workbook.ai``
imports no SDK: the module is imported only when that provider is built. A student's
provider registers a class (or any callable) with ``register_provider``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterable

Requirement = Callable[[Any], list[str]]  # settings -> names of the fields still missing


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    target: str | Callable[..., Any]
    required: tuple[str, ...] = ()
    check: Requirement | None = None  # extra, conditional requirements
    description: str = ""
    local_url_field: str | None = None  # the setting holding the URL to probe, if any
    default_url: str | None = None


def _openai_key_needed(settings) -> list[str]:
    # A key is needed for api.openai.com; a local OpenAI-compatible server needs none.
    if settings.openai_base_url is None and settings.openai_api_key is None:
        return ["openai_api_key"]
    return []


def _azure_needs(settings) -> list[str]:
    # With Entra ID sign-in (AI__AZURE_OPENAI_AUTH=entra) there is no key to ask for.
    needed = ["azure_openai_endpoint", "azure_openai_api_key", "azure_openai_deployment"]
    if settings.azure_openai_auth == "entra":
        needed.remove("azure_openai_api_key")
    return [name for name in needed if getattr(settings, name) in (None, "")]


def _model_needed(settings) -> list[str]:
    return [] if settings.model else ["model"]


_PROVIDERS = "workbook.ai.providers"

_BUILTINS: tuple[ProviderSpec, ...] = (
    ProviderSpec("azure_openai", f"{_PROVIDERS}.azure_openai:AzureOpenAIProvider",
                 check=_azure_needs,
                 description="Azure OpenAI (deployment-based; api-key or Entra ID auth)",
                 local_url_field="azure_openai_endpoint"),
    ProviderSpec("openai", f"{_PROVIDERS}.openai:OpenAIProvider", check=_openai_key_needed,
                 description="OpenAI API or any OpenAI-compatible server",
                 local_url_field="openai_base_url", default_url="https://api.openai.com/v1"),
    ProviderSpec("bedrock", f"{_PROVIDERS}.bedrock:BedrockProvider", required=("aws_region",),
                 description="AWS Bedrock Converse API (IAM credentials chain)",
                 local_url_field="bedrock_endpoint_url"),
    ProviderSpec("ollama", f"{_PROVIDERS}.ollama:OllamaProvider",
                 description="Ollama native API (/api/chat)",
                 local_url_field="ollama_base_url", default_url="http://localhost:11434"),
    ProviderSpec("lmstudio", f"{_PROVIDERS}.lmstudio:LMStudioProvider",
                 description="LM Studio's OpenAI-compatible server",
                 local_url_field="openai_base_url", default_url="http://localhost:1234/v1"),
    ProviderSpec("vllm", f"{_PROVIDERS}.vllm:VLLMProvider", check=_model_needed,
                 description="vLLM's OpenAI-compatible server",
                 local_url_field="openai_base_url", default_url="http://localhost:8000/v1"),
    ProviderSpec("local", f"{_PROVIDERS}.local:LocalProvider",
                 description="SmolLM2-135M-Instruct in-process (llama.cpp)"),
    ProviderSpec("mock", f"{_PROVIDERS}.mock:MockProvider",
                 description="Scripted replies, no network"),
)

_registry: dict[str, ProviderSpec] = {spec.name: spec for spec in _BUILTINS}


def accepts_settings(factory: Callable[..., Any]) -> bool:
    """Does ``factory`` take a positional argument (the settings)? A student's class with
    a bare ``__init__(self)`` is built without them."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in parameters)


def provider_names() -> list[str]:
    return list(_registry)


def get_spec(name: str) -> ProviderSpec | None:
    return _registry.get(str(name))


def register_provider(name: str, factory: Callable[..., Any], *, required: Iterable[str] = (),
                      description: str = "") -> None:
    """Make ``AI__PROVIDER=name`` build ``factory``.

    ``factory`` is a provider class or any callable; it receives the ``AISettings`` if it
    takes an argument, nothing otherwise. ``required`` lists setting names (``"model"``,
    ``"ollama_base_url"``…) that must be set before it is built. Registering a built-in
    name replaces it (an exercise's own ``ollama``); ``unregister_provider`` restores it.
    """
    key = str(name).strip().lower()
    if not key.isidentifier():
        from .errors import ConfigurationError

        raise ConfigurationError(f"provider name {name!r} must be a simple identifier",
                                 provider="config", hint="Use letters, digits and underscores.")
    if not callable(factory):
        raise TypeError("factory must be a provider class or a callable returning a provider")
    builtin = next((spec for spec in _BUILTINS if spec.name == key), None)
    _registry[key] = ProviderSpec(
        key, factory, required=tuple(required),
        description=description or getattr(factory, "__doc__", "") or "",
        local_url_field=builtin.local_url_field if builtin else None,
        default_url=builtin.default_url if builtin else None,
    )


def unregister_provider(name: str) -> None:
    """Forget a registered provider; a replaced built-in comes back."""
    key = str(name).strip().lower()
    builtin = next((spec for spec in _BUILTINS if spec.name == key), None)
    if builtin is not None:
        _registry[key] = builtin
    else:
        _registry.pop(key, None)
