"""``bedrock``: AWS Bedrock's Converse and ConverseStream APIs through boto3.

Credentials come from the normal AWS chain (environment, profile, SSO); there is no API
key setting. boto3 blocks, so every call runs on a dedicated thread pool sized together
with botocore's connection pool: concurrent calls overlap instead of queueing behind
asyncio's small default executor. botocore makes one attempt per call: ``RemoteProvider``
retries, so a cancelled call stops retrying and AI__TIMEOUT_S bounds the whole call.

Every response body is read through ``_Body`` (a botocore ``before-send`` hook sends the
request itself and wraps what comes back): it stops at the size ``max_tokens`` allows
(``_bounds.max_answer_bytes``), and a call that ended -- finished, timed out, cancelled, a
stream closed early -- shuts its socket, so a slow or stalled server cannot keep a pool
thread reading, a healthy provider's next call still gets a thread, and the process can exit.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator

import boto3
import botocore.exceptions
import botocore.parsers
import urllib3.exceptions
from botocore.config import Config

from .. import errors
from ...aio import ThreadRelay
from ..errormap import decode_failure, invalid_utf8_error, kind_of, retry_after_seconds
from ..lifecycle import lifecycle_error
from ..registry import get_spec
from ..settings import AISettings, display_url
from ..structured import OutputSchema
from ..types import ChatStream, Message, Usage, split_system
from ._bounds import Budget, ended_now, next_read
from ._redact import redact
from .base import Answer, RemoteProvider

_POOL_SIZE = 16
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_POOL_SIZE, thread_name_prefix="bedrock")
        return _pool


_EVENT_STREAM = "application/vnd.amazon.eventstream"
_BODY_SIZE = "WorkbookBodyBytes"  # put into Converse's result by _note_body_size


def _note_body_size(response_dict, customized_response_dict, **_) -> None:
    """botocore hook: how many bytes of a (non-streamed) body arrived."""
    body = response_dict.get("body")
    if isinstance(body, (bytes, bytearray)):
        customized_response_dict[_BODY_SIZE] = len(body)


# Bedrock's stop reasons in the words every other provider uses.
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class _Call:
    """What one call holds on its worker thread, so the event loop can let go of it."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.ended = threading.Event()
        self.bodies: list[_Body] = []
        self._lock = threading.Lock()

    def hold(self, body: "_Body") -> None:
        with self._lock:
            self.bodies.append(body)
            ended = self.ended.is_set()
        if ended:  # the call ended while the request was on its way
            body.shut()

    def release(self) -> None:
        """The call is over: wake and stop any read still blocked on its bodies."""
        with self._lock:
            self.ended.set()
            bodies = list(self.bodies)
        for body in bodies:
            body.shut()


# The call the current worker thread runs (set by _on_thread; read by the before-send hook).
_CURRENT: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("bedrock_call", default=None)


def _on_thread(call: _Call, work):
    """``work`` wrapped to run on a pool thread as part of ``call``."""
    def run(*args):
        token = _CURRENT.set(call)
        try:
            return work(*args)
        finally:
            _CURRENT.reset(token)
    return run


