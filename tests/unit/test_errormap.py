"""The one table from a service's answer to the workbook's typed errors."""

from __future__ import annotations

import pytest

from workbook.ai import errors
from workbook.ai.errormap import kind_of, retry_after_seconds, typed_error


@pytest.mark.parametrize("status, code, api_error, kind", [
    (401, None, True, "auth"),
    (403, None, True, "auth"),
    (404, None, True, "not_found"),       # the service said so: an unknown model
    (404, None, False, "wrong_url"),      # a web server's 404 page: nothing answers there
    (429, None, True, "rate_limit"),
    (408, None, True, "server"),
    (500, None, True, "server"),
    (503, None, True, "server"),
    (400, None, True, "rejected"),
    (422, None, True, "rejected"),
    # A service's own code wins over the status (AWS sends both).
    (400, "ThrottlingException", True, "rate_limit"),
    (403, "AccessDeniedException", True, "access_denied"),
    (403, "UnrecognizedClientException", True, "auth"),
    (404, "ResourceNotFoundException", True, "not_found"),
    (503, "ModelNotReadyException", True, "server"),
    (400, "ValidationException", True, "rejected"),
])
def test_kind_of(status, code, api_error, kind):
    assert kind_of(status, code, api_error=api_error) == kind


@pytest.mark.parametrize("kind, error_type", [
    ("auth", errors.AuthenticationError), ("access_denied", errors.AuthenticationError),
    ("not_found", errors.ModelNotFoundError), ("wrong_url", errors.ConfigurationError),
    ("rate_limit", errors.RateLimitError), ("server", errors.ProviderUnavailableError),
    ("rejected", errors.ProviderError),
])
def test_each_kind_has_its_type_and_the_providers_hint_wins(kind, error_type):
    default = typed_error(kind, "text", provider="p")
    assert type(default) is error_type and default.hint
    own = typed_error(kind, "text", provider="p", hints={kind: "Do this."})
    assert own.hint == "Do this." and own.provider == "p" and own.message == "text"


def test_retry_after_is_read_once_for_every_sdk():
    assert typed_error("rate_limit", "t", provider="p", retry_after=7).retry_after == 7
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    for headers in ({}, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, {"retry-after": "-1"},
                    {"retry-after": "inf"}, None):
        assert retry_after_seconds(headers) is None
