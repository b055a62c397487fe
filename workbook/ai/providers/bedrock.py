"""``bedrock``: AWS Bedrock's Converse and ConverseStream APIs through boto3.

Credentials come from the normal AWS chain (environment, profile, SSO); there is no API key
setting. boto3 blocks: ``_botocore_io`` runs every call on a thread pool of its own, bounds
what it reads and lets go of a call that ended. botocore makes one attempt per call:
``answer_call`` / ``stream_call`` retry, so AI__TIMEOUT_S bounds the whole call.
"""

from __future__ import annotations

import boto3
from botocore.config import Config

from .. import errors
from ..registry import get_spec
from ..settings import AISettings, display_url
from ..structured import OutputSchema
from ..types import Message, Usage, split_system
from ._botocore_errors import translate, unreadable_answer
from ._botocore_io import POOL_SIZE, call_in_thread, events_in_thread, install
from .base import Answer, RemoteProvider, StreamInfo, answer_call, stream_call

# Bedrock's stop reasons in the words every other provider uses.
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class BedrockProvider(RemoteProvider):
    name = "bedrock"

    def __init__(self, settings: AISettings | None = None, *, session: boto3.Session | None = None):
        settings = settings or AISettings(provider=self.name)
        if not settings.aws_region:
            raise errors.ConfigurationError("bedrock needs AI__AWS_REGION (Bedrock serves models per region)",
                                            provider=self.name, hint="Set AI__AWS_REGION, e.g. us-east-1.")
        self.settings, self.region = settings, settings.aws_region
        self.model = settings.model or get_spec(self.name).default_model
        config = Config(region_name=settings.aws_region, retries={"total_max_attempts": 1, "mode": "standard"},
                        connect_timeout=min(settings.timeout_s, 10.0), read_timeout=settings.timeout_s,
                        max_pool_connections=POOL_SIZE)
        try:  # the credentials chain is resolved here: a broken AWS profile fails now
            session = session or boto3.Session()
            self._client = session.client("bedrock-runtime", endpoint_url=settings.bedrock_endpoint_url, config=config)
            credentials = session.get_credentials()
        except Exception as error:
            raise errors.ConfigurationError(
                f"boto3 could not set up a Bedrock client: {type(error).__name__}: {error}", provider=self.name,
                hint="Check your AWS configuration: AWS_PROFILE, ~/.aws/config, and the AWS_* "
                     "variables in your environment.") from None
        # What was signed with never reaches an error text, should a server echo it; the access
        # key id counts too (a SigV4 header echoed back shows ``Credential=AKIA.../...``).
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        self._secrets = [getattr(frozen, part, None) for part in ("access_key", "secret_key", "token")]
        install(self._client, self.name)

    @answer_call
    async def chat(self, messages: list[Message], *, max_tokens: int, temperature: float,
                   schema: OutputSchema | None = None) -> Answer:
        request = {**self._request(messages, max_tokens, temperature), **self._schema_field(schema)}
        try:
            result = await call_in_thread(lambda: self._client.converse(**request),
                                          provider=self.name, max_tokens=max_tokens)
        except Exception as error:
            raise translate(self, error) from None
        if "output" not in result:
            raise unreadable_answer(self, result)
        usage = result.get("usage", {})
        return Answer(self._joined_text(result["output"].get("message", {}).get("content", [])), self.model,
                      Usage(usage.get("inputTokens"), usage.get("outputTokens")), _finish(result.get("stopReason")))

    @stream_call
    async def chat_stream(self, messages: list[Message], *, max_tokens: int, temperature: float):
        request = self._request(messages, max_tokens, temperature)

        def open_stream():
            response = self._client.converse_stream(**request)
            content_type = response["ResponseMetadata"]["HTTPHeaders"].get("content-type", "")
            if content_type != "application/vnd.amazon.eventstream":
                # An HTML page read as frames fails its "CRC": no damage, a wrong server.
                response["stream"].close()
                raise self._not_bedrock(f"a {content_type or 'untyped'} body instead of an event stream")
            return response["stream"]

        reading = events_in_thread(open_stream, provider=self.name, max_tokens=max_tokens)
        received, stopped = 0, False
        try:
            # After messageStop come the metadata (usage) and the body's end.
            async for event in reading:
                if not isinstance(event, dict):
                    continue
                if "contentBlockDelta" in event and not stopped:
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
                elif "messageStop" in event and not stopped:
                    stopped = True
                    yield StreamInfo(_finish(event["messageStop"].get("stopReason")), model=self.model)
                elif "metadata" in event:
                    usage = event["metadata"].get("usage", {})
                    yield StreamInfo(usage=Usage(usage.get("inputTokens"), usage.get("outputTokens")))
        except Exception as error:  # botocore's, raised on the thread and handed over
            if isinstance(error, errors.ProviderError):
                raise
            typed = translate(self, error)
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

    def _request(self, messages: list[Message], max_tokens: int, temperature: float) -> dict:
        system, conversation = split_system(messages)
        request = {"modelId": self.model,
                   "messages": [{"role": m.role, "content": [{"text": m.content}]} for m in conversation],
                   "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature}}
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

    # -- errors: the hints; _botocore_errors maps botocore's failures to them --------------
    _hints = {
        "access_denied": "Your AWS identity may not call {model} in {region}: check that your IAM policy (and "
                         "any organisation SCP) allows bedrock:InvokeModel on it; a first call to a third-party "
                         "model also needs the Marketplace permissions, and an Anthropic model the one-time "
                         "use-case form in the Bedrock console.",
        "auth": "Your AWS credentials were refused: check the keys / AWS_PROFILE, or `aws sso login` again.",
        "rate_limit": errors.RateLimitError.default_hint,   # the course's one wording for a 429
        "not_found": "Check AI__MODEL is a Bedrock model id available in {region} (`aws bedrock list-foundation-models`).",
        "server": "Bedrock is failing or the model is not ready; retry shortly.",
        "rejected": "Bedrock rejected the request; read its message.",
    }

    def _not_bedrock(self, what: str) -> errors.ProviderError:
        """A 200 whose body is not Bedrock's: what answered is most likely not Bedrock."""
        url = self.settings.bedrock_endpoint_url
        check = ("AI__BEDROCK_ENDPOINT_URL points at Bedrock (or unset it)" if url
                 else "no proxy between you and AWS rewrites the answer")
        return errors.ProviderError(
            f"{self._where()} answered 200 with {what}: not an answer from Bedrock's Converse API",
            provider=self.name, hint=f"Check that {check}; if it does, retry the request.")

    def _where(self) -> str:
        return display_url(self.settings.bedrock_endpoint_url) or f"Bedrock in {self.region}"

    def __repr__(self) -> str:
        where = display_url(self.settings.bedrock_endpoint_url) or f"region {self.region}"
        return f"BedrockProvider(model={self.model!r}, {where})"

    async def aclose(self) -> None:
        self._client.close()


def _finish(stop_reason: str | None) -> str | None:
    return _FINISH.get(stop_reason, stop_reason)