class _Body:
    """A response body (urllib3's), read in bounded steps: it stops at the call's budget or
    when the call ended, and ``shut()`` wakes a read blocked on a silent socket."""

    def __init__(self, raw, call: _Call):
        self._raw, self._call = raw, call
        self._read = 0
        self.finished = False

    def stream(self, amt: int = 1 << 16, decode_content=None):
        for data in self._raw.stream(amt, decode_content=decode_content):
            if self._call.ended.is_set():
                raise self._ended()
            self._read += len(data)
            if self._read > self._call.budget.limit:
                raise self._call.budget.exceeded()
            yield data
        self.finished = True

    def _ended(self) -> errors.ProviderError:
        return errors.ProviderUnavailableError(
            "the call ended (timed out or cancelled) while its answer was being read",
            provider="bedrock", hint="Raise AI__TIMEOUT_S, or check that the server is not stuck.")

    def close(self) -> None:
        self._raw.close()

    def shut(self) -> None:
        """Shut the socket down (from another thread): closing alone does not wake a read."""
        if self.finished:
            return  # read to its end: the connection went back to the pool, healthy
        connection = getattr(self._raw, "_connection", None) or getattr(self._raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __getattr__(self, name):  # anything else botocore asks of urllib3's response
        return getattr(self._raw, name)



class BedrockProvider(RemoteProvider):
    name = "bedrock"

    def __init__(self, settings: AISettings | None = None, *, session: boto3.Session | None = None):
        settings = settings or AISettings(provider=self.name)
        if not settings.aws_region:
            raise errors.ConfigurationError(
                "bedrock needs AI__AWS_REGION (Bedrock serves models per region)",
                provider=self.name, hint="Set AI__AWS_REGION, e.g. us-east-1.")
        self.settings = settings
        spec = get_spec(self.name)
        self.model = settings.model or spec.default_model
        self.region = settings.aws_region
        config = Config(
            region_name=settings.aws_region,
            retries={"total_max_attempts": 1, "mode": "standard"},  # RemoteProvider retries
            connect_timeout=min(settings.timeout_s, 10.0),
            read_timeout=settings.timeout_s,
            max_pool_connections=_POOL_SIZE,
        )
        try:
            # The credentials chain is resolved here: a broken AWS profile fails now.
            session = session or boto3.Session()
            self._client = session.client(
                "bedrock-runtime", endpoint_url=settings.bedrock_endpoint_url, config=config)
            credentials = session.get_credentials()
        except Exception as error:
            raise errors.ConfigurationError(
                f"boto3 could not set up a Bedrock client: {type(error).__name__}: {error}",
                provider=self.name,
                hint="Check your AWS configuration: AWS_PROFILE, ~/.aws/config, and the AWS_* "
                     "variables in your environment.") from None
        # Whatever was signed with must never reach an error text, should a server echo it.
        # The access key id counts too: it names the account, and a SigV4 header echoed
        # back shows it (``Credential=AKIA.../date/region/...``).
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        self._secrets = [getattr(frozen, part, None) for part in ("access_key", "secret_key", "token")]
        # botocore turns a body it cannot parse into an empty result, silently: note how many
        # bytes arrived, so an empty result can say whether the body was cut or not Bedrock's.
        self._client.meta.events.register("before-parse.bedrock-runtime.Converse", _note_body_size)
        self._client.meta.events.register("before-send.bedrock-runtime", self._send_bounded)

    def _send_bounded(self, request, **_):
        """botocore hook: send the request as botocore would, and read its body through
        ``_Body`` so the call can bound it and let go of it. Outside a call: botocore's own."""
        call = _CURRENT.get()
        session = getattr(getattr(self._client, "_endpoint", None), "http_session", None)
        if call is None or session is None:  # (a botocore without them: its own reading)
            return None
        if call.ended.is_set():
            raise errors.ProviderUnavailableError(
                "the call ended before its request went out", provider=self.name)
        request.stream_output = True  # else the session reads the whole body at once
        response = session.send(request)
        response.raw = _Body(response.raw, call)
        call.hold(response.raw)
        return response

    def __repr__(self) -> str:
        where = display_url(self.settings.bedrock_endpoint_url) or f"region {self.region}"
        return f"BedrockProvider(model={self.model!r}, {where})"

    async def aclose(self) -> None:
        self._client.close()

    def _where(self) -> str:
        return display_url(self.settings.bedrock_endpoint_url) or f"Bedrock in {self.region}"

    def _request(self, messages: list[Message], max_tokens: int, temperature: float) -> dict:
        system, conversation = split_system(messages)
        request = {
            "modelId": self.model,
            "messages": [{"role": m.role, "content": [{"text": m.content}]} for m in conversation],
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature},
        }
        if system is not None:
            request["system"] = [{"text": system}]
        return request

    @staticmethod
    def _schema_field(schema: OutputSchema | None) -> dict:
        """The request field carrying ``chat(..., response_format=)``'s schema (none without one)."""
        if schema is None:
            return {}
        # verified 2026-12-01: AWS Bedrock API reference, OutputConfig / OutputFormat /
        # OutputFormatStructure / JsonSchemaDefinition -- textFormat {type: "json_schema",
        # structure: {jsonSchema: {schema: <the schema as a JSON *string*>, name, description}}},
        # for Converse and ConverseStream (user guide "Get validated JSON results from models").
        # The pinned botocore 1.44.8's bedrock-runtime model has outputConfig on both requests.
        return {"outputConfig": {"textFormat": {"type": "json_schema", "structure": {
            "jsonSchema": {"schema": schema.text, "name": schema.name}}}}}

    async def _complete(self, messages: list[Message], max_tokens: int, temperature: float, *,
                        schema: OutputSchema | None = None) -> Answer:
        request = {**self._request(messages, max_tokens, temperature), **self._schema_field(schema)}
        loop = asyncio.get_running_loop()
        call = _Call(Budget(self.name, max_tokens))
        try:
            result = await loop.run_in_executor(
                _threads(), _on_thread(call, lambda: self._client.converse(**request)))
        except Exception as error:
            raise self._translate(error) from None
        finally:
            call.release()  # timed out or cancelled: the thread stops reading now
        if "output" not in result:
            raise self._unreadable_answer(result)
        blocks = result["output"].get("message", {}).get("content", [])
        usage = result.get("usage", {})
        return Answer(self._joined_text(blocks), self.model,
                      Usage(usage.get("inputTokens"), usage.get("outputTokens")),
                      _finish(result.get("stopReason")))

    def _joined_text(self, blocks) -> str:
        """The text of Converse's content blocks; a block whose text is not text is an error
        (botocore does not check the types of what it parses)."""
        if not isinstance(blocks, list):
            raise self._not_bedrock(f'a "content" that is a {type(blocks).__name__}, not a list')
        texts = [block.get("text", "") if isinstance(block, dict) else block for block in blocks]
        for text in texts:
            if not isinstance(text, str):
                raise self._not_bedrock(f'a content block whose "text" is a {type(text).__name__}, not text')
        return "".join(texts)

    async def _pieces(self, stream: ChatStream, messages: list[Message], max_tokens: int,
                      temperature: float) -> AsyncIterator[str]:
        request = self._request(messages, max_tokens, temperature)
        call = _Call(Budget(self.name, max_tokens))

        def events():
            # A generator: the request goes out only once the relay's thread starts on it.
            response = _on_thread(call, lambda: self._client.converse_stream(**request))()
            content_type = response["ResponseMetadata"]["HTTPHeaders"].get("content-type", "")
            if content_type != _EVENT_STREAM:
                # An HTML page read as frames fails its "CRC": no damage, a wrong server.
                response["stream"].close()
                raise self._not_bedrock(f"a {content_type or 'untyped'} body instead of an event stream")
            yield from response["stream"]

        # On the pool (sized with botocore's connections); a consumer that stops early
        # releases the call, which shuts the socket a stalled read waits on.
        relay = ThreadRelay(events, executor=_threads(), on_stop=call.release)
        reading = relay.__aiter__()
        received, stopped = 0, False
        ended_at = None  # the loop's time when messageStop arrived
        try:
            while True:
                try:
                    # The answer is whole at messageStop: the metadata (usage) and the body's
                    # end get AFTER_END_S in total (reading to the end lets botocore reuse the
                    # connection), whatever the server sends meanwhile.
                    event = await next_read(reading, ended_at)
                except (StopAsyncIteration, TimeoutError):
                    break
                except Exception:
                    if ended_at is None:
                        raise
                    break  # the answer was whole: what broke after it does not matter
                if not isinstance(event, dict):
                    continue
                if "contentBlockDelta" in event and ended_at is None:
                    delta = event["contentBlockDelta"].get("delta")
                    if not isinstance(delta, dict):
                        # botocore turns a payload that is not JSON into an empty event:
                        # skipping it would return the answer with a piece missing.
                        raise self._not_bedrock(f"an event whose payload is not JSON after {received} chunks")
                    text = delta.get("text", "")
                    if not isinstance(text, str):
                        raise self._not_bedrock(
                            f'a delta whose "text" is a {type(text).__name__}, not text, after {received} chunks')
                    if text:
                        received += 1
                        yield text
                elif "messageStop" in event and ended_at is None:
                    stopped, ended_at = True, ended_now()
                    stream.finish_reason = _finish(event["messageStop"].get("stopReason"))
                elif "metadata" in event:
                    usage = event["metadata"].get("usage", {})
                    stream.usage = Usage(usage.get("inputTokens"), usage.get("outputTokens"))
            stream.model = self.model
        except Exception as error:  # botocore's, raised on the thread and handed over
            if isinstance(error, errors.ProviderError):
                raise
            typed = self._translate(error)
            if received and isinstance(typed, errors.ProviderUnavailableError):
                raise errors.IncompleteResponseError(
                    f"the stream broke after {received} chunks: {typed.message}",
                    provider=self.name) from None
            raise typed from None
        finally:
            await reading.aclose()  # stops the thread and releases the call
        if not stopped:
            # boto3's event stream ends silently when the connection drops.
            raise errors.IncompleteResponseError(
                f"the stream ended after {received} chunks without messageStop", provider=self.name)

    def _unreadable_answer(self, result: dict) -> errors.ProviderError:
        """Why Converse's result has no output: a body cut short, or not Bedrock's JSON."""
        headers = result.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        declared, received = headers.get("content-length"), result.get(_BODY_SIZE)
        if declared is not None and received is not None and received < int(declared):
            return errors.ProviderUnavailableError(
                f"the connection to {self._where()} closed after {received} of the {declared} bytes "
                "of the answer", provider=self.name,
                hint="The connection broke while reading the answer; retry the request.")
        content_type = headers.get("content-type", "")
        if "json" not in content_type:
            return self._not_bedrock(f"a {content_type or 'untyped'} body instead of Converse's JSON")
        return self._not_bedrock("JSON that does not parse, or without the answer's output")

    def _not_bedrock(self, what: str) -> errors.ProviderError:
        """A 200 whose body is not Bedrock's: what answered is most likely not Bedrock."""
        url = self.settings.bedrock_endpoint_url
        check = ("AI__BEDROCK_ENDPOINT_URL points at Bedrock (or unset it)" if url
                 else "no proxy between you and AWS rewrites the answer")
        return errors.ProviderError(
            f"{self._where()} answered 200 with {what}: not an answer from Bedrock's Converse API",
            provider=self.name, hint=f"Check that {check}; if it does, retry the request.")

    def _translate(self, error: BaseException) -> errors.ProviderError:
        name = self.name
        if isinstance(error, errors.ProviderError):
            return error
        undecodable = decode_failure(error)
        if undecodable is not None:
            # Not damage in transit: the body's length (and a stream's CRCs) were right.
            return invalid_utf8_error(undecodable, self._where(), provider=name)
        if isinstance(error, (botocore.exceptions.NoCredentialsError,
                              botocore.exceptions.PartialCredentialsError)):
            return errors.ConfigurationError(
                f"no AWS credentials found ({type(error).__name__})", provider=name,
                hint="Run `aws configure` or `aws sso login`, or set AWS_PROFILE "
                     "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).")
        if isinstance(error, (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError,
                              urllib3.exceptions.TimeoutError, TimeoutError)):
            # urllib3's own timeout reaches us from inside an event stream, unwrapped.
            return errors.ProviderUnavailableError(
                f"Bedrock did not answer within {self.settings.timeout_s:g} s", provider=name,
                hint="Raise AI__TIMEOUT_S, or check your network to AWS.")
        if isinstance(error, botocore.exceptions.EndpointConnectionError):
            return errors.ProviderUnavailableError(
                f"cannot reach Bedrock at {display_url(error.kwargs.get('endpoint_url')) or 'its endpoint'}",
                provider=name, hint="Check AI__AWS_REGION / AI__BEDROCK_ENDPOINT_URL and your network.")
        if isinstance(error, botocore.exceptions.ClientError):
            typed = self._client_error(error)
            headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            seconds = retry_after_seconds(headers)
            if seconds is not None:
                typed.retry_after = seconds
            return typed
        if isinstance(error, botocore.exceptions.InvalidEndpointConfigurationError):
            return self._endpoint_configuration_error(error)
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

    def _endpoint_configuration_error(self, error) -> errors.ConfigurationError:
        if "bearer" in str(error).lower():
            # AWS_BEARER_TOKEN_BEDROCK makes botocore send an API key, which it refuses
            # to send over plain http -- the emulator's scheme.
            return errors.ConfigurationError(
                f"AWS_BEARER_TOKEN_BEDROCK is set, and botocore sends that key only over https, "
                f"but AI__BEDROCK_ENDPOINT_URL is {display_url(self.settings.bedrock_endpoint_url)}",
                provider=self.name,
                hint="For the emulator (http://) unset AWS_BEARER_TOKEN_BEDROCK; for a real "
                     "endpoint use its https:// URL.")
        return errors.ConfigurationError(
            f"botocore refused the endpoint configuration: {error}", provider=self.name,
            hint="Check AI__BEDROCK_ENDPOINT_URL (or unset it) and AI__AWS_REGION.")

    def _client_error(self, error: botocore.exceptions.ClientError) -> errors.ProviderError:
        info = error.response.get("Error", {})
        code = str(info.get("Code", "")).strip()
        message = info.get("Message") or str(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if not code or code == str(status):
            # botocore puts the bare status where AWS's own error code belongs: the answer
            # was not Bedrock's (a web server or proxy at a wrong AI__BEDROCK_ENDPOINT_URL).
            return self._foreign_error(status)
        message = redact(message, self._secrets)
        aged = lifecycle_error(code, message, model=self.model, region=self.region, provider=self.name)
        if aged is not None:
            return aged
        text = f"{code}: {message} (model {self.model}, region {self.region})"
        kind = kind_of(status, code)
        name = self.name
        if kind == "access_denied":
            return errors.AuthenticationError(
                text, provider=name,
                hint="Your AWS identity lacks permission: check that your IAM policy (and any "
                     "organisation SCP) allows bedrock:InvokeModel "
                     f"for {self.model} in {self.region}; Anthropic models also need the one-time "
                     "use-case form in the Bedrock console.")
        if kind == "auth":
            return errors.AuthenticationError(
                text, provider=name,
                hint="Your AWS credentials were refused: check the keys / AWS_PROFILE, or `aws sso login` again.")
        if kind == "rate_limit":
            return errors.RateLimitError(
                text, provider=name,
                hint="Bedrock throttled the call: slow down, raise AI__MAX_RETRIES, or request a quota increase.")
        if kind == "not_found" or "model identifier is invalid" in message.lower():
            return errors.ModelNotFoundError(
                text, provider=name,
                hint=f"Check AI__MODEL is a Bedrock model id available in {self.region} "
                     "(`aws bedrock list-foundation-models`).")
        if kind == "server":
            return errors.ProviderUnavailableError(
                text, provider=name, hint="Bedrock is failing or the model is not ready; retry shortly.")
        return errors.ProviderError(text, provider=name, hint="Bedrock rejected the request; read its message.")


    def _foreign_error(self, status: int | None) -> errors.ProviderError:
        """An HTTP error without an AWS error code: something other than Bedrock answered."""
        name = self.name
        url = self.settings.bedrock_endpoint_url
        where = display_url(url) or f"the Bedrock endpoint of {self.region}"
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
                      f"(https://bedrock-runtime.{self.region}.amazonaws.com), or unset it.")
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


def _finish(stop_reason: str | None) -> str | None:
    return _FINISH.get(stop_reason, stop_reason)
