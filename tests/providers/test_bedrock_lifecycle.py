"""Bedrock's lifecycle answers, through boto3, as a real account sends them.

The emulator sends AWS's own texts (end of life, legacy-not-used-for-15-days, on-demand
refused); the provider must turn each into a ModelNotFoundError whose hint names what to
set instead, and must not retry it.
"""

import boto3
import pytest

from workbook.ai import Message, ModelNotFoundError, catalog, create_ai_provider
from workbook.ai.lifecycle import END_OF_LIFE_TEXT, LEGACY_TEXT
from workbook.emulator import Emulator

QUESTION = [Message("user", "Say hello.")]
RETIRED = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE_ONLY = "anthropic.claude-haiku-4-5-20251001-v1:0"


def converse_calls(emulator):
    return [r for r in emulator.requests if r.method == "POST" and "/model/" in r.path]


async def test_a_retired_model_names_the_catalogues_current_one_and_is_not_retried(build, emu):
    emu.reset()
    with pytest.raises(ModelNotFoundError) as caught:
        await build("bedrock", model=RETIRED, max_retries=2).chat(QUESTION)
    error = caught.value
    assert END_OF_LIFE_TEXT in error.message
    assert "retired" in error.hint and catalog.default_model("bedrock") in error.hint
    assert "AI__MODEL" in error.hint
    assert len(converse_calls(emu)) == 1, "a retired model was asked again"


async def test_a_retired_model_fails_the_same_way_when_streaming(build):
    with pytest.raises(ModelNotFoundError, match="end of its life"):
        async for _ in build("bedrock", model=RETIRED).chat_stream(QUESTION):
            pass


async def test_a_legacy_model_unused_for_15_days_says_so():
    model = "amazon.nova-micro-v1:0"
    with Emulator(lifecycle={model: "LEGACY"}) as emulator:
        provider = create_ai_provider(emulator.settings("bedrock").with_(model=model))
        with pytest.raises(ModelNotFoundError) as caught:
            await provider.chat(QUESTION)
        assert LEGACY_TEXT in caught.value.message
        assert "Legacy" in caught.value.hint and "15 days" in caught.value.hint
        assert len(converse_calls(emulator)) == 1
        # The replacement it names is an Anthropic model: the hint says the step before its first call.
        assert "anthropic." in caught.value.hint and "use-case form" in caught.value.hint, caught.value.hint


@pytest.mark.parametrize(("region", "profile"), [
    ("us-east-1", "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("eu-central-1", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("ap-southeast-2", "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
])
async def test_a_base_id_that_needs_a_profile_gets_the_exact_profile_id_for_the_region(
        build, emu, region, profile):
    emu.reset()
    with pytest.raises(ModelNotFoundError) as caught:
        await build("bedrock", model=PROFILE_ONLY, aws_region=region).chat(QUESTION)
    assert "on-demand throughput isn\u2019t supported" in caught.value.message
    assert f"AI__MODEL={profile}" in caught.value.hint
    assert len(converse_calls(emu)) == 1
    # ...and the id the hint names is one Bedrock (here, the emulator) answers.
    reply = await build("bedrock", model=profile, aws_region=region).chat(QUESTION, max_tokens=20)
    assert reply.content


@pytest.mark.parametrize(("fault", "words"), [
    ("model_end_of_life", "retired"),
    ("model_legacy", "Legacy"),
    ("needs_inference_profile", "inference profile"),
])
async def test_each_lifecycle_answer_can_be_injected_as_a_fault(build, emu, fault, words):
    emu.reset()
    emu.inject(fault)
    with pytest.raises(ModelNotFoundError) as caught:
        await build("bedrock").chat(QUESTION)
    assert words in caught.value.hint
    assert (await build("bedrock").chat(QUESTION, max_tokens=20)).content  # the fault was used once


def test_lifecycle_faults_belong_to_bedrock(emu):
    with pytest.raises(ValueError, match="bedrock"):
        emu.inject("model_legacy", protocol="openai")


@pytest.mark.parametrize(("model", "status", "types"), [
    ("amazon.nova-micro-v1:0", "ACTIVE", ["ON_DEMAND"]),
    (PROFILE_ONLY, "ACTIVE", ["INFERENCE_PROFILE"]),
    (RETIRED, "EOL", ["ON_DEMAND"]),
])
def test_get_foundation_model_answers_lifecycle_and_inference_types(emu, monkeypatch, model, status, types):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret")
    control = boto3.client("bedrock", region_name="eu-west-1", endpoint_url=emu.url)
    details = control.get_foundation_model(modelIdentifier=model)["modelDetails"]
    assert details["modelId"] == model
    assert details["modelLifecycle"]["status"] == status
    assert details["inferenceTypesSupported"] == types
    assert details["modelArn"] == f"arn:aws:bedrock:eu-west-1::foundation-model/{model}"


def test_get_foundation_model_of_an_unknown_id_is_resource_not_found(emu, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret")
    control = boto3.client("bedrock", region_name="us-east-1", endpoint_url=emu.url)
    with pytest.raises(control.exceptions.ResourceNotFoundException):
        control.get_foundation_model(modelIdentifier="amazon.no-such-model-v1:0")


async def test_when_the_current_model_itself_turns_legacy_the_hint_names_another():
    current = catalog.default_model("bedrock")
    with Emulator(lifecycle={current: "LEGACY"}) as emulator:
        provider = create_ai_provider(emulator.settings("bedrock"))
        with pytest.raises(ModelNotFoundError) as caught:
            await provider.chat(QUESTION)
    suggestion = caught.value.hint.split("e.g. ")[1].split(" ")[0]
    assert suggestion != current and catalog.entry(suggestion, "bedrock").active
    # A suggestion that needs a profile comes as the profile id for the region.
    assert not catalog.needs_inference_profile(suggestion)
