from pathlib import Path

import pytest

from workbook.ai import AISettings, ConfigurationError, ProviderType, load_settings
from workbook.ai.registry import get_spec, openai_compatible_names
from workbook.ai.settings import SECRET_FIELDS, env_name, is_url_field, setting_names

DESIGN_VARIABLES = """AI__PROVIDER AI__MODEL AI__MAX_TOKENS AI__TEMPERATURE AI__TIMEOUT_S AI__MAX_RETRIES
AI__AZURE_OPENAI_ENDPOINT AI__AZURE_OPENAI_API_KEY AI__AZURE_OPENAI_DEPLOYMENT AI__AZURE_OPENAI_API_VERSION
AI__AZURE_OPENAI_AUTH
AI__OPENAI_API_KEY AI__OPENAI_BASE_URL AI__OPENAI_API AI__AWS_REGION AI__BEDROCK_ENDPOINT_URL AI__OLLAMA_BASE_URL
AI__LOCAL_MODEL_PATH AI__LOCAL_THREADS AI__LOCAL_LORA_PATH AI__MOCK_TTFT_S AI__MOCK_TOKENS_PER_S""".split()


def test_every_design_variable_is_a_field_named_after_it():
    assert sorted(env_name(f) for f in AISettings.model_fields) == sorted(DESIGN_VARIABLES)


def test_each_openai_compatible_entry_has_its_own_url_and_key_variables():
    # AI__<NAME>_BASE_URL / AI__<NAME>_API_KEY (DESIGN.md); AI__OPENAI_* is the openai provider's.
    for name in openai_compatible_names():
        spec = get_spec(name)
        expected = ("openai_base_url", "openai_api_key") if name == "openai" else (f"{name}_base_url",
                                                                                  f"{name}_api_key")
        assert (spec.url_field, spec.key_field) == expected
        assert set(expected) <= set(setting_names())
    both = AISettings(vllm_base_url="http://gpu-box:8000/v1", lmstudio_base_url="http://laptop:1234/v1",
                      vllm_api_key="vllm-secret-key")
    assert (both.vllm_base_url, both.lmstudio_base_url) == ("http://gpu-box:8000/v1", "http://laptop:1234/v1")
    assert both.openai_base_url is None and both.lmstudio_api_key is None
    assert "vllm-secret-key" not in repr(both) + str(both.model_dump()) + str(both.public_dict())
    with pytest.raises(ConfigurationError, match="groq_base_url is not a setting"):
        AISettings(groq_base_url="http://x/v1")  # no such entry


def test_env_example_documents_every_variable():
    text = (Path(__file__).parents[2] / ".env.example").read_text()
    missing = [v for v in DESIGN_VARIABLES + [env_name(f) for f in setting_names()] if v not in text]
    assert not missing, missing
    for provider in ProviderType:
        assert f"---- {provider.value}:" in text, f"no block for {provider.value}"


def test_keyword_arguments_and_environment_mean_the_same():
    from_kwargs = AISettings(provider="ollama", model="phi3")
    from_env = load_settings(environ={"AI__PROVIDER": "ollama", "AI__MODEL": "phi3"}, env_file=None)
    assert from_kwargs == from_env
    assert from_env.provider == ProviderType.OLLAMA


def test_environment_wins_over_dotenv_unless_override(tmp_path):
    profile = tmp_path / "profile.env"
    profile.write_text("AI__PROVIDER=mock\nAI__MOCK_TTFT_S=0.3\n")
    env = {"AI__PROVIDER": "ollama"}
    assert load_settings(profile, environ=env).provider == "ollama"
    assert load_settings(profile, environ=env).mock_ttft_s == 0.3
    assert load_settings(profile, environ=env, override=True).provider == "mock"


