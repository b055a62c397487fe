"""The hints a failed check shows: one line telling a student what to change.

``_HINTS`` are the generic ones, keyed by check; ``_WIRE_HINTS`` say the same in the words
of the SDK a student uses for that wire protocol (httpx for Ollama, the openai package for
the OpenAI family, boto3 for Bedrock) and ``_hints_for(wire)`` merges the two. The usage
and request-field checks have their own per-protocol hints.
"""

from __future__ import annotations

from ..ai.errors import RateLimitError

_USAGE_HINT = {
    "ollama": "Read prompt_eval_count and eval_count from the final done:true line into "
              "Usage(input_tokens, output_tokens).",
    "openai": "Read response.usage.prompt_tokens and completion_tokens into Usage.",
    "azure_openai": "Read response.usage.prompt_tokens and completion_tokens into Usage.",
    "bedrock": "Read usage.inputTokens and outputTokens from the Converse response into Usage.",
}
_FIELD_HINT = {
    "ollama": "Send max_tokens as options.num_predict, temperature as options.temperature, and "
              "the system prompt as the first message with role 'system'.",
    "openai": "Send max_tokens, temperature and the system message as messages[0] (role 'system').",
    "azure_openai": "Send max_tokens, temperature and the system message as messages[0] (role 'system').",
    "bedrock": "Send inferenceConfig.maxTokens / temperature and the system prompt in the "
               "top-level system=[{'text': ...}], not as a message.",
}
# The course's one rule for a 429 (notebook 01, CLAUDE.md): the provider retries, the SDK makes one
# attempt; each retry waits Retry-After; one AI__TIMEOUT_S deadline covers every attempt and wait.
# Every wire's "retry" and "rate_limit" hint says it in these words, naming its own SDK's pieces.
_RETRY_RULE = ("Retry {what} in the provider, up to settings.max_retries times, each after Retry-After, "
               "within one AI__TIMEOUT_S deadline")
_RATE_LIMIT_RULE = ("Once the provider's retries are used up, turn {what} into RateLimitError with the "
                    f"course's hint: '{RateLimitError.default_hint}'")
_HINTS = {
    "auth": "Map HTTP 401/403 to AuthenticationError (raise it with a hint about the key).",
    "rate_limit": _RATE_LIMIT_RULE.format(what="HTTP 429"),
    "model_not_found": "Map HTTP 404 to ModelNotFoundError.",
    "server_error": "Map HTTP 5xx to ProviderUnavailableError (after retrying), never return it "
                    "as an answer.",
    "other_status": "Map every other HTTP error status (400, 418…) to ProviderError with a hint "
                    "(the `else` of your mapping); never let it leak out or pass as an answer.",
    "cut_stream": "Check for the protocol's end marker and raise IncompleteResponseError if the "
                  "stream ends without it.",
    "unreachable": "Catch the connection error and raise ProviderUnavailableError naming the URL.",
    "retry": _RETRY_RULE.format(what="a 429 or a 5xx") + ".",
    "concurrent": "Each call must work on its own: no shared per-call state on self.",
    "concurrent_blocking": "Use an async client (httpx.AsyncClient) and await it; a blocking "
                           "call (requests, time.sleep) stops every other call.",
    "round_trip": "Implement chat: POST the messages, read the reply, return a ChatResponse.",
    "finish": "Set finish_reason in the words every provider uses: 'stop' when the answer ended, "
              "'length' when max_tokens cut it.",
    "stream": "chat_stream must return an async iterator of str pieces: the simplest is an async "
              "generator, `async def chat_stream(...)` with `yield piece` inside.",
    "usage": "Fill Usage(input_tokens, output_tokens) from what the server reports.",
    "request_fields": "Send max_tokens, temperature and the system prompt where the protocol wants them.",
    "builds": "The class is built as cls(settings): accept an AISettings and read your URL and "
              "model from it.",
}


