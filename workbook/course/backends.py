"""Where a notebook's answers come from: ``mock``, ``emulator``, ``local`` or ``live``.

Every notebook has a ``parameters`` cell with ``BACKEND = "..."``; CI runs it under each
offline backend with papermill. ``provider_for(BACKEND, "ollama")`` then gives the right
provider: the ollama provider pointed at the shared in-kernel emulator, the bundled model,
the scripted mock, or -- ``live`` -- whatever ``.env`` configures.
"""

from __future__ import annotations

import atexit
import sys
import threading
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Account:
    """What ``account_for`` chose: the settings, whether they point at the emulator, and, when
    ``live`` found no account, what to configure (``skipped``)."""

    settings: AISettings
    offline: bool
    skipped: str | None = None


def account_for(backend: str, protocol: str) -> Account:
    """Settings for the ``protocol`` provider (``azure_openai``, ``bedrock``, ``ollama`` ...).

    ``emulator``: the emulator's. ``live``: your ``.env``'s, for that provider -- unless that
    account is not configured (a variable missing, no AWS credentials, no server answering):
    then the run says what to configure and goes on against the emulator, so a notebook under
    ``live`` teaches the lesson instead of stopping at an SDK's traceback."""
    if backend != "live":
        return Account(settings_for(backend, protocol), offline=True)
    live = settings_for("live")
    if live.provider != protocol:
        live = live.with_(provider=protocol)
    missing = what_is_missing(live, protocol)
    if not missing:
        return Account(live, offline=False)
    skipped = f"skipped live {protocol}: configure {'; '.join(missing)}"
    # Asked before the emulator puts its dummy AWS keys in the environment.
    no_credentials = protocol == "bedrock" and not _aws_credentials_found()
    emulated = settings_for("emulator", protocol)
    print(f"{skipped}.\n  Standing in for this run: {_stand_ins(live, emulated, protocol, no_credentials)}. "
          f"Fix that and run again to reach the real service.")
    return Account(emulated, offline=True, skipped=skipped)


def _stand_ins(live: AISettings, emulated: AISettings, protocol: str, no_credentials: bool) -> str:
    """What the emulator put in the place of each thing the live account lacked: a banner that
    names a missing variable beside output showing a value says whose value that is."""
    from ..ai import missing_variables
    from ..ai.registry import get_spec
    from ..ai.settings import SECRET_FIELDS, display_url

    spec = get_spec(protocol)
    url = getattr(emulated, spec.url_field) if spec is not None and spec.url_field else None
    parts = []
    for variable in missing_variables(live, protocol):
        field = variable.removeprefix("AI__").lower()
        if field == (spec.url_field if spec else None):
            continue  # the emulator's address, named above
        parts.append(f"its dummy key for {variable}" if field in SECRET_FIELDS
                     else f"its {variable}={getattr(emulated, field)}")
    if no_credentials:
        parts.append("its dummy AWS keys for the missing credentials")
    emulator = f"the workbook's emulator{f' at {display_url(url)}' if url else ''}"
    return emulator + (f", with {', '.join(parts[:-1])}{' and ' if len(parts) > 1 else ''}{parts[-1]}"
                       if parts else "")


def what_is_missing(settings: AISettings, protocol: str) -> list[str]:
    """What a live ``protocol`` account still needs, in words a student can act on."""
    from ..ai import missing_variables
    from ..ai.registry import get_spec
    from ..ai.settings import display_url
    from ..probe import is_loopback, probe
    from ..ai.registry import provider_url

    needs = []
    missing = missing_variables(settings, protocol)
    if missing:
        needs.append(", ".join(missing) + " (in .env)")
    if protocol == "bedrock" and not _aws_credentials_found():
        needs.append("AWS credentials (`aws sso login`, AWS_PROFILE, or a role)")
    if needs:  # all of them at once: a student fixing one should not meet the next on the rerun
        return needs
    spec = get_spec(protocol)
    url = provider_url(settings, protocol)
    # Only a server on this machine is probed: a cloud service's own errors say more.
    if spec is not None and spec.url_field and is_loopback(url) and probe(url) is False:
        variable = f"AI__{spec.url_field.upper()}"
        return [f"a server answering at {display_url(url)} (start it, or set {variable})"]
    return []


