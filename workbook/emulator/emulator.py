"""``Emulator``: the public face -- start, point a provider at it, inject faults, read the log."""

from __future__ import annotations

import os
from typing import Any

from ..ai import catalog
from .responders import make_responder
from .exchange import RecordedRequest
from .faults import Fault
from .server import ServerThread, State, build_app

# Local model names, and every cloud model of the catalogue (with Bedrock's profile ids),
# so a provider configured from the catalogue finds its model here.
LOCAL_MODELS = ("smollm2", "llama3.2", "phi3")
DEFAULT_MODELS = LOCAL_MODELS + tuple(dict.fromkeys(
    name for item in catalog.CATALOG for name in (item.id, *item.profiles.values())))
# Azure deployments are named by whoever deploys; the course names them after the model.
DEFAULT_DEPLOYMENTS = tuple(dict.fromkeys(
    item.id for item in catalog.CATALOG if item.provider in ("openai", "azure_openai")))
# As the catalogue says: retired ids answer "end of its life", profile-only ids want a profile.
CATALOG_LIFECYCLE = {item.id: item.lifecycle for item in catalog.CATALOG
                     if item.provider == "bedrock" and item.lifecycle != "ACTIVE"}
CATALOG_PROFILE_ONLY = tuple(item.id for item in catalog.CATALOG
                             if item.provider == "bedrock" and not item.on_demand)
API_KEY = "emulator-key"
# The emulators running in this process, by URL: what lets a caption tell an answer the emulator
# gave (canned text, whatever model name the provider sent) from a real service's.
_RUNNING: dict[str, "Emulator"] = {}


def emulator_serving(url: str | None) -> "Emulator | None":
    """The emulator of this process that ``url`` points at (any path under its address), else ``None``."""
    if not url:
        return None
    return next((emulator for base, emulator in list(_RUNNING.items())
                 if url == base or url.startswith(base + "/")), None)


def env_providers() -> list[str]:
    """Every registered provider: wire ones get the emulator's URL, in-process ones nothing."""
    from ..ai.registry import provider_names

    return provider_names()


class Emulator:
    """A local server speaking the OpenAI, Azure OpenAI, Ollama and Bedrock protocols.

    ``with Emulator() as emu:`` starts it on a free port of 127.0.0.1; ``emu.env("ollama")``
    gives the ``AI__*`` variables that point that provider here.
    """

    def __init__(self, backend: str = "scripted", *, port: int = 0, ttft_s: float = 0.0,
                 tokens_per_s: float = 2000.0, models: tuple[str, ...] = DEFAULT_MODELS,
                 deployments: tuple[str, ...] = DEFAULT_DEPLOYMENTS, api_key: str = API_KEY,
                 lifecycle: dict[str, str] | None = None,
                 profile_only: tuple[str, ...] = CATALOG_PROFILE_ONLY):
        """``lifecycle`` maps Bedrock model ids to ``ACTIVE``/``LEGACY``/``EOL`` (default: the
        catalogue's); ``profile_only`` lists base ids Bedrock serves only through a profile."""
        self.backend_name = backend
        lifecycle = dict(CATALOG_LIFECYCLE if lifecycle is None else lifecycle)
        unknown = {status for status in lifecycle.values()} - {"ACTIVE", "LEGACY", "EOL"}
        if unknown:
            raise ValueError(f"lifecycle status must be ACTIVE, LEGACY or EOL, not {sorted(unknown)}")
        # A configured id must be one the server has, or the lifecycle would never show.
        models = tuple(dict.fromkeys((*models, *lifecycle, *profile_only)))
        self.state = State(make_responder(backend, ttft_s=ttft_s, tokens_per_s=tokens_per_s),
                           models, tuple(deployments), api_key,
                           lifecycle=lifecycle, profile_only=frozenset(profile_only))
        self._server = ServerThread(build_app(self.state), port=port)
        self._replaced_environment: dict[str, str | None] | None = None  # see settings()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"Emulator(backend={self.backend_name!r}, {where})"

    # lifecycle --------------------------------------------------------------------------
    def start(self) -> "Emulator":
        if not self.running:
            self._server.start()
            _RUNNING[self.url] = self
        return self

    def stop(self) -> None:
        if self._server.port is not None:
            _RUNNING.pop(self.url, None)
        self._server.stop()
        if self._replaced_environment is not None:
            from .aws import restore_environment

            restore_environment(self._replaced_environment)
            self._replaced_environment = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server.running

    @property
    def port(self) -> int:
        if self._server.port is None:
            raise RuntimeError("the emulator is not started: call start() or use `with`")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # faults and log ---------------------------------------------------------------------
    def inject(self, fault: str, times: int = 1, **options: Any) -> Fault:
        """The next ``times`` model requests answer with ``fault`` in their protocol's shape.

        ``protocol="openai"|"azure_openai"|"ollama"|"bedrock"`` limits which requests consume it.
        """
        return self.state.faults.inject(fault, times, **options)

    def reset(self) -> None:
        self.state.faults.clear()
        self.state.log.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.log.snapshot()

    # configuration ----------------------------------------------------------------------
    def env(self, provider: str) -> dict[str, str]:
        """The variables that point ``provider`` here, as its registry entry says."""
        from ..ai.registry import get_spec

        spec = get_spec(provider)
        if spec is None:
            raise ValueError(f"unknown provider {provider!r}; valid names: {', '.join(env_providers())}")
        return spec.env_for_emulator(self.url, self.state.api_key)

    def settings(self, provider: str):
        """Validated settings pointing ``provider`` here. Variables that are not settings
        (Bedrock's dummy AWS keys) go into the environment, only where no AWS credentials
        are configured, until the emulator stops: ``emu.settings("bedrock")`` works alone."""
        from ..ai.settings import PREFIX, settings_from_mapping
        from .aws import aws_credentials_configured

        env = self.env(provider)
        outside = {name: value for name, value in env.items() if not name.startswith(PREFIX)}
        if outside and not aws_credentials_configured():
            # What was there before the first change is what stop() puts back. (A Bedrock
            # bearer token is left alone: its own error says to unset it.)
            self._replaced_environment = {**{name: os.environ.get(name) for name in outside},
                                          **(self._replaced_environment or {})}
            os.environ.update(outside)
        return settings_from_mapping(env)
