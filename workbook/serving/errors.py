"""The errors of ``workbook.serving``, in one module that every engine and builder imports
(so ``build`` and ``llama_server`` need not import each other for them)."""

from __future__ import annotations


class LlamaServerError(RuntimeError):
    """The one error type of ``workbook.serving``: a server that could not be built, installed
    or started, or exited; the message ends with its log tail."""


class BuildUnavailable(LlamaServerError):
    """This machine cannot build llama-server (no compiler, no sources); ``hint`` says what to do."""

    def __init__(self, message: str, hint: str):
        super().__init__(f"{message}\nHint: {hint}")
        self.hint = hint


class BuildFailed(LlamaServerError):
    """The build ran and failed; the message ends with the tail of its log."""


class VllmUnavailable(LlamaServerError):
    """vLLM's CPU build is not installed here (or cannot be on this platform): one line that
    names what is missing, then ``hint``, what to do."""

    def __init__(self, message: str, hint: str):
        super().__init__(f"{message}: {hint}")
        self.hint = hint
