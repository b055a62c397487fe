"""Which providers exist: the one place that knows each provider's facts.

A ``ProviderSpec`` says where a provider's code lives, which wire protocol it speaks,
which settings it needs, which settings hold its URL and key, its default URL and model,
its error hints and the ``AI__*`` variables that point it at the emulator. Settings
validation, the factory, ``doctor``/``workbook.probe``, the picker, the emulator, the
conformance checker and the price lookup all read it, so adding an OpenAI-compatible
server is one ``openai_compatible(...)`` entry here (or one ``register_provider`` call):
it is configured by ``AI__<NAME>_BASE_URL`` and ``AI__<NAME>_API_KEY``, and needs a class
file only when the server really behaves differently.

Built-in providers are named by ``"module:Class"`` strings so that ``import workbook.ai``
imports no SDK: the module is imported only when that provider is built.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from . import catalog

Requirement = Callable[[Any], list[str]]  # settings -> names of the fields still missing

# One spelling per wire protocol, used by the emulator's log and faults, the conformance
# checker and the registry alike.
PROTOCOLS = ("openai", "azure_openai", "ollama", "bedrock")

# In emulator_env values, "{url}" is the emulator's root URL and "{key}" its API key.
# The machines a self-hosted server runs on, which compare.prices prices per hour.
HOSTING = ("cpu", "gpu")


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    target: str | Callable[..., Any] | None  # "module:Class", the class / callable itself, or
    # None: an OpenAI-compatible entry built as OpenAIProvider (see provider_factory)
    protocol: str | None = None  # one of PROTOCOLS; None: no wire protocol the workbook knows
    required: tuple[str, ...] = ()
    check: Requirement | None = None  # extra, conditional requirements
    description: str = ""
    url_field: str | None = None  # the setting holding the URL it talks to
    key_field: str | None = None  # the setting holding its API key, if it has one
    default_url: str | None = None
    default_model: str | None = None
    emulator_env: Mapping[str, str] = field(default_factory=dict)  # AI__* values, see above
    in_process: bool = False  # runs inside this Python process: no server to probe or call
    hosting: str | None = None  # one of HOSTING when it is self-hosted (priced per hour); None: an API
    hints: Mapping[str, str] = field(default_factory=dict)  # error kind -> one line; a class's own win
    strict_schema: bool = True  # OpenAI-style: response_format "strict" (see providers/openai.py)

    def env_for_emulator(self, url: str, key: str) -> dict[str, str]:
        """The variables that point this provider at an emulator at ``url``."""
        return {"AI__PROVIDER": self.name,
                **{name: value.format(url=url, key=key) for name, value in self.emulator_env.items()}}


def openai_compatible(name: str, target: str | Callable[..., Any] | None = None, *, default_url: str,
                      default_model: str | None = None, needs_key: bool = False,
                      hints: Mapping[str, str] | None = None, strict_schema: bool = False,
                      description: str = "", check: Requirement | None = None,
                      hosting: str | None = None, emulator_path: str = "/v1") -> ProviderSpec:
    """The entry of a server speaking the OpenAI API (vLLM, LM Studio, Groq...).

    Its URL is ``AI__<NAME>_BASE_URL`` (default ``default_url``), its key
    ``AI__<NAME>_API_KEY`` (required when ``needs_key``). ``target``: a class only for a
    server that behaves differently; without one the factory builds ``OpenAIProvider``
    under this name with these ``hints`` ("auth", "not_found", "unavailable": one line
    each). ``strict_schema``: does the server take response_format's strict mode (a paid
    API) or enforce any schema by grammar (self-hosted, the default)? ``hosting``: the
    machine a self-hosted server runs on (``"cpu"``/``"gpu"``), None for a paid API.
    ``emulator_path``: where the emulator answers as this server does (``/vllm/v1``: in vLLM's
    error shapes), else as OpenAI does."""
    variable = f"AI__{name.upper()}"
    url_field, key_field = f"{name}_base_url", f"{name}_api_key"
    return ProviderSpec(
        name, target, protocol="openai", required=(key_field,) if needs_key else (), check=check,
        description=description or f"{name} (OpenAI-compatible)",
        url_field=url_field, key_field=key_field, default_url=default_url,
        default_model=default_model, hosting=hosting, hints=MappingProxyType(dict(hints or {})),
        strict_schema=strict_schema,
        # The key is given even to a server that needs none: one that does is built as well.
        emulator_env={f"{variable}_BASE_URL": "{url}" + emulator_path, f"{variable}_API_KEY": "{key}",
                      "AI__MODEL": "smollm2"})


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
    ProviderSpec("azure_openai", f"{_PROVIDERS}.azure_openai:AzureOpenAIProvider", protocol="azure_openai",
                 check=_azure_needs,
                 description="Azure OpenAI (deployment-based; api-key or Entra ID auth)",
                 url_field="azure_openai_endpoint", key_field="azure_openai_api_key", default_model=catalog.default_model("azure_openai"),
                 emulator_env={"AI__AZURE_OPENAI_ENDPOINT": "{url}", "AI__AZURE_OPENAI_API_KEY": "{key}",
                               "AI__AZURE_OPENAI_DEPLOYMENT": catalog.default_model("azure_openai")}),
    ProviderSpec("openai", f"{_PROVIDERS}.openai:OpenAIProvider", protocol="openai", check=_openai_key_needed,
                 description="OpenAI API (AI__OPENAI_BASE_URL: another address serving it)",
                 url_field="openai_base_url", key_field="openai_api_key", default_url="https://api.openai.com/v1",
                 default_model=catalog.default_model("openai"),
                 emulator_env={"AI__OPENAI_BASE_URL": "{url}/v1", "AI__OPENAI_API_KEY": "{key}",
                               "AI__MODEL": catalog.default_model("openai")}),
    ProviderSpec("bedrock", f"{_PROVIDERS}.bedrock:BedrockProvider", protocol="bedrock",
                 required=("aws_region",),
                 description="AWS Bedrock Converse API (IAM credentials chain)",
                 url_field="bedrock_endpoint_url",
                 default_url="https://bedrock-runtime.{region}.amazonaws.com",
                 default_model=catalog.default_model("bedrock"),
                 emulator_env={"AI__AWS_REGION": "us-east-1", "AI__BEDROCK_ENDPOINT_URL": "{url}",
                               "AI__MODEL": catalog.default_model("bedrock"),
                               "AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator-secret"}),
    ProviderSpec("ollama", f"{_PROVIDERS}.ollama:OllamaProvider", protocol="ollama",
                 description="Ollama native API (/api/chat)",
                 url_field="ollama_base_url", default_url="http://localhost:11434", default_model="llama3.2",
                 hosting="cpu",
                 emulator_env={"AI__OLLAMA_BASE_URL": "{url}", "AI__MODEL": "llama3.2"}),
    openai_compatible("lmstudio", f"{_PROVIDERS}.lmstudio:LMStudioProvider",
                      description="LM Studio's OpenAI-compatible server",
                      default_url="http://localhost:1234/v1", hosting="cpu",
                      default_model="local-model"),  # LM Studio answers with whichever model is loaded
    openai_compatible("vllm", check=_model_needed,
                      description="vLLM's OpenAI-compatible server",
                      default_url="http://localhost:8000/v1",  # no default model: it serves one
                      hosting="gpu", emulator_path="/vllm/v1",
                      hints={"auth": "The server was started with --api-key: set AI__VLLM_API_KEY to it.",
                             "not_found": "AI__MODEL must be the model vLLM serves (see GET /v1/models).",
                             "unavailable": "Start it: `vllm serve MODEL` (or set AI__VLLM_BASE_URL)."}),
    ProviderSpec("local", f"{_PROVIDERS}.local:LocalProvider",
                 description="SmolLM2-135M-Instruct in-process (llama.cpp)", in_process=True,
                 hosting="cpu"),
    ProviderSpec("mock", f"{_PROVIDERS}.mock:MockProvider",
                 description="Scripted replies, no network", in_process=True),
)

_registry: dict[str, ProviderSpec] = {spec.name: spec for spec in _BUILTINS}


def builtin_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in _BUILTINS)


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


def specs() -> list[ProviderSpec]:
    return list(_registry.values())


def names_speaking(protocol: str) -> list[str]:
    """The registered providers that speak wire ``protocol``."""
    return [spec.name for spec in _registry.values() if spec.protocol == protocol]


def network_names() -> list[str]:
    """The registered providers that call a server over HTTP (each speaks one of
    ``PROTOCOLS``): what the fault matrix, the secret search and the emulator cover."""
    return [spec.name for spec in _registry.values()
            if spec.protocol in PROTOCOLS and not spec.in_process and spec.url_field is not None]


def openai_compatible_names() -> list[str]:
    """The registered providers that speak the OpenAI API to a URL of their own (what
    ``python -m workbook serve`` prints settings for)."""
    return [spec.name for spec in _registry.values()
            if spec.protocol == "openai" and spec.url_field is not None]


def provider_factory(spec: ProviderSpec) -> Callable[..., Any]:
    """What builds ``spec``'s provider: its class (a ``"module:Class"`` imported now), or,
    for an OpenAI-compatible entry without one, ``OpenAIProvider`` under the entry's name."""
    target = spec.target
    if target is None:
        from .providers.openai import OpenAIProvider

        return OpenAIProvider.for_entry(spec.name)
    if isinstance(target, str):
        import importlib

        module_name, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)
    return target


