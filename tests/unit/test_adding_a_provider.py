"""Adding an OpenAI-compatible provider is its file plus one registry entry.

A "groq_like" provider is written to a temporary module (a thin subclass: name and
hints), registered once, and then every part of the workbook that lists providers sees
it: settings, the factory, doctor, the picker, the emulator's env and the conformance
checker -- which runs it through the real openai SDK against the emulator.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from workbook.ai import AISettings, create_ai_provider, Message, ProviderType
from workbook.ai import catalog
from workbook.ai.registry import builtin_names, openai_compatible, register_provider, unregister_provider
from workbook.compare.prices import find_price, normalise_prices
from workbook.conformance import check_provider

PROVIDER_FILE = '''
from workbook.ai.providers.openai import OpenAIProvider


class GroqLikeProvider(OpenAIProvider):
    name = "groq_like"
    hints = {
        "auth": "Check AI__OPENAI_API_KEY: create a key in the Groq-like console.",
        "not_found": "Check AI__MODEL against GET /openai/v1/models.",
        "unavailable": "Check AI__OPENAI_BASE_URL and your network.",
    }
'''


# A model the price table knows, so the price falls back to the registry's default model.
PRICED_MODEL = catalog.default_model("openai")


@pytest.fixture
def groq_like(tmp_path, monkeypatch):
    (tmp_path / "groq_like_provider.py").write_text(textwrap.dedent(PROVIDER_FILE))
    monkeypatch.syspath_prepend(str(tmp_path))
    register_provider(openai_compatible(
        "groq_like", "groq_like_provider:GroqLikeProvider",
        default_url="https://api.groq-like.invalid/openai/v1", default_model=PRICED_MODEL))
    yield "groq_like"
    unregister_provider("groq_like")
    sys.modules.pop("groq_like_provider", None)


def test_provider_type_is_the_public_enum_of_the_design():
    # shared/DESIGN.md names these values; ProviderType is made from the registry's built-ins.
    design = ["azure_openai", "openai", "bedrock", "ollama", "lmstudio", "vllm", "local", "mock"]
    assert [member.value for member in ProviderType] == design == list(builtin_names())
    assert ProviderType.OLLAMA == "ollama" and str(ProviderType.AZURE_OPENAI) == "azure_openai"


def test_a_registered_provider_is_accepted_everywhere(groq_like, emu):
    assert AISettings(provider="GROQ_LIKE").provider == "groq_like"

    env = emu.env("groq_like")
    assert env["AI__PROVIDER"] == "groq_like"
    assert env["AI__OPENAI_BASE_URL"] == f"{emu.url}/v1"

    provider = create_ai_provider(emu.settings("groq_like"))
    assert type(provider).__name__ == "GroqLikeProvider"
    assert provider.model == "smollm2" and provider.base_url == f"{emu.url}/v1"
    import asyncio

    reply = asyncio.run(provider.chat([Message("user", "hello")], max_tokens=8))
    assert reply.content and reply.provider == "groq_like"
    assert emu.requests[-1].protocol == "openai"

    # Not chosen, it is probed at its own default URL; without a model it uses the registry's.
    unchosen = create_ai_provider(AISettings(provider="groq_like", openai_api_key="k"))
    assert unchosen.base_url == "https://api.groq-like.invalid/openai/v1"
    assert unchosen.model == PRICED_MODEL
    assert find_price(normalise_prices(), "x", type("P", (), {"name": "groq_like"})())[0] == PRICED_MODEL


def test_doctor_and_picker_list_it(groq_like):
    from workbook.doctor import _provider_rows
    from workbook.widgets.picker import ProviderPicker

    rows, facts = _provider_rows(AISettings(provider="mock"))
    assert "groq_like" in [row.check for row in rows]
    assert facts["groq_like"]["url"] == "https://api.groq-like.invalid/openai/v1"
    picker = ProviderPicker(AISettings(provider="mock"), probe=False)
    assert "groq_like" in [value for _, value in picker.dropdown.options]


def test_the_conformance_checker_runs_it_over_the_openai_wire(groq_like, emu):
    from groq_like_provider import GroqLikeProvider

    report = check_provider(GroqLikeProvider, emulator=emu)
    assert report.protocol == "openai"  # the wire its registry entry names
    assert report.passed and not report.skipped, str(report)


def test_the_registry_lists_what_the_tests_and_commands_cover(groq_like):
    from workbook.ai.registry import PROTOCOLS, get_spec, network_names, openai_compatible_names

    network = network_names()
    assert "groq_like" in network and "groq_like" in openai_compatible_names()
    assert not {"local", "mock"} & set(network)
    assert all(get_spec(name).protocol in PROTOCOLS and get_spec(name).url_field for name in network)
    assert set(openai_compatible_names()) <= set(network)


def test_a_self_hosted_provider_is_priced_by_its_machine(tmp_path, monkeypatch):
    register_provider(openai_compatible("own_gpu_box", "workbook.ai.providers.vllm:VLLMProvider",
                                        default_url="http://localhost:9000/v1", hosting="gpu"))
    try:
        prices = normalise_prices()
        assert prices["own_gpu_box"].per_hour == prices["vllm"].per_hour > prices["ollama"].per_hour
    finally:
        unregister_provider("own_gpu_box")


def test_a_provider_that_requires_a_key_is_built_against_the_emulator(emu):
    import asyncio

    register_provider(openai_compatible("keyed_server", "workbook.ai.providers.vllm:VLLMProvider",
                                        default_url="https://keyed.invalid/v1",
                                        required=("openai_api_key",)))
    try:
        provider = create_ai_provider(emu.settings("keyed_server"))
        reply = asyncio.run(provider.chat([Message("user", "hello")], max_tokens=8))
        assert reply.content
    finally:
        unregister_provider("keyed_server")
