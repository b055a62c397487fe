"""botocore's failures as the workbook's typed errors, for the ``bedrock`` provider: the SDK's
exception classes, AWS's error codes (``errormap``) and what an answer that is not Bedrock's
looks like. The provider gives its hints (``BedrockProvider._hints``); this is the mapping.
"""

from __future__ import annotations

import botocore.exceptions
import botocore.parsers
import urllib3.exceptions

from .. import errors
from ..errormap import decode_failure, invalid_utf8_error, kind_of, retry_after_seconds
from ..lifecycle import lifecycle_error
from ..settings import display_url
from ._botocore_io import BODY_SIZE
from ._redact import redact


def unreadable_answer(provider, result: dict) -> errors.ProviderError:
    """Why Converse's result has no output: a body cut short, or not Bedrock's JSON."""
    headers = result.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    declared, received = headers.get("content-length"), result.get(BODY_SIZE)
    if declared is not None and received is not None and received < int(declared):
        return errors.ProviderUnavailableError(
            f"the connection to {provider._where()} closed after {received} of the {declared} bytes "
            "of the answer", provider=provider.name,
            hint="The connection broke while reading the answer; retry the request.")
    content_type = headers.get("content-type", "")
    if "json" not in content_type:
        return provider._not_bedrock(f"a {content_type or 'untyped'} body instead of Converse's JSON")
    return provider._not_bedrock("JSON that does not parse, or without the answer's output")

# urllib3's own timeout reaches us from inside an event stream, unwrapped.
TIMEOUTS = (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError,
            urllib3.exceptions.TimeoutError, TimeoutError)


def translate(provider, error: BaseException) -> errors.ProviderError:
    name = provider.name
    if isinstance(error, errors.ProviderError):
        return error
    undecodable = decode_failure(error)
    if undecodable is not None:
        # Not damage in transit: the body's length (and a stream's CRCs) were right.
        return invalid_utf8_error(undecodable, provider._where(), provider=name)
    if isinstance(error, (botocore.exceptions.NoCredentialsError,
                          botocore.exceptions.PartialCredentialsError)):
        return errors.ConfigurationError(
            f"no AWS credentials found ({type(error).__name__})", provider=name,
            hint="Run `aws configure` or `aws sso login`, or set AWS_PROFILE "
                 "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).")
    if isinstance(error, TIMEOUTS):
        return errors.ProviderUnavailableError(
            f"Bedrock did not answer within {provider.settings.timeout_s:g} s", provider=name,
            hint="Raise AI__TIMEOUT_S, or check your network to AWS.")
    if isinstance(error, botocore.exceptions.EndpointConnectionError):
        return errors.ProviderUnavailableError(
            f"cannot reach Bedrock at {display_url(error.kwargs.get('endpoint_url')) or 'its endpoint'}",
            provider=name, hint="Check AI__AWS_REGION / AI__BEDROCK_ENDPOINT_URL and your network.")
    if isinstance(error, botocore.exceptions.ClientError):
        typed = client_error(provider, error)
        headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        seconds = retry_after_seconds(headers)
        if seconds is not None:
            typed.retry_after = seconds
        return typed
    if isinstance(error, botocore.exceptions.InvalidEndpointConfigurationError):
        return endpoint_configuration_error(provider, error)
    if isinstance(error, botocore.exceptions.ParamValidationError):
        # botocore checks the request against the API's model before sending it.
        return errors.ConfigurationError(
            f"botocore refused the request before sending it: {error}", provider=name,
            hint="Fix the request field it names (the model id is AI__MODEL); nothing was sent.")
    if isinstance(error, (botocore.exceptions.ConnectionClosedError,
                          botocore.exceptions.ResponseStreamingError,
                          botocore.exceptions.IncompleteReadError,
                          # urllib3's own, from inside an event stream (a reset connection)
                          urllib3.exceptions.ProtocolError)):
        # Bedrock was reached and began to answer: the endpoint and region are fine.
        return errors.ProviderUnavailableError(
            f"the connection to Bedrock broke while reading the answer: {type(error).__name__}",
            provider=name, hint="The connection broke while reading the answer; retry the request.")
    if isinstance(error, botocore.exceptions.ConnectionError):  # proxy, TLS
        return errors.ProviderUnavailableError(
            f"cannot reach Bedrock: {type(error).__name__}: {error}", provider=name,
            hint="Check AI__BEDROCK_ENDPOINT_URL / AI__AWS_REGION, your network and any HTTPS proxy.")
    if isinstance(error, botocore.parsers.ResponseParserError) or "eventstream" in type(error).__module__:
        return errors.ProviderError(
            f"unreadable answer from Bedrock: {type(error).__name__}: {error}", provider=name,
            hint="The response was corrupted in transit; retry the request.")
    if isinstance(error, botocore.exceptions.BotoCoreError):
        return errors.ProviderError(
            f"botocore failed before Bedrock answered: {type(error).__name__}: {error}", provider=name,
            hint="Read botocore's message: it names the AWS setting or variable to fix.")
    return errors.ProviderError(f"{type(error).__name__}: {error}", provider=name)

