"""The Responses API (``/v1/responses``, Azure's ``/openai/v1/responses``) through the real
openai SDK's ``responses.create`` and ``responses.stream``."""

import json

import openai
import pytest

from workbook.ai.scripted import scripted_answer

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]
MODEL = "gpt-5.4-nano"


@pytest.fixture
async def client(emu):
    async with openai.AsyncOpenAI(base_url=f"{emu.url}/v1", api_key="any-key", max_retries=0) as c:
        yield c


@pytest.fixture
async def azure(emu):
    # Microsoft's v1 pattern: the plain OpenAI client on {endpoint}/openai/v1/, the resource's key.
    async with openai.AsyncOpenAI(base_url=f"{emu.url}/openai/v1/", api_key="emulator-key",
                                  max_retries=0) as c:
        yield c


async def test_create_returns_the_scripted_reply_and_usage(client):
    expected = scripted_answer(PROMPT, 512, source="emulator")
    response = await client.responses.create(model=MODEL, input=PROMPT, max_output_tokens=512)
    assert response.output_text == expected.text
    assert response.status == "completed"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (expected.input_tokens,
                                                                            expected.output_tokens)
    assert response.model == MODEL


async def test_a_string_input_and_instructions_are_a_conversation(client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    response = await client.responses.create(model=MODEL, instructions="Be brief.", input="Hi")
    assert response.output_text == scripted_answer(messages, 4096, source="emulator").text


async def test_max_output_tokens_makes_the_response_incomplete(client):
    response = await client.responses.create(model=MODEL, input=PROMPT, max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens == 3


async def test_stream_events_arrive_in_the_documented_order(client):
    stream = await client.responses.create(model=MODEL, input=PROMPT, stream=True)
    events = [event async for event in stream]
    kinds = [event.type for event in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    expected = scripted_answer(PROMPT, 4096, source="emulator")
    assert deltas == expected.text
    assert events[-1].response.usage.output_tokens == expected.output_tokens


async def test_the_sdks_stream_helper_assembles_the_final_response(client):
    async with client.responses.stream(model=MODEL, input=PROMPT) as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == final.output_text == scripted_answer(PROMPT, 4096, source="emulator").text


async def test_azure_v1_route_takes_the_deployment_in_the_body(emu, azure):
    response = await azure.responses.create(model=MODEL, input=PROMPT)
    assert response.output_text == scripted_answer(PROMPT, 4096, source="emulator").text
    assert emu.requests[-1].path == "/openai/v1/responses"


async def test_azure_refuses_a_wrong_key(emu):
    async with openai.AsyncOpenAI(base_url=f"{emu.url}/openai/v1/", api_key="wrong",
                                  max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as caught:
            await wrong.responses.create(model=MODEL, input=PROMPT)
    assert caught.value.status_code == 401


async def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        await client.responses.create(model="gpt-9", input=PROMPT)
    assert caught.value.code == "model_not_found"


async def test_a_body_of_the_wrong_shape_is_a_400_naming_the_field(client):
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model=MODEL, input=PROMPT, max_output_tokens=-1)
    assert caught.value.param == "max_output_tokens"


async def test_rate_limit_carries_retry_after(emu, client):
    emu.inject("rate_limit", retry_after=2)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.responses.create(model=MODEL, input=PROMPT)
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.code == "rate_limit_exceeded"
    assert (await client.responses.create(model=MODEL, input=PROMPT)).output_text  # times=1


async def test_azures_throttle_names_the_operation_of_the_route_called(emu, azure):
    emu.inject("rate_limit", times=2, retry_after=0, protocol="azure_openai")
    with pytest.raises(openai.RateLimitError) as on_responses:
        await azure.responses.create(model=MODEL, input=PROMPT)
    with pytest.raises(openai.RateLimitError) as on_chat:
        await azure.chat.completions.create(model=MODEL, messages=PROMPT)
    assert "Requests to the Responses_Create Operation" in on_responses.value.message
    assert "Requests to the ChatCompletions_Create Operation" in on_chat.value.message
    assert [r.path for r in emu.requests] == ["/openai/v1/responses", "/openai/v1/chat/completions"]


@pytest.mark.parametrize("fault, error", [("server_error", openai.InternalServerError),
                                          ("auth", openai.AuthenticationError)])
async def test_status_faults(emu, client, fault, error):
    emu.inject(fault)
    with pytest.raises(error):
        await client.responses.create(model=MODEL, input=PROMPT)


async def test_an_error_inside_the_stream_is_an_error_event(emu, client):
    # The SDK hands the documented ``error`` event (code, message, param) to the caller
    # rather than raising: the provider reads it (test_responses_api.py).
    emu.inject("rate_limit", in_stream=True)
    stream = await client.responses.create(model=MODEL, input=PROMPT, stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == ["response.created", "response.in_progress", "error"]
    assert events[-1].code == "rate_limit_exceeded" and "Rate limit" in events[-1].message


async def test_a_cut_stream_ends_without_response_completed(emu, client):
    emu.inject("cut_stream", after_chunks=2)
    stream = await client.responses.create(model=MODEL, input=PROMPT, stream=True)
    events = [event async for event in stream]
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == ["Scripted", " reply"]
    assert "response.completed" not in [e.type for e in events]


async def test_a_cut_body_does_not_parse(emu, client):
    emu.inject("cut_stream")
    with pytest.raises(json.JSONDecodeError):
        await client.responses.create(model=MODEL, input=PROMPT)


async def test_a_malformed_stream_raises(emu, client):
    emu.inject("malformed")
    stream = await client.responses.create(model=MODEL, input=PROMPT, stream=True)
    with pytest.raises(json.JSONDecodeError):
        async for _ in stream:
            pass


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
          "additionalProperties": False}


async def test_structured_output_through_text_format(client):
    response = await client.responses.create(
        model=MODEL, input=PROMPT,
        text={"format": {"type": "json_schema", "name": "capital", "schema": SCHEMA, "strict": True}})
    assert set(json.loads(response.output_text)) == {"city"}


async def test_a_strict_schema_that_breaks_the_rules_is_refused(client):
    loose = {"type": "object", "properties": {"city": {"type": "string"}}}
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model=MODEL, input=PROMPT,
            text={"format": {"type": "json_schema", "name": "capital", "schema": loose, "strict": True}})
    assert caught.value.param == "text.format"
