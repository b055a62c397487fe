"""Adding an OpenAI-compatible provider is one registry entry, as the README says.

"groq_like" is registered the README's way -- ``openai_compatible(...)`` with its default URL,
key, model and hints, no class -- and then every part of the workbook that lists providers
sees it: settings (``AI__GROQ_LIKE_BASE_URL`` / ``AI__GROQ_LIKE_API_KEY``), the factory,
doctor, the picker, the emulator's env, the conformance checker, the hostile-server faults,
the secret redaction and a comparison racing it against another OpenAI-compatible server
configured beside it. The other way, a class file plus its entry, is checked too.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap

import pytest

from workbook.ai import AISettings, Message, ProviderType, catalog, create_ai_provider
from workbook.ai.errors import AuthenticationError
from workbook.ai.registry import builtin_names, openai_compatible, register_provider, unregister_provider
from workbook.ai.settings import settings_from_mapping
from workbook.compare.prices import find_price, normalise_prices
from workbook.conformance import check_provider

# A model the price table knows, so the price falls back to the registry's default model.
PRICED_MODEL = catalog.default_model("openai")
GROQ_LIKE_HINTS = {"auth": "Check AI__GROQ_LIKE_API_KEY: create a key in the Groq-like console.",
                   "unavailable": "Check AI__GROQ_LIKE_BASE_URL and your network."}

PROVIDER_FILE = '''
from workbook.ai.providers.openai import OpenAIProvider


class FileLikeProvider(OpenAIProvider):
    name = "file_like"
    hints = {
        "auth": "Check AI__FILE_LIKE_API_KEY.",
        "not_found": "Check AI__MODEL against GET /v1/models.",
        "unavailable": "Check AI__FILE_LIKE_BASE_URL and your network.",
    }
'''


@pytest.fixture
def groq_like():
    register_provider(openai_compatible(
        "groq_like", default_url="https://api.groq-like.invalid/openai/v1", default_model=PRICED_MODEL,
        needs_key=True, strict_schema=True, hints=GROQ_LIKE_HINTS))
    yield "groq_like"
    unregister_provider("groq_like")


@pytest.fixture
def file_like(tmp_path, monkeypatch):
    (tmp_path / "file_like_provider.py").write_text(textwrap.dedent(PROVIDER_FILE))
    monkeypatch.syspath_prepend(str(tmp_path))
    register_provider(openai_compatible("file_like", "file_like_provider:FileLikeProvider",
                                        default_url="http://localhost:9999/v1"))
    yield "file_like"
    unregister_provider("file_like")
    sys.modules.pop("file_like_provider", None)


def test_provider_type_is_the_public_enum_of_the_design():
    # shared/DESIGN.md names these values; ProviderType is made from the registry's built-ins.
    design = ["azure_openai", "openai", "bedrock", "ollama", "lmstudio", "vllm", "local", "mock"]
    assert [member.value for member in ProviderType] == design == list(builtin_names())
    assert ProviderType.OLLAMA == "ollama" and str(ProviderType.AZURE_OPENAI) == "azure_openai"


def test_an_entry_alone_is_a_provider_configured_by_its_own_variables(groq_like, emu):
    assert AISettings(provider="GROQ_LIKE").provider == "groq_like"

    env = emu.env("groq_like")
    assert env["AI__PROVIDER"] == "groq_like"
    assert env["AI__GROQ_LIKE_BASE_URL"] == f"{emu.url}/v1" and "AI__OPENAI_BASE_URL" not in env

    provider = create_ai_provider(emu.settings("groq_like"))
    assert type(provider).__name__ == "GroqLikeProvider" and provider.hints["auth"] == GROQ_LIKE_HINTS["auth"]
    assert provider.model == "smollm2" and provider.base_url == f"{emu.url}/v1"
    reply = asyncio.run(provider.chat([Message("user", "hello")], max_tokens=8))
    assert reply.content and reply.provider == "groq_like"
    assert emu.requests[-1].protocol == "openai"

    # Its key is required, and named by its own variable; without a URL it uses its default.
    with pytest.raises(Exception, match="AI__GROQ_LIKE_API_KEY"):
        create_ai_provider(AISettings(provider="groq_like"))
    unset = create_ai_provider(AISettings(provider="groq_like", groq_like_api_key="k"))
    assert unset.base_url == "https://api.groq-like.invalid/openai/v1" and unset.model == PRICED_MODEL
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
    from workbook.ai.registry import get_spec, provider_factory

    report = check_provider(provider_factory(get_spec("groq_like")), emulator=emu)
    assert report.protocol == "openai"  # the wire its registry entry names
    assert report.passed and not report.skipped, str(report)


def test_a_file_and_its_entry_also_make_a_provider(file_like, emu):
    from file_like_provider import FileLikeProvider

    provider = create_ai_provider(emu.settings("file_like"))
    assert type(provider) is FileLikeProvider and provider.base_url == f"{emu.url}/v1"
    report = check_provider(FileLikeProvider, emulator=emu)
    assert report.passed and not report.skipped, str(report)


def test_the_hostile_server_faults_reach_it_typed_and_without_its_key(groq_like):
    from hostile_server import FAULTS, HostileServer, provider_settings

    key = "groq-like-SECRET-key-0042"
    with HostileServer(FAULTS["auth_401"]) as server:
        settings = provider_settings("groq_like", server.url, groq_like_api_key=key, max_retries=0)
        provider = create_ai_provider(settings)
        with pytest.raises(AuthenticationError) as caught:
            asyncio.run(provider.chat([Message("user", "hello")], max_tokens=8))
        sent = [request.headers for request in server.requests]
    assert any(key in " ".join(headers.values()) for headers in sent)  # the key did travel
    assert "AI__GROQ_LIKE_API_KEY" in caught.value.hint
    assert key not in f"{caught.value!r} {caught.value} {caught.value.hint} {settings!r}"


def test_two_openai_compatible_servers_in_one_env_race_each_other(groq_like, emu):
    from workbook.compare import compare

    # One .env, two servers: each provider reads its own URL, so both are configured at once.
    env = {**emu.env("vllm"), **emu.env("groq_like"), "AI__MODEL": "smollm2"}
    settings = settings_from_mapping(env)
    racers = {name: create_ai_provider(settings.with_(provider=name)) for name in ("vllm", "groq_like")}
    # Two addresses: the emulator answers as vLLM on /vllm/v1, as an OpenAI-style API on /v1.
    assert {name: provider.base_url for name, provider in racers.items()} == {
        "vllm": f"{emu.url}/vllm/v1", "groq_like": f"{emu.url}/v1"}
    table = compare(racers, runs=1, progress=False)
    assert list(table.index) == ["vllm", "groq_like"] and (table["errors"] == 0).all(), table


def test_the_registry_lists_what_the_tests_and_commands_cover(groq_like):
    from workbook.ai.registry import PROTOCOLS, get_spec, network_names, openai_compatible_names

    network = network_names()
    assert "groq_like" in network and "groq_like" in openai_compatible_names()
    assert not {"local", "mock"} & set(network)
    assert all(get_spec(name).protocol in PROTOCOLS and get_spec(name).url_field for name in network)
    assert set(openai_compatible_names()) <= set(network)


def test_a_self_hosted_provider_is_priced_by_its_machine():
    register_provider(openai_compatible("own_gpu_box", default_url="http://localhost:9000/v1", hosting="gpu"))
    try:
        prices = normalise_prices()
        assert prices["own_gpu_box"].per_hour == prices["vllm"].per_hour > prices["ollama"].per_hour
    finally:
        unregister_provider("own_gpu_box")