def test_dotenv_is_found_from_a_subfolder(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("AI__PROVIDER=mock\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert load_settings(environ={}).provider == "mock"


def test_nothing_configured_means_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).provider == "local"


def test_unknown_provider_lists_valid_names():
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={"AI__PROVIDER": "gemini"})
    message = str(caught.value)
    assert "AI__PROVIDER" in message
    for provider in ProviderType:
        assert provider.value in message


@pytest.mark.parametrize("variable, value", [
    ("AI__MAX_TOKENS", "lots"), ("AI__MAX_TOKENS", "0"), ("AI__TEMPERATURE", "3"),
    ("AI__TIMEOUT_S", "-1"), ("AI__LOCAL_THREADS", "0"), ("AI__OLLAMA_BASE_URL", "localhost:11434"),
    ("AI__MOCK_TOKENS_PER_S", "0"),
])
def test_invalid_value_names_the_variable(variable, value):
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={variable: value})
    assert variable in str(caught.value)


def test_all_invalid_values_are_reported_at_once():
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={"AI__MAX_TOKENS": "x", "AI__TEMPERATURE": "hot"})
    assert "AI__MAX_TOKENS" in str(caught.value) and "AI__TEMPERATURE" in str(caught.value)


def test_misspelt_variable_is_reported():
    with pytest.raises(ConfigurationError, match="AI__OLAMA_BASE_URL"):
        load_settings(environ={"AI__OLAMA_BASE_URL": "http://x"})


def test_secrets_never_shown():
    key = "sk-test-THIS-IS-SECRET-0123456789"
    settings = AISettings(openai_api_key=key, azure_openai_api_key=key)
    for shown in (repr(settings), str(settings), str(settings.public_dict())):
        assert key not in shown
    assert settings.secret("openai_api_key") == key
    assert set(SECRET_FIELDS) == {"openai_api_key", "azure_openai_api_key"}


def test_an_invalid_secret_value_is_not_echoed():
    key = "sk-leaky-0123456789"
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={"AI__MAX_TOKENS": key})
    assert key not in str(caught.value)


def test_assignment_is_validated():
    settings = AISettings()
    with pytest.raises(ConfigurationError, match="AI__TEMPERATURE"):
        settings.temperature = 5
    assert settings.with_(provider="mock").provider == "mock"


def test_empty_values_mean_unset():
    settings = load_settings(environ={"AI__MODEL": "", "AI__PROVIDER": ""})
    assert settings.model is None and settings.provider == "local"


def test_missing_profile_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.env", environ={})


def test_a_password_in_a_url_is_never_shown():
    from workbook.ai import create_ai_provider

    settings = AISettings(provider="ollama", ollama_base_url="http://alice:S3cretPassw0rd@127.0.0.1:9",
                          openai_base_url="https://bob:An0therSecret@proxy.example/v1")
    for shown in (repr(settings), str(settings), str(settings.public_dict()),
                  repr(create_ai_provider(settings)),
                  repr(create_ai_provider(settings.with_(provider="lmstudio")))):
        assert "S3cretPassw0rd" not in shown and "An0therSecret" not in shown
        assert "alice" not in shown and "bob" not in shown


@pytest.mark.parametrize("url, problem", [("http://", "host"), ("http://localhost:99999", "port"),
                                          ("http://localhost:port", "port")])
def test_a_url_without_host_or_with_a_bad_port_is_refused(url, problem):
    with pytest.raises(ConfigurationError, match=problem):
        load_settings(environ={"AI__OLLAMA_BASE_URL": url})


@pytest.mark.parametrize("provider", [p.value for p in ProviderType])
def test_each_block_of_env_example_loads_once_uncommented(tmp_path, provider):
    """A student uncomments one provider's block: every line in it must be a valid setting."""
    lines = (Path(__file__).parents[2] / ".env.example").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"# ---- {provider}:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# ----")), len(lines))
    block = [line[2:] if line.startswith("# AI__") else line for line in lines[start:end]]
    path = tmp_path / ".env"
    path.write_text("\n".join(lines[:start] + block))
    settings = load_settings(path, environ={})
    assert settings.provider == (provider if any(l.startswith("AI__PROVIDER=") for l in block) else "local")


