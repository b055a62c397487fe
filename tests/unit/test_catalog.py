"""The cloud-model catalogue: one data file whose every fact carries its source and date."""

import datetime

import pytest

from workbook.ai import catalog


def test_every_entry_names_its_documentation_and_verification_date():
    assert catalog.CATALOG, "the catalogue loaded no models"
    for item in catalog.CATALOG:
        assert item.sources and all(url.startswith("https://") for url in item.sources), item.id
        assert item.verified_on <= datetime.date(2026, 11, 30), item.id
        if item.price is not None:
            assert item.price.source.startswith("https://"), item.id
            assert 0 < item.price.input_per_1m <= item.price.output_per_1m, item.id


def test_each_cloud_provider_defaults_to_an_active_catalogued_model():
    for provider in ("bedrock", "openai", "azure_openai"):
        default = catalog.default_model(provider)
        found = catalog.entry(default, provider)
        assert found is not None and found.active, (provider, default)
        assert catalog.price(provider, default) is not None, f"{provider}'s default has no price"
    with pytest.raises(ValueError, match="bedrock"):
        catalog.default_model("ollama")


@pytest.mark.parametrize(("region", "expected"), [
    ("us-east-1", "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("us-west-2", "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("eu-central-1", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
    # No APAC profile for this model in the catalogue: the global one serves every region.
    ("ap-southeast-2", "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ("sa-east-1", "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
])
def test_inference_profile_id_follows_the_region_group(region, expected):
    assert catalog.inference_profile_id("anthropic.claude-haiku-4-5-20251001-v1:0", region) == expected


def test_a_model_without_a_profile_for_the_region_has_none():
    assert catalog.inference_profile_id("amazon.nova-micro-v1:0", "sa-east-1") is None
    assert catalog.inference_profile_id("amazon.nova-micro-v1:0", "eu-west-1") == "eu.amazon.nova-micro-v1:0"
    assert catalog.inference_profile_id("not-a-model", "us-east-1") is None


def test_needs_inference_profile_only_for_a_base_id_bedrock_refuses_on_demand():
    assert catalog.needs_inference_profile("anthropic.claude-haiku-4-5-20251001-v1:0")
    assert not catalog.needs_inference_profile("us.anthropic.claude-haiku-4-5-20251001-v1:0")
    assert not catalog.needs_inference_profile("amazon.nova-micro-v1:0")
    assert not catalog.needs_inference_profile("unknown.model-v1:0")


def test_profile_ids_resolve_to_their_base_entry():
    assert catalog.base_model_id("global.anthropic.claude-haiku-4-5-20251001-v1:0") == \
        "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert catalog.base_model_id("amazon.nova-micro-v1:0") == "amazon.nova-micro-v1:0"
    assert catalog.entry("us.amazon.nova-micro-v1:0").id == "amazon.nova-micro-v1:0"


def test_retired_models_are_catalogued_as_end_of_life():
    old = catalog.entry("anthropic.claude-3-haiku-20240307-v1:0")
    assert old is not None and old.lifecycle == "EOL"
    assert old.end_of_life == datetime.date(2026, 9, 10)
    assert old not in catalog.models("bedrock")


def test_price_comes_with_its_source_and_date():
    nova = catalog.price("bedrock", "amazon.nova-micro-v1:0")
    assert (nova.input_per_1m, nova.output_per_1m) == (0.035, 0.14)
    assert nova.verified_on == datetime.date(2026, 11, 30)
    assert catalog.price("openai", "amazon.nova-micro-v1:0") is None


def test_token_limit_field_follows_the_model():
    assert catalog.token_limit_field(catalog.default_model("openai")) == "max_completion_tokens"
    assert catalog.token_limit_field("smollm2") == "max_tokens"


def test_staleness_is_measured_from_the_oldest_verification():
    oldest = catalog.verified_on()
    assert oldest == min(item.verified_on for item in catalog.CATALOG)
    assert not catalog.is_stale(oldest + datetime.timedelta(days=30))
    assert catalog.is_stale(oldest + datetime.timedelta(days=200))


def test_price_tiers_name_catalogued_models():
    small, large = catalog.tier_model("openai", "small"), catalog.tier_model("openai", "large")
    assert catalog.price("openai", small).output_per_1m < catalog.price("openai", large).output_per_1m
    with pytest.raises(ValueError, match="huge"):
        catalog.tier_model("openai", "huge")