def _aws_credentials_found() -> bool:
    import boto3
    import botocore.exceptions

    try:
        return boto3.Session().get_credentials() is not None
    except botocore.exceptions.BotoCoreError:  # a broken profile: as good as none
        return False


# What a notebook prints beside a model's answer: where it came from, and how far to trust it.
SCRIPTED = "scripted by the mock provider: canned text, not a model's answer"
EMULATED = "the emulator's scripted responder: canned text in the real wire format, not a model's answer"
SMOLLM2 = "SmolLM2-135M on this machine: a tiny model, often wrong -- read it as a sample, not as a fact"


def provider_caption(provider: AIProvider | None) -> str | None:
    """What an answer of ``provider`` is, when the provider alone says so: the mock, the local model,
    a provider pointed at an emulator of this process, or a wrapper (a provider holding another as
    ``inner``, as notebooks 04 and 06a write them: its words are the inner one's). ``None`` for a
    provider whose answers depend on a server elsewhere."""
    name = _name(provider)
    if name in ("mock", "local"):
        return {"mock": SCRIPTED, "local": SMOLLM2}[name]
    inner = getattr(provider, "inner", None)
    if inner is not None and inner is not provider:
        return provider_caption(inner)
    settings = getattr(provider, "settings", None)
    # An emulator runs in this process only if its module was imported: never import it just to ask.
    emulators = sys.modules.get("workbook.emulator.emulator")
    if settings is None or name is None or emulators is None:
        return None
    from ..ai.registry import provider_url

    emulator = emulators.emulator_serving(provider_url(settings, name))
    if emulator is None:
        return None
    # The emulator's local responder answers with SmolLM2: the words are the model's, not canned.
    return SMOLLM2 if emulator.backend_name == "local" else EMULATED


def _name(provider: AIProvider | None) -> str | None:
    return getattr(provider, "name", None) or getattr(getattr(provider, "settings", None), "provider", None)


def answer_source(backend: str, provider: AIProvider | None = None) -> str:
    """Where an answer of ``provider`` under ``backend`` comes from, in one line for a caption."""
    caption = provider_caption(provider)
    if backend == "mock" or caption in (SCRIPTED, EMULATED):
        return caption or SCRIPTED
    if caption == SMOLLM2 or backend == "local":
        stood_in = backend == "live"
        return SMOLLM2 + (" (no account is configured, so the default local model stood in)" if stood_in else "")
    if backend == "emulator":
        return EMULATED
    model = getattr(provider, "model", None) or getattr(getattr(provider, "settings", None), "model", None)
    return f"{_name(provider) or 'the configured provider'}{f' / {model}' if model else ''}: the real service your .env configures"


# What a timing of a canned reply is worth: its first token and tokens/s are a latency model's setting.
SCRIPTED_PACE = "the pace of a scripted reply: it shows the timing at work, it measures no model"


def pace_note(provider: AIProvider | None) -> str:
    """``SCRIPTED_PACE`` for a provider whose replies are scripted (the mock, the emulator's scripted
    responder, a wrapper of either), else ``""``: printed beside a reply's timing figures, so a
    tokens/s of canned text is never read as a measured speed."""
    return SCRIPTED_PACE if provider_caption(provider) in (SCRIPTED, EMULATED) else ""


def cut_note(finish_reason: str | None) -> str:
    """What to print after an answer's text: a note when ``max_tokens`` cut it (finish reason
    ``length``), so a reply ending mid-sentence is not read as the model's whole answer."""
    return " [… cut here: it reached max_tokens (finish reason: length)]" if finish_reason == "length" else ""