def endpoint_configuration_error(provider, error) -> errors.ConfigurationError:
    if "bearer" in str(error).lower():
        # AWS_BEARER_TOKEN_BEDROCK makes botocore send an API key, which it refuses
        # to send over plain http -- the emulator's scheme.
        return errors.ConfigurationError(
            f"AWS_BEARER_TOKEN_BEDROCK is set, and botocore sends that key only over https, "
            f"but AI__BEDROCK_ENDPOINT_URL is {display_url(provider.settings.bedrock_endpoint_url)}",
            provider=provider.name,
            hint="For the emulator (http://) unset AWS_BEARER_TOKEN_BEDROCK; for a real "
                 "endpoint use its https:// URL.")
    return errors.ConfigurationError(
        f"botocore refused the endpoint configuration: {error}", provider=provider.name,
        hint="Check AI__BEDROCK_ENDPOINT_URL (or unset it) and AI__AWS_REGION.")


def client_error(provider, error: botocore.exceptions.ClientError) -> errors.ProviderError:
    info = error.response.get("Error", {})
    code = str(info.get("Code", "")).strip()
    message = info.get("Message") or str(error)
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if not code or code == str(status):
        # botocore puts the bare status where AWS's own error code belongs: the answer
        # was not Bedrock's (a web server or proxy at a wrong AI__BEDROCK_ENDPOINT_URL).
        return foreign_error(provider, status)
    message = redact(message, provider._secrets)
    aged = lifecycle_error(code, message, model=provider.model, region=provider.region, provider=provider.name)
    if aged is not None:
        return aged
    text = f"{code}: {message} (model {provider.model}, region {provider.region})"
    kind = kind_of(status, code)
    if kind not in ("access_denied", "auth", "rate_limit") and "model identifier is invalid" in message.lower():
        kind = "not_found"
    error_type = {"access_denied": errors.AuthenticationError, "auth": errors.AuthenticationError,
                  "rate_limit": errors.RateLimitError, "not_found": errors.ModelNotFoundError,
                  "server": errors.ProviderUnavailableError}.get(kind, errors.ProviderError)
    hint = provider._hints.get(kind, provider._hints["rejected"]).format(model=provider.model, region=provider.region)
    return error_type(text, provider=provider.name, hint=hint)


def foreign_error(provider, status: int | None) -> errors.ProviderError:
    """An HTTP error without an AWS error code: something other than Bedrock answered."""
    name = provider.name
    url = provider.settings.bedrock_endpoint_url
    where = display_url(url) or f"the Bedrock endpoint of {provider.region}"
    text = f"HTTP {status} from {where}, without an AWS error code: the answer is not Bedrock's"
    check = "AI__BEDROCK_ENDPOINT_URL" if url else "AI__AWS_REGION and any proxy between you and AWS"
    if status is not None and 300 <= status < 400:
        # botocore follows no redirect: a loop is sent once, not round and round.
        return errors.ProviderError(
            f"{where} answered HTTP {status}, a redirect, which Bedrock never sends: the "
            "redirect was not followed", provider=name,
            hint=f"Check {check}: a proxy or another server answers there; use the address "
                 "that answers directly.")
    if status == 404:
        return errors.ConfigurationError(
            f"{text}; nothing answers Bedrock's Converse API at that URL", provider=name,
            hint=(f"Check AI__BEDROCK_ENDPOINT_URL: it is the service root with no path "
                  f"(https://bedrock-runtime.{provider.region}.amazonaws.com), or unset it.")
            if url else f"Check {check}.")
    if status is not None and status >= 500:
        return errors.ProviderUnavailableError(
            text, provider=name,
            hint=f"The server (or a proxy before it) is failing; retry later, and check {check} if it persists.")
    if status in (401, 403):
        return errors.AuthenticationError(
            text, provider=name, hint=f"A proxy or a wrong URL refused the request; check {check}.")
    if status == 429:
        return errors.RateLimitError(text, provider=name)
    return errors.ProviderError(text, provider=name, hint=f"Check {check}.")