def _bad_name(name: Any):
    from .errors import ConfigurationError

    return ConfigurationError(f"provider name {name!r} must be a simple identifier",
                              provider="config", hint="Use letters, digits and underscores.")


def register_provider(name: str | ProviderSpec, factory: str | Callable[..., Any] | None = None, *,
                      required: Iterable[str] = (), description: str = "", **spec_fields: Any) -> None:
    """Make ``AI__PROVIDER=name`` build ``factory``.

    ``factory`` is a provider class, any callable, or a ``"module:Class"`` string; it
    receives the ``AISettings`` if it takes an argument, nothing otherwise. ``required``
    lists setting names (``"model"``, ``"ollama_base_url"``…) that must be set before it
    is built. Other ``ProviderSpec`` fields (``protocol``, ``url_field``, ``default_url``,
    ``default_model``, ``emulator_env``) may be given by keyword, or pass a whole
    ``ProviderSpec`` instead of a name. Registering a built-in name replaces it (an
    exercise's own ``ollama``) and keeps its wire facts; ``unregister_provider`` restores it.
    """
    if isinstance(name, ProviderSpec):
        spec = name
        key = spec.name.strip().lower()
        if not key.isidentifier():
            raise _bad_name(spec.name)
        _registry[key] = replace(spec, name=key)
        return
    key = str(name).strip().lower()
    if not key.isidentifier():
        raise _bad_name(name)
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise TypeError("factory must be a provider class, a callable returning a provider, "
                        "or a 'module:Class' string")
    unknown = set(spec_fields) - set(ProviderSpec.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown provider spec field(s): {', '.join(sorted(unknown))}")
    # A built-in name keeps its wire facts; a class that says which entry it needs (an
    # OpenAIProvider subclass: OpenAI-compatible, with AI__<NAME>_* settings) gets that one.
    builtin = next((spec for spec in _BUILTINS if spec.name == key), None)
    own = getattr(factory, "registry_entry", None) if inspect.isclass(factory) else None
    like = builtin or (own(key) if own is not None else None)
    inherited = ({k: getattr(like, k) for k in ("protocol", "url_field", "key_field", "default_url",
                                                  "default_model", "emulator_env", "in_process",
                                                  "hosting", "hints", "strict_schema")}
                 if like else {})
    _registry[key] = ProviderSpec(
        key, factory, required=tuple(required),
        description=description or getattr(factory, "__doc__", "") or "",
        **{**inherited, **spec_fields},
    )


def unregister_provider(name: str) -> None:
    """Forget a registered provider; a replaced built-in comes back."""
    key = str(name).strip().lower()
    builtin = next((spec for spec in _BUILTINS if spec.name == key), None)
    if builtin is not None:
        _registry[key] = builtin
    else:
        _registry.pop(key, None)


def provider_url(settings, name: str) -> str | None:
    """The URL provider ``name`` would talk to under ``settings``; ``None`` if it has none."""
    spec = get_spec(name)
    if spec is None or spec.url_field is None:
        return None
    url = getattr(settings, spec.url_field, None)
    default = (spec.default_url or "").format(region=getattr(settings, "aws_region", None) or "us-east-1")
    return url or default or None
