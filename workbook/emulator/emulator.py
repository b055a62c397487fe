"""``Emulator``: the public face -- start, point a provider at it, inject faults, read the log."""

from __future__ import annotations

from typing import Any

from ..ai.registry import builtin_names
from .responders import make_responder
from .exchange import RecordedRequest
from .faults import Fault
from .server import ServerThread, State, build_app

DEFAULT_MODELS = (
    "gpt-4o-mini", "gpt-4o", "smollm2", "llama3.2", "phi3",
    "anthropic.claude-3-haiku-20240307-v1:0", "us.anthropic.claude-3-haiku-20240307-v1:0",
    "amazon.nova-micro-v1:0",
)
DEFAULT_DEPLOYMENTS = ("gpt-4o-mini", "gpt-4o")
API_KEY = "emulator-key"


def env_providers() -> list[str]:
    """Every registered provider: wire ones get the emulator's URL, in-process ones nothing."""
    from ..ai.registry import provider_names

    return provider_names()


# The built-in names, for callers that read the old constant; env_providers() sees new ones.
ENV_PROVIDERS = builtin_names()


class Emulator:
    """A local server speaking the OpenAI, Azure OpenAI, Ollama and Bedrock protocols.

    ``with Emulator() as emu:`` starts it on a free port of 127.0.0.1; ``emu.env("ollama")``
    gives the ``AI__*`` variables that point that provider here.
    """

    def __init__(self, backend: str = "scripted", *, port: int = 0, ttft_s: float = 0.0,
                 tokens_per_s: float = 2000.0, models: tuple[str, ...] = DEFAULT_MODELS,
                 deployments: tuple[str, ...] = DEFAULT_DEPLOYMENTS, api_key: str = API_KEY):
        self.backend_name = backend
        self.state = State(make_responder(backend, ttft_s=ttft_s, tokens_per_s=tokens_per_s),
                           tuple(models), tuple(deployments), api_key)
        self._server = ServerThread(build_app(self.state), port=port)

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"Emulator(backend={self.backend_name!r}, {where})"

    # lifecycle --------------------------------------------------------------------------
    def start(self) -> "Emulator":
        if not self.running:
            self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

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
        from ..ai.settings import settings_from_mapping

        return settings_from_mapping(self.env(provider))