# What each hint says in the words of the SDK a student uses for that protocol.
_OPENAI_HINTS = {
    "auth": "Catch openai.AuthenticationError / PermissionDeniedError (401/403) and raise "
            "AuthenticationError with a hint about the key.",
    "rate_limit": _RATE_LIMIT_RULE.format(what="openai.RateLimitError (429)"),
    "model_not_found": "Turn openai.NotFoundError (404) into ModelNotFoundError; on Azure the "
                       "deployment name is not the model name.",
    "server_error": "Turn openai.InternalServerError (5xx) into ProviderUnavailableError.",
    "other_status": "Turn any other openai.APIStatusError (400…) into ProviderError with a hint.",
    "cut_stream": "The SDK ends a cut stream silently: raise IncompleteResponseError when no chunk "
                  "carried a finish_reason (and when APIConnectionError interrupts the loop).",
    "unreachable": "Turn openai.APIConnectionError / APITimeoutError into ProviderUnavailableError "
                   "naming the base URL.",
    "retry": _RETRY_RULE.format(what="a 429 or a 5xx") + "; the SDK makes one attempt (max_retries=0). A "
             "subclass of OpenAIProvider inherits this.",
}
_WIRE_HINTS = {
    "ollama": {
        "model_not_found": "Map HTTP 404 to ModelNotFoundError: Ollama says 'try pulling it first', "
                           "so hint `ollama pull MODEL`.",
        "cut_stream": "Check for the final done:true line and raise IncompleteResponseError if the "
                      "stream ends without it.",
        "unreachable": "Catch httpx.ConnectError / httpx.HTTPError and raise "
                       "ProviderUnavailableError naming the URL.",
    },
    "openai": _OPENAI_HINTS,
    "azure_openai": _OPENAI_HINTS,
    "bedrock": {
        "auth": "Turn botocore ClientError codes UnrecognizedClientException / ExpiredTokenException "
                "(credentials not accepted: hint `aws sso login`) and AccessDeniedException (this identity "
                "may not call the model: hint the IAM policy, Marketplace permissions, use-case form) into "
                "AuthenticationError.",
        "rate_limit": _RATE_LIMIT_RULE.format(what="ThrottlingException"),
        "model_not_found": "Turn ValidationException 'model identifier is invalid' or 'on-demand "
                           "throughput isn't supported', and ResourceNotFoundException, into "
                           "ModelNotFoundError.",
        "other_status": "Turn any other ClientError code (ValidationException…) into ProviderError "
                        "with a hint.",
        "server_error": "Turn InternalServerException / ServiceUnavailableException into "
                        "ProviderUnavailableError.",
        "cut_stream": "boto3's event stream ends a cut stream silently: raise "
                      "IncompleteResponseError when no messageStop event arrived.",
        "unreachable": "Turn botocore EndpointConnectionError into ProviderUnavailableError.",
        "finish": "Translate stopReason into the words every provider uses: end_turn and "
                  "stop_sequence -> 'stop', max_tokens -> 'length'.",
        "retry": _RETRY_RULE.format(what="a ThrottlingException or a 5xx") + " (as _call does); botocore makes "
                 "one attempt (total_max_attempts 1).",
        "concurrent_blocking": "boto3 blocks: run converse in a thread (asyncio.to_thread or "
                               "loop.run_in_executor) so calls overlap.",
    },
}


# What the hint of an error must tell the user on a wire (and, where another failure's fix would
# mislead, must not), where the hidden tests ask it, with the checker's hint when it does not: an
# unknown Ollama model is fixed by pulling it (Ollama's own 404 says "try pulling it first");
# Bedrock's AccessDeniedException by granting what the identity lacks, not by logging in again
# (notebook 02's table: refused credentials and a refused permission, two fixes).
_HINT_MUST_SAY = {
    ("ollama", "model_not_found"): (
        "ollama pull", None, "Make the hint tell the user to run `ollama pull MODEL` (the model is not there)."),
    ("bedrock", "access_denied"): (
        "IAM", "sso login",
        "AccessDeniedException means this identity may not call the model, not that AWS refused the "
        "credentials: make its hint say what to grant (the IAM policy; for a first call the Marketplace "
        "permissions; the use-case form), not `aws sso login` (notebook 02's table)."),
}
# The ``hints`` key of an OpenAI-family provider each check's error takes its hint from.
_HINT_KEY = {"auth": "auth", "model_not_found": "not_found", "unreachable": "unavailable"}


def _hints_for(wire: str | None) -> dict[str, str]:
    return {**_HINTS, **_WIRE_HINTS.get(wire or "", {})}
