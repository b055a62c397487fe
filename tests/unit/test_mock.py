import asyncio
import time

from workbook.ai import AIProvider, AISettings, Message, create_ai_provider
from workbook.ai.providers.mock import MockProvider
from workbook.ai.scripted import scripted_reply

QUESTION = [Message("system", "Be brief."), Message("user", "What is the capital of France?")]


async def test_reply_is_deterministic_and_derived_from_the_prompt():
    p = create_ai_provider(provider="mock", mock_ttft_s=0, mock_tokens_per_s=10_000)
    first, second = await p.chat(QUESTION), await p.chat(QUESTION)
    other = await p.chat([Message("user", "Something else entirely")])
    assert first.content == second.content == scripted_reply(QUESTION, source="mock")
    assert other.content != first.content
    assert "capital of France" in first.content
    assert first.provider == "mock" and first.finish_reason == "stop"


async def test_stream_pieces_join_to_the_reply_and_report_usage():
    p = create_ai_provider(provider="mock", mock_ttft_s=0, mock_tokens_per_s=10_000)
    stream = p.chat_stream(QUESTION)
    pieces = [piece async for piece in stream]
    assert len(pieces) > 5
    assert "".join(pieces) == scripted_reply(QUESTION, source="mock")
    assert stream.usage.output_tokens == len(pieces)
    assert stream.usage.input_tokens > 0
    assert stream.finish_reason == "stop"


def test_the_mock_and_the_emulator_say_the_same_prompt_in_words_of_their_own():
    # Notebooks 04 and 05 show both side by side: the text itself names who sent it.
    mock, emulator = (scripted_reply(QUESTION, source=source) for source in ("mock", "emulator"))
    assert mock.startswith("Scripted reply from the mock") and emulator.startswith("Scripted reply from the emulator")


async def test_max_tokens_cuts_with_length():
    p = MockProvider(AISettings(provider="mock", mock_ttft_s=0))
    reply = await p.chat(QUESTION, max_tokens=3)
    assert reply.usage.output_tokens == 3 and reply.finish_reason == "length"


async def test_latency_model_is_honoured():
    # The mock paces each token to a schedule (first after ttft_s, then one every 1/tokens_per_s):
    # no token may come early. A busy machine only makes them late, so lateness is not bounded
    # here; the measured rate against the configured one is benchmarks/timing_accuracy.py's.
    p = create_ai_provider(provider="mock", mock_ttft_s=0.2, mock_tokens_per_s=50)
    started = time.perf_counter()
    arrivals = [time.perf_counter() - started async for _ in p.chat_stream(QUESTION)]
    # Token i (0-based) is due no sooner than ttft_s + i / tokens_per_s after the call began.
    due = [p.pace.ttft_s + index / p.pace.tokens_per_s for index in range(len(arrivals))]
    early = [(i, round(at, 4), round(d, 4)) for i, (at, d) in enumerate(zip(arrivals, due)) if at < d - 0.002]
    assert len(arrivals) > 5 and not early, f"tokens arrived before their time (index, at, due): {early}"


async def test_concurrent_calls_overlap():
    # Overlap as events: every call started before the first one ended (one after another,
    # the first would end before the second began).
    p = create_ai_provider(provider="mock", mock_ttft_s=0.2, mock_tokens_per_s=1000)
    starts, ends = [], []

    async def call(i):
        starts.append(time.perf_counter())
        reply = await p.chat([Message("user", f"q{i}")])
        ends.append(time.perf_counter())
        return reply

    replies = await asyncio.gather(*(call(i) for i in range(8)))
    assert max(starts) < min(ends), "a call began only after another had finished"
    assert len({r.content for r in replies}) == 8


async def test_reply_function_like_a_function_model():
    p = MockProvider(reply=lambda messages: "forty-two")
    assert (await p.chat([Message("user", "meaning of life?")])).content == "forty-two"
    assert isinstance(p, AIProvider)


async def test_settings_give_the_default_limits_and_it_closes_like_any_provider():
    async with create_ai_provider(provider="mock", mock_ttft_s=0, max_tokens=3) as p:
        assert (await p.chat(QUESTION)).usage.output_tokens == 3
        assert (await p.chat(QUESTION, max_tokens=5)).usage.output_tokens == 5
    await p.aclose()  # closing twice is harmless