@pytest.mark.parametrize("encoding, content, expected", [
    ("cp1252", "# Einstellungen für den Kurs\nAI__PROVIDER=mock\n", "not UTF-8 text: byte 0xfc on line 1"),
    ("utf-16", "AI__PROVIDER=mock\n", "saved as UTF-16"),
    ("utf-16-le", "AI__PROVIDER=mock\n", "saved as UTF-16"),  # no BOM: NULs between the letters
])
def test_a_dotenv_that_is_not_utf8_names_the_file_and_what_to_do(tmp_path, encoding, content, expected):
    path = tmp_path / ".env"
    path.write_bytes(content.encode(encoding))
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, environ={})
    assert str(path) in caught.value.message and expected in caught.value.message
    assert "UTF-8" in caught.value.hint


def test_a_dotenv_with_a_bom_and_crlf_still_reads(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes("\ufeffAI__PROVIDER=mock\r\nAI__MODEL=é\r\n".encode("utf-8"))
    settings = load_settings(path, environ={})
    assert (settings.provider, settings.model) == ("mock", "é")


@pytest.mark.parametrize("character, named", [("\t", "a tab"), ("\n", "a line break"),
                                              ("\r", "a carriage return"), ("\x00", "a NUL"),
                                              (" ", "a space"), ("\x7f", "U+007F")])
@pytest.mark.parametrize("field", [field for field in setting_names() if is_url_field(field)])
def test_a_control_character_inside_a_url_is_refused_naming_the_variable(field, character, named):
    with pytest.raises(ConfigurationError) as caught:
        AISettings(**{field: f"http://local{character}host:8000/v1"})
    assert env_name(field) in caught.value.message and named in caught.value.message


@pytest.mark.parametrize("field, value", [
    ("temperature", 10**400), ("temperature", "1e400"), ("temperature", float("nan")),
    ("max_tokens", 10**400), ("max_tokens", 10**7), ("timeout_s", 10**400),
    ("mock_tokens_per_s", "inf"), ("mock_ttft_s", float("nan")),
])
def test_absurd_numbers_are_configuration_errors(field, value):
    with pytest.raises(ConfigurationError) as caught:
        AISettings(**{field: value})
    assert env_name(field) in caught.value.message


@pytest.mark.parametrize("limits", [dict(temperature=10**400), dict(temperature=-10**5000),
                                    dict(max_tokens=10**400), dict(temperature=float("nan"))])
async def test_absurd_numbers_in_a_call_are_invalid_requests(limits):
    from workbook.ai import Message, create_ai_provider
    from workbook.ai.errors import InvalidRequestError

    provider = create_ai_provider(AISettings(provider="mock"))
    with pytest.raises(InvalidRequestError) as caught:
        await provider.chat([Message("user", "hi")], **limits)
    assert next(iter(limits)) in caught.value.message and len(caught.value.message) < 200


@pytest.mark.parametrize("field", ["model", "azure_openai_deployment", "aws_region",
                                   "azure_openai_api_version"])
def test_a_line_break_inside_a_name_setting_is_refused(field):
    with pytest.raises(ConfigurationError) as caught:
        AISettings(**{field: "gpt-4o\nmini"})
    assert env_name(field) in caught.value.message and "line break" in caught.value.message
    assert AISettings(**{field: "gpt 4o"})  # a space is fine in a name


def test_openai_api_chooses_between_the_two_openai_apis():
    assert AISettings().openai_api == "chat_completions"
    assert AISettings(openai_api=" Responses ").openai_api == "responses"
    with pytest.raises(ConfigurationError) as caught:
        AISettings(openai_api="assistants")
    assert "AI__OPENAI_API" in str(caught.value)
    assert "chat_completions" in str(caught.value) and "responses" in str(caught.value)
