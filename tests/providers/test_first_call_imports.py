"""A provider's first call imports nothing: what its SDK and transport load lazily is loaded
when the provider is built, not on the event loop inside the first call's deadline.

Each provider is built and called in a fresh interpreter (in this process, other tests have
long imported everything), against the emulator in a process of its own (so the server's
imports are not counted); the child reports which modules appeared in ``sys.modules`` while
it was built and during its first ``chat`` and first ``chat_stream``. Building must import
something -- the SDK -- or the probe saw nothing at all.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from workbook.ai.registry import get_spec, network_names

# The OpenAI-style providers also speak the Responses API, whose SDK code is another module.
CASES = [(name, "chat_completions") for name in network_names()] + [
    (name, "responses") for name in network_names() if get_spec(name).protocol in ("openai", "azure_openai")]

CHILD = """
import asyncio, json, os, sys
from workbook.ai import Message, create_ai_provider
from workbook.ai.registry import get_spec
from workbook.ai.settings import settings_from_mapping
from workbook.emulator.emulator import API_KEY

name, api, url = sys.argv[1:]
env = get_spec(name).env_for_emulator(url, API_KEY)
os.environ.update({key: value for key, value in env.items() if key.startswith("AWS_")})
if get_spec(name).protocol in ("openai", "azure_openai"):
    env["AI__OPENAI_API"] = api

def imported_by(action):
    before = set(sys.modules)
    result = action()
    return result, sorted(set(sys.modules) - before)

async def first_calls(provider):
    _, chat = await imported_by_async(provider.chat([Message("user", "hi")], max_tokens=8))
    async def drain():
        return [piece async for piece in provider.chat_stream([Message("user", "hi")], max_tokens=8)]
    _, stream = await imported_by_async(drain())
    await provider.aclose()
    return chat, stream

async def imported_by_async(coroutine):
    before = set(sys.modules)
    result = await coroutine
    return result, sorted(set(sys.modules) - before)

provider, built = imported_by(lambda: create_ai_provider(settings_from_mapping(env)))
chat, stream = asyncio.run(first_calls(provider))
print(json.dumps({"built": len(built), "chat": chat, "chat_stream": stream}))
"""


@pytest.fixture(scope="module")
def emulator_url():
    process = subprocess.Popen([sys.executable, "-m", "workbook.emulator", "--port", "0", "--ttft-s", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        found = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        assert found, "the emulator did not say where it listens"
        yield found.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(("name", "api"), CASES)
def test_the_first_chat_and_stream_import_no_module(emulator_url, name, api):
    child = subprocess.run([sys.executable, "-c", CHILD, name, api, emulator_url],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    seen = json.loads(child.stdout.splitlines()[-1])
    assert seen["built"] > 0, "building the provider imported nothing: the probe cannot see imports"
    assert seen["chat"] == [], f"{name}'s first chat imported {seen['chat']}"
    assert seen["chat_stream"] == [], f"{name}'s first chat_stream imported {seen['chat_stream']}"
