"""``create_ai_provider``: settings in, a ready provider out.

The factory looks the provider up by name in the registry, checks that every setting it
needs is present (reporting all missing variables at once), imports its module lazily
and builds it. Switching providers is a change of ``AI__PROVIDER``, nothing else.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigurationError
from .registry import accepts_settings, get_spec, provider_factory, provider_names
from .settings import AISettings, env_name, is_setting, load_settings
from .types import AIProvider


def missing_variables(settings: AISettings, provider: str | None = None) -> list[str]:
    """The ``AI__*`` variables ``provider`` (default: ``settings.provider``) still needs."""
    name = str(provider or settings.provider)
    spec = get_spec(name)
    if spec is None:
        raise ConfigurationError(
            f"unknown provider {name!r}; valid names: {', '.join(provider_names())}",
            provider="config", hint="Set AI__PROVIDER to one of the valid names.",
        )
    missing = [field for field in spec.required if getattr(settings, field, None) in (None, "")]
    if spec.check is not None:
        missing += [field for field in spec.check(settings) if field not in missing]
    return [env_name(field) if is_setting(field) else field for field in missing]


def create_ai_provider(settings: AISettings | None = None, **changes: Any) -> AIProvider:
    """Build the provider ``settings.provider`` names.

    ``settings=None`` loads them from the environment and ``.env``. Keyword arguments
    change single settings first: ``create_ai_provider(provider="mock")``.
    """
    if settings is None:
        settings = load_settings()
    if changes:
        settings = settings.with_(**changes)
    name = settings.provider
    missing = missing_variables(settings, name)
    if missing:
        raise ConfigurationError(
            f"provider {name!r} needs {', '.join(missing)}, which "
            + ("is" if len(missing) == 1 else "are") + " not set",
            provider=name,
            hint=f"Set {', '.join(missing)} in .env (see the {name} block in .env.example).",
        )
    factory = provider_factory(get_spec(name))
    provider = factory(settings) if accepts_settings(factory) else factory()
    if not isinstance(provider, AIProvider):
        raise ConfigurationError(
            f"provider {name!r} built a {type(provider).__name__}, which lacks "
            "async chat(...) and chat_stream(...)",
            provider=name, hint="Implement both methods of the AIProvider protocol.",
        )
    return provider
