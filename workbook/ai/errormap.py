"""One mapping from a service's answer to the workbook's typed errors.

Every network provider reads the HTTP status (and the service's own error code, where it
sends one) out of its SDK's exception and asks ``typed_error`` for the error to raise.
The table below decides the error type; the provider supplies only its hints (what to
check for *that* service) on top of the defaults.
"""

from __future__ import annotations

from typing import Mapping

from . import errors

# The service's own error code (lower case) -> kind; it wins over the status.
_BY_CODE: dict[str, str] = {
    # AWS (Bedrock)
    "accessdeniedexception": "access_denied",
    **dict.fromkeys(("unrecognizedclientexception", "invalidsignatureexception", "expiredtokenexception",
                     "missingauthenticationtokenexception", "incompletesignatureexception",
                     "invalidclienttokenid", "signaturedoesnotmatch"), "auth"),
    **dict.fromkeys(("throttlingexception", "toomanyrequestsexception", "servicequotaexceededexception",
                     "throttling"), "rate_limit"),
    **dict.fromkeys(("serviceunavailableexception", "internalserverexception", "modelnotreadyexception",
                     "modeltimeoutexception", "internalfailure", "serviceunavailable"), "server"),
    "resourcenotfoundexception": "not_found",
    # OpenAI's codes are not listed: its status says more (a 403 with "model_not_found" is
    # a key without access to the model, not a missing model).
}

# kind -> (error type, default hint)
_KINDS: dict[str, tuple[type[errors.ProviderError], str]] = {
    "auth": (errors.AuthenticationError, errors.AuthenticationError.default_hint),
    "access_denied": (errors.AuthenticationError, errors.AuthenticationError.default_hint),
    "not_found": (errors.ModelNotFoundError, errors.ModelNotFoundError.default_hint),
    "wrong_url": (errors.ConfigurationError, "Check the base URL setting: nothing answers this API there."),
    "rate_limit": (errors.RateLimitError, errors.RateLimitError.default_hint),
    "server": (errors.ProviderUnavailableError, "The server is failing; retry later or raise AI__MAX_RETRIES."),
    "rejected": (errors.ProviderError, "The server rejected the request; read its message."),
    # The bytes arrived as sent (TCP and Bedrock's CRCs checked them): the server itself
    # wrote text in another encoding, so a retry gets the same bytes again.
    "invalid_utf8": (errors.ProviderError, "The server sends text that is not valid UTF-8 (an encoding fault of "
                                           "the server, not a dropped connection): fix or update the server, "
                                           "or check the URL setting points at the right one."),
}
KINDS = tuple(_KINDS)


def kind_of(status: int | None, code: str | None = None, *, api_error: bool = True) -> str:
    """Which kind of failure a status (and error code) means.

    ``api_error=False``: the body was not the service's error object (a web server's 404
    page), so a 404 means a wrong URL rather than an unknown model."""
    if code and str(code).strip().lower() in _BY_CODE:
        return _BY_CODE[str(code).strip().lower()]
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found" if api_error else "wrong_url"
    if status == 429:
        return "rate_limit"
    if status is not None and (status == 408 or status >= 500):
        return "server"
    return "rejected"


def typed_error(kind: str, message: str, *, provider: str, hints: Mapping[str, str] | None = None,
                retry_after: float | None = None) -> errors.ProviderError:
    """The error for ``kind`` with the provider's hint for it (or the default)."""
    error_type, default_hint = _KINDS[kind]
    hint = (hints or {}).get(kind) or default_hint
    if error_type is errors.RateLimitError:
        return errors.RateLimitError(message, provider=provider, hint=hint, retry_after=retry_after)
    error = error_type(message, provider=provider, hint=hint)
    if retry_after is not None:
        error.retry_after = retry_after  # a 503 may say when to come back, too
    return error


def decode_failure(error: BaseException | None) -> UnicodeDecodeError | None:
    """The ``UnicodeDecodeError`` behind ``error`` (itself, or what it was raised from),
    if the failure was invalid UTF-8 -- whichever SDK layer wrapped it."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UnicodeDecodeError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def invalid_utf8_error(error: UnicodeDecodeError, where: str, *, provider: str,
                       hints: Mapping[str, str] | None = None) -> errors.ProviderError:
    """The error for an answer that is not valid UTF-8: never a silent U+FFFD."""
    bad = error.object[error.start:error.end].hex(" ") if isinstance(error.object, bytes) else "?"
    return typed_error("invalid_utf8", f"{where} sent text that is not valid UTF-8 (bytes {bad} at "
                                       f"position {error.start} of a piece of the answer)",
                       provider=provider, hints=hints)


def retry_after_seconds(headers) -> float | None:
    """``Retry-After`` in seconds from a headers mapping (any SDK's), if it says one."""
    try:
        value = headers.get("retry-after")
    except AttributeError:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
