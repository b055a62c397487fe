"""Faults a test or an instructor asks for: "the next request answers 429".

The server runs in its own thread, so the queue is guarded by a lock. Faults are consumed
first-in first-out by the model requests that match their ``protocol`` restriction.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ..ai.registry import PROTOCOLS

FAULTS = (
    "rate_limit", "server_error", "slow_first_token", "cut_stream", "malformed", "auth",
    "model_not_found", "access_denied", "validation",
    "model_end_of_life", "model_legacy", "needs_inference_profile", "off_schema",
)
# Bedrock's lifecycle answers (AWS's own texts, see workbook.ai.lifecycle): Bedrock only.
BEDROCK_ONLY = ("model_end_of_life", "model_legacy", "needs_inference_profile")

# Options each fault understands, with their defaults; anything else is a typo worth reporting.
_OPTIONS: dict[str, dict[str, Any]] = {
    "rate_limit": {"retry_after": 1, "in_stream": False},
    "server_error": {"status": 500, "in_stream": False},
    "slow_first_token": {"seconds": 1.0},
    "cut_stream": {"after_chunks": 3, "mode": "close"},
    "malformed": {},
    "auth": {"status": 401},
    "model_not_found": {},
    # The credentials are fine but the account may not use this model (Bedrock before
    # model access is granted).
    "access_denied": {},
    # The service refuses the request itself; ``message`` says why.
    "validation": {"message": "The request is invalid."},
    "model_end_of_life": {},
    "model_legacy": {},
    "needs_inference_profile": {},
    # The answer ignores the schema the request asked for (free text, as without one): what a
    # service that does not enforce it, or a model that strays, sends back.
    "off_schema": {},
}


@dataclass(frozen=True)
class Fault:
    """One fault as applied to one request."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, option: str) -> Any:
        return self.options[option]

    def to_dict(self) -> dict[str, Any]:
        return {"fault": self.name, **self.options}


def make_fault(name: str, **options: Any) -> tuple[Fault, str | None]:
    """Validate a request for a fault; returns it and its protocol restriction."""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; valid faults: {', '.join(FAULTS)}")
    protocol = options.pop("protocol", None)
    if protocol is not None and protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if name in BEDROCK_ONLY:
        if protocol not in (None, "bedrock"):
            raise ValueError(f"fault {name!r} is one of Bedrock's answers; protocol must be 'bedrock'")
        protocol = "bedrock"
    unknown = set(options) - set(_OPTIONS[name])
    if unknown:
        known = ", ".join(_OPTIONS[name]) or "none"
        raise ValueError(f"fault {name!r} has no option(s) {', '.join(sorted(unknown))}; "
                         f"it takes: {known}")
    values = {**_OPTIONS[name], **options}
    if name == "server_error" and values["status"] not in (500, 503):
        raise ValueError("server_error status must be 500 or 503")
    if name == "auth" and values["status"] not in (401, 403):
        raise ValueError("auth status must be 401 or 403")
    if name == "cut_stream" and values["mode"] not in ("close", "abort"):
        raise ValueError("cut_stream mode must be 'close' or 'abort'")
    if protocol is not None:
        values["protocol"] = protocol
    return Fault(name, values), protocol


class FaultQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[list[Any]] = []  # [fault, protocol, remaining]

    def inject(self, name: str, times: int = 1, **options: Any) -> Fault:
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be a positive integer, got {times!r}")
        fault, protocol = make_fault(name, **options)
        with self._lock:
            self._pending.append([fault, protocol, times])
        return fault

    def take(self, protocol: str) -> Fault | None:
        with self._lock:
            for entry in self._pending:
                fault, only, remaining = entry
                if only is None or only == protocol:
                    if remaining <= 1:
                        self._pending.remove(entry)
                    else:
                        entry[2] = remaining - 1
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**fault.to_dict(), "times": remaining} for fault, _, remaining in self._pending]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()


def answer_schema(schema: dict | None, fault: Fault | None) -> dict | None:
    """The schema the backend should follow: none under the ``off_schema`` fault."""
    return None if fault is not None and fault.name == "off_schema" else schema
