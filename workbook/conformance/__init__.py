"""The provider conformance suite: does a provider keep the ``AIProvider`` contract?

``check_provider(OllamaProvider, protocol="ollama")`` runs the contract against the
offline emulator (a private one unless you pass ``emulator=``) and returns a
``ConformanceReport``: one row per check with passed / failed / skipped, what was seen,
and for a failure one line telling a student what to change.

* A **class** is built as ``cls(settings)`` with settings pointing at the emulator, one
  fresh instance per check, so a check can change ``max_retries`` or point it at a
  closed port. A class that takes no arguments cannot be pointed anywhere: the checks
  that need that control are skipped.
* An **instance** is used as it is: only the checks that need no other configuration
  run, and the emulator-based ones only if its requests reach the emulator.

Errors in the provider's code (``NotImplementedError``, ``AttributeError``...) become
failed checks, never tracebacks; every check is bounded by ``timeout_s`` so a provider
that hangs fails instead of hanging the notebook.

The package, one idea per module: ``report`` (``CheckResult``, ``ConformanceReport`` and
its renderings), ``wire`` (the protocols and the request fields each expects), ``hints``
(what a failed check tells the student), ``suite`` (the checks) and ``run`` (the two
entry points below).
"""

from __future__ import annotations

from .report import CheckResult, ConformanceReport
from .run import check_provider, check_provider_async
from .suite import NEEDS_SETTINGS, NO_WIRE, NOT_SERVED, CheckFailed, Skip
from ..ai.registry import PROTOCOLS
from .wire import SYSTEM_PROMPT, URL_FIELD, WIRE

__all__ = ["check_provider", "check_provider_async", "ConformanceReport", "CheckResult", "PROTOCOLS"]
