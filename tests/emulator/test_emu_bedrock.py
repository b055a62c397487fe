"""Bedrock Converse / ConverseStream through real boto3: its own parser reads our frames."""

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from workbook.ai.scripted import scripted_answer

MODEL = "amazon.nova-micro-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Summarise the water cycle."}]}]
SYSTEM = [{"text": "Be brief."}]
AS_CHAT = [{"role": "system", "content": "Be brief."},
           {"role": "user", "content": "Summarise the water cycle."}]


@pytest.fixture(scope="module")
def bedrock(emu):
    return boto3.client(
        "bedrock-runtime", endpoint_url=emu.url, region_name="us-east-1",
        aws_access_key_id="emulator", aws_secret_access_key="emulator-secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def _code(caught) -> str:
    return caught.value.response["Error"]["Code"]


def test_converse_round_trip(emu, bedrock):
    expected = scripted_answer(AS_CHAT, 4096, source="emulator")
    reply = bedrock.converse(modelId=MODEL, messages=MESSAGES, system=SYSTEM,
                             inferenceConfig={"maxTokens": 4096, "temperature": 0.2})
    assert reply["output"]["message"] == {"role": "assistant", "content": [{"text": expected.text}]}
    assert reply["stopReason"] == "end_turn"
    assert reply["usage"] == {"inputTokens": expected.input_tokens,
                              "outputTokens": expected.output_tokens,
                              "totalTokens": expected.input_tokens + expected.output_tokens}
    assert isinstance(reply["metrics"]["latencyMs"], int)
    record = emu.requests[-1]
    assert record.path == f"/model/{MODEL}/converse" and record.protocol == "bedrock"
    assert record.headers["authorization"] == "AWS4-HMAC-SHA256 ***redacted***"  # SigV4, signature masked
    assert record.body["inferenceConfig"] == {"maxTokens": 4096, "temperature": 0.2}


def test_max_tokens_stop_reason(bedrock):
    reply = bedrock.converse(modelId=MODEL, messages=MESSAGES, inferenceConfig={"maxTokens": 2})
    assert reply["stopReason"] == "max_tokens" and reply["usage"]["outputTokens"] == 2


def test_converse_stream_events(bedrock):
    response = bedrock.converse_stream(modelId="us.amazon.nova-micro-v1:0",
                                       messages=MESSAGES, system=SYSTEM)
    events = list(response["stream"])
    names = [next(iter(e)) for e in events]
    assert names[0] == "messageStart" and names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(names[1:-3]) == {"contentBlockDelta"}
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == scripted_answer(AS_CHAT, 4096, source="emulator").text
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == len(names) - 4


def test_frames_decode_with_botocore_event_stream_buffer(emu):
    # Signed-looking header: the emulator checks the scheme, not the signature.
    headers = {"authorization": "AWS4-HMAC-SHA256 Credential=emulator/20240101/us-east-1/bedrock/aws4_request"}
    response = httpx.post(f"{emu.url}/model/amazon.nova-micro-v1%3A0/converse-stream",
                          json={"messages": MESSAGES}, headers=headers)
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    buffer = EventStreamBuffer()
    buffer.add_data(response.content)
    messages = list(buffer)
    for message in messages:
        assert message.headers[":message-type"] == "event"
        assert message.headers[":content-type"] == "application/json"
    assert messages[0].headers[":event-type"] == "messageStart"
    assert emu.requests[-1].path == "/model/amazon.nova-micro-v1:0/converse-stream"


def test_unsigned_request_is_403(emu):
    response = httpx.post(f"{emu.url}/model/{MODEL}/converse", json={"messages": MESSAGES})
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException")
    assert response.json() == {"message": "Missing Authentication Token"}


def test_unknown_model_is_validation_exception(bedrock):
    with pytest.raises(ClientError) as caught:
        bedrock.converse(modelId="anthropic.claude-9", messages=MESSAGES)
    assert _code(caught) == "ValidationException"
    assert caught.value.response["Error"]["Message"] == "The provided model identifier is invalid."


@pytest.mark.parametrize("fault, options, code, status", [
    ("rate_limit", {}, "ThrottlingException", 429),
    ("server_error", {}, "InternalServerException", 500),
    ("server_error", {"status": 503}, "ServiceUnavailableException", 503),
    ("auth", {}, "UnrecognizedClientException", 403),
    ("model_not_found", {}, "ValidationException", 400),
    ("access_denied", {}, "AccessDeniedException", 403),
    ("validation", {"message": "on-demand throughput isn't supported"}, "ValidationException", 400),
])
def test_faults_raise_client_error_with_native_code(emu, bedrock, fault, options, code, status):
    emu.inject(fault, **options)
    with pytest.raises(ClientError) as caught:
        bedrock.converse(modelId=MODEL, messages=MESSAGES)
    assert _code(caught) == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_throttling_before_a_stream(emu, bedrock):
    emu.inject("rate_limit")
    with pytest.raises(ClientError) as caught:
        bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)
    assert _code(caught) == "ThrottlingException"


def test_throttling_inside_a_stream_is_an_exception_frame(emu, bedrock):
    emu.inject("rate_limit", in_stream=True)
    response = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)
    with pytest.raises(EventStreamError) as caught:
        list(response["stream"])
    assert _code(caught) == "throttlingException"


def test_cut_stream_has_no_message_stop(emu, bedrock):
    emu.inject("cut_stream", after_chunks=3)
    events = list(bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
    assert [next(iter(e)) for e in events] == ["messageStart"] + ["contentBlockDelta"] * 3


def test_bad_crc_raises(emu, bedrock):
    emu.inject("malformed")
    response = bedrock.converse_stream(modelId=MODEL, messages=MESSAGES)
    with pytest.raises(ChecksumMismatch):
        list(response["stream"])


def test_malformed_json_is_not_raised_by_boto3(emu, bedrock):
    # botocore turns an unparseable 200 body into {"message": <text>} instead of raising:
    # the reply simply lacks "output" and "stopReason", and the provider must notice.
    emu.inject("malformed")
    reply = bedrock.converse(modelId=MODEL, messages=MESSAGES)
    assert "output" not in reply and "stopReason" not in reply
