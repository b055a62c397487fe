"""``Emulator``: the public face -- start, point a provider at it, inject faults, read the log."""

from __future__ import annotations

from typing import Any

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
ENV_PROVIDERS = ("openai", "vllm", "lmstudio", "azure_openai", "bedrock", "ollama", "mock", "local")


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

        ``protocol="openai"|"azure"|"ollama"|"bedrock"`` limits which requests consume it.
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
        url, key = self.url, self.state.api_key
        values = {
            "openai": {"AI__OPENAI_BASE_URL": f"{url}/v1", "AI__OPENAI_API_KEY": key,
                       "AI__MODEL": "gpt-4o-mini"},
            "vllm": {"AI__OPENAI_BASE_URL": f"{url}/v1", "AI__MODEL": "smollm2"},
            "lmstudio": {"AI__OPENAI_BASE_URL": f"{url}/v1", "AI__MODEL": "smollm2"},
            "azure_openai": {"AI__AZURE_OPENAI_ENDPOINT": url, "AI__AZURE_OPENAI_API_KEY": key,
                             "AI__AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini",
                             "AI__AZURE_OPENAI_API_VERSION": "2024-10-21"},
            "bedrock": {"AI__AWS_REGION": "us-east-1", "AI__BEDROCK_ENDPOINT_URL": url,
                        "AI__MODEL": "anthropic.claude-3-haiku-20240307-v1:0",
                        "AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator-secret"},
            "ollama": {"AI__OLLAMA_BASE_URL": url, "AI__MODEL": "llama3.2"},
            "mock": {}, "local": {},
        }
        if provider not in values:
            raise ValueError(f"unknown provider {provider!r}; valid names: {', '.join(ENV_PROVIDERS)}")
        return {"AI__PROVIDER": provider, **values[provider]}

    def settings(self, provider: str):
        from ..ai.settings import settings_from_mapping

        return settings_from_mapping(self.env(provider))
