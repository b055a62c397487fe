import subprocess
import sys

import pytest

from workbook.ai import (AIProvider, AISettings, ChatResponse, ConfigurationError, Message, Usage,
                         create_ai_provider, missing_variables, register_provider, unregister_provider)


def test_import_is_light():
    code = ("import sys, workbook.ai; heavy = [m for m in ('boto3', 'botocore', 'llama_cpp', 'openai', "
            "'httpx', 'pandas') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("provider, missing", [
    ("azure_openai", ["AI__AZURE_OPENAI_ENDPOINT", "AI__AZURE_OPENAI_API_KEY", "AI__AZURE_OPENAI_DEPLOYMENT"]),
    ("openai", ["AI__OPENAI_API_KEY"]),
    ("bedrock", ["AI__AWS_REGION"]),
    ("vllm", ["AI__MODEL"]),
    ("ollama", []), ("lmstudio", []), ("local", []), ("mock", []),
])
def test_missing_variables_are_named(provider, missing):
    settings = AISettings(provider=provider)
    assert missing_variables(settings) == missing
    if missing:
        with pytest.raises(ConfigurationError) as caught:
            create_ai_provider(settings)
        assert all(name in str(caught.value) for name in missing)


def test_openai_needs_no_key_for_a_local_server():
    settings = AISettings(provider="openai", openai_base_url="http://127.0.0.1:9/v1")
    assert missing_variables(settings) == []


@pytest.mark.parametrize("name, cls", [("mock", "MockProvider"), ("ollama", "OllamaProvider"),
                                       ("lmstudio", "LMStudioProvider"), ("vllm", "VllmProvider")])
def test_provider_is_chosen_by_configuration_alone(name, cls):
    provider = create_ai_provider(provider=name, model="m")
    assert isinstance(provider, AIProvider)
    assert type(provider).__name__ == cls


class EchoProvider:
    """A student's provider: two methods, nothing else."""

    async def chat(self, messages, *, max_tokens=512, temperature=0.7):
        return ChatResponse(messages[-1].content, "echo", "echo", Usage(None, None))

    async def chat_stream(self, messages, *, max_tokens=512, temperature=0.7):
        for word in messages[-1].content.split():
            yield word + " "


async def test_a_two_method_class_registers_and_builds():
    register_provider("echo", EchoProvider)
    try:
        provider = create_ai_provider(AISettings(provider="echo"))
        assert isinstance(provider, EchoProvider)
        assert (await provider.chat([Message("user", "hi there")])).content == "hi there"
    finally:
        unregister_provider("echo")
    with pytest.raises(ConfigurationError, match="valid names"):
        AISettings(provider="echo")


def test_registered_requirements_are_checked():
    register_provider("needy", lambda settings: EchoProvider(), required=["model"])
    try:
        with pytest.raises(ConfigurationError, match="AI__MODEL"):
            create_ai_provider(provider="needy")
        assert isinstance(create_ai_provider(provider="needy", model="m"), EchoProvider)
    finally:
        unregister_provider("needy")


def test_replacing_a_builtin_and_restoring_it():
    register_provider("ollama", EchoProvider)
    try:
        assert isinstance(create_ai_provider(provider="ollama"), EchoProvider)
    finally:
        unregister_provider("ollama")
    assert type(create_ai_provider(provider="ollama")).__name__ == "OllamaProvider"


def test_a_factory_returning_a_non_provider_is_refused():
    register_provider("broken", lambda: object())
    try:
        with pytest.raises(ConfigurationError, match="chat_stream"):
            create_ai_provider(provider="broken")
    finally:
        unregister_provider("broken")


def test_default_provider_is_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    provider = create_ai_provider()
    assert type(provider).__name__ == "LocalProvider"
