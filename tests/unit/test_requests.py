"""Bad input fails before any network call, with a message naming the field."""

import pytest

from workbook.ai import InvalidRequestError, Message, create_ai_provider

BAD = [
    ([], {}, "messages is empty"),
    ([Message("robot", "hi")], {}, "messages[0].role"),
    ([{"role": "user", "content": 42}], {}, "messages[0].content"),
    ("hello", {}, "messages must be a list"),
    ([Message("user", "hi")], {"max_tokens": 0}, "max_tokens"),
    ([Message("user", "hi")], {"max_tokens": 2.5}, "max_tokens"),
    ([Message("user", "hi")], {"temperature": 2.5}, "temperature"),
    ([Message("user", "hi")], {"temperature": -0.1}, "temperature"),
]


@pytest.mark.parametrize("provider", ["openai", "ollama", "mock", "azure_openai", "bedrock"])
@pytest.mark.parametrize("messages, options, field", BAD)
async def test_bad_input_is_refused_before_any_io(provider, messages, options, field):
    # Every network provider points at a port nothing listens on: reaching the network
    # would raise ProviderUnavailableError instead of InvalidRequestError.
    settings = dict(openai_base_url="http://127.0.0.1:9/v1", ollama_base_url="http://127.0.0.1:9",
                    azure_openai_endpoint="http://127.0.0.1:9", azure_openai_api_key="k",
                    azure_openai_deployment="d", aws_region="us-east-1",
                    bedrock_endpoint_url="http://127.0.0.1:9", max_retries=0)
    p = create_ai_provider(provider=provider, **settings)
    with pytest.raises(InvalidRequestError) as caught:
        await p.chat(messages, **options)
    assert field in str(caught.value)
    with pytest.raises(InvalidRequestError):
        p.chat_stream(messages, **options)  # refused when called, before iteration


async def test_dict_messages_are_accepted():
    p = create_ai_provider(provider="mock", mock_ttft_s=0)
    reply = await p.chat([{"role": "user", "content": "hi"}])
    assert reply.content
