"""The workbook's typed errors.

Every failure a student can meet -- bad configuration, a refused key, a 429, a server
that is not running, a stream cut mid-way -- reaches them as one of these, with a
one-line ``hint`` saying what to do next. SDK exceptions never leak past a provider.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every workbook error.

    ``provider`` names the provider type that failed (``"ollama"``, ``"config"``…);
    ``hint`` is one line a student can act on.
    """

    default_hint = "Check the provider's configuration and try again."

    def __init__(self, message: str, *, provider: str = "", hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.hint = hint or self.default_hint

    def __str__(self) -> str:
        where = f"[{self.provider}] " if self.provider else ""
        return f"{where}{self.message}\n  Hint: {self.hint}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, message={self.message!r})"

    def __reduce__(self):  # keep pickling (papermill, multiprocessing) working with keyword args
        return (_rebuild, (type(self), self.message, self.provider, self.hint, self.__dict__))


def _rebuild(cls, message, provider, hint, state):
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigurationError(ProviderError):
    """Missing or invalid settings. The message names the ``AI__*`` variable to set."""

    default_hint = "Set the named variable in your environment or in .env (see .env.example)."


class InvalidRequestError(ProviderError, ValueError):
    """The request itself is wrong (empty messages, unknown role, max_tokens <= 0...).

    Raised before any network call.
    """

    default_hint = "Fix the argument named in the message; nothing was sent."


class AuthenticationError(ProviderError):
    """The service refused the credentials, or what they may do (401/403; AWS UnrecognizedClient,
    ExpiredToken, AccessDenied): the hint says which, and what to do."""

    default_hint = "Check the API key or credentials for this provider."


class RateLimitError(ProviderError):
    """The service answered 429 / Throttling, even after the configured retries."""

    # The course's one wording for a 429 (notebook 01): every provider, built-in or an exercise's
    # solution, gives this hint, so a student reads one rule however the limit reached them.
    default_hint = "Wait and retry, raise AI__MAX_RETRIES, or ask for a higher quota."

    def __init__(self, message: str, *, provider: str = "", hint: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message, provider=provider, hint=hint)
        self.retry_after = retry_after


class ModelNotFoundError(ProviderError):
    """The model / deployment does not exist (or is not enabled) on that service."""

    default_hint = "Check AI__MODEL (or the deployment name) against what the service offers."


class ProviderUnavailableError(ProviderError):
    """The server could not be reached: connection refused, DNS failure, timeout, 5xx."""

    default_hint = "Is the server running and the URL right? Try `python -m workbook doctor`."


class IncompleteResponseError(ProviderError):
    """A stream ended without its protocol's end marker: the answer would be truncated."""

    default_hint = "The connection dropped mid-answer; retry the request."


class StructuredOutputError(ProviderError):
    """An answer asked for in a schema (``response_format=``) that does not fit it: not JSON,
    or JSON of another shape. ``raw`` keeps the answer's text and ``problems`` what did not
    fit (paths and rules, never the answer's values): ``str()`` shows neither the text nor
    the values, since an answer can echo whatever the prompt held, secrets included."""

    default_hint = ("Enforce the schema where the provider can (response_format=), raise max_tokens if "
                    "the answer was cut, or use workbook.ai.ask_structured, which retries once.")

    def __init__(self, message: str, *, provider: str = "", hint: str | None = None,
                 raw: str | None = None, problems: tuple[str, ...] = ()):
        super().__init__(message, provider=provider, hint=hint)
        self.raw = raw
        self.problems = tuple(problems)


__all__ = [
    "ProviderError",
    "ConfigurationError",
    "InvalidRequestError",
    "AuthenticationError",
    "RateLimitError",
    "ModelNotFoundError",
    "ProviderUnavailableError",
    "IncompleteResponseError",
    "StructuredOutputError",
]
