"""Where a notebook's answers come from: ``mock``, ``emulator``, ``local`` or ``live``.

Every notebook has a ``parameters`` cell with ``BACKEND = "..."``; CI runs it under each
offline backend with papermill. ``provider_for(BACKEND, "ollama")`` then gives the right
provider: the ollama provider pointed at the shared in-kernel emulator, the bundled model,
the scripted mock, or -- ``live`` -- whatever ``.env`` configures.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from ..ai import AIProvider, AISettings, create_ai_provider, load_settings

BACKENDS = ("mock", "emulator", "local", "live")
_emulator = None
_lock = threading.Lock()


def shared_emulator(**options: Any):
    """One emulator per kernel, started on first use and stopped when the kernel exits.

    ``options`` (``ttft_s``, ``tokens_per_s``) apply when it is first started.
    """
    global _emulator
    with _lock:
        if _emulator is None or not _emulator.running:
            from ..emulator import Emulator

            _emulator = Emulator(**options).start()
            atexit.register(_emulator.stop)
        return _emulator


def settings_for(backend: str, protocol: str | None = None, **changes: Any) -> AISettings:
    """Settings for ``backend``; ``protocol`` names the provider type to use with the emulator."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown BACKEND {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "live":
        settings = load_settings()
    elif backend == "emulator":
        emulator = shared_emulator()
        if protocol == "bedrock":
            from ..emulator.aws import use_emulator_credentials

            # For the kernel's life: boto3 reads credentials when each client is built.
            use_emulator_credentials(emulator.env("bedrock"))
        settings = emulator.settings(protocol or "openai")
    else:
        settings = AISettings(provider=backend)
    return settings.with_(**changes) if changes else settings


def provider_for(backend: str, protocol: str | None = None, **changes: Any) -> AIProvider:
    """A provider for ``backend`` built through the factory, as a student would."""
    return create_ai_provider(settings_for(backend, protocol, **changes))
