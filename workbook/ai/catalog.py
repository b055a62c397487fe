"""The catalogue of cloud models the course uses: one data file, read everywhere.

Cloud model ids, prices and lifecycles change every few months (Claude 3 Haiku, the
course's old Bedrock default, reached end of life on 2026-09-10). So the facts live in
``workbook/ai/data/cloud_models.json``, each entry with the documentation it was read
from and the date it was verified; defaults, prices, the emulator's model list, the
lifecycle hints and ``python -m workbook doctor --live`` all read them from here.

    >>> from workbook.ai import catalog
    >>> catalog.default_model("bedrock")
    'amazon.nova-micro-v1:0'
    >>> catalog.inference_profile_id("anthropic.claude-haiku-4-5-20251001-v1:0", "us-east-1")
    'us.anthropic.claude-haiku-4-5-20251001-v1:0'
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

# The prefixes Bedrock puts before a model id to name a cross-Region inference profile.
PROFILE_PREFIXES = ("us-gov", "us", "eu", "apac", "jp", "au", "ca", "global")
# How old the catalogue may get before the doctor warns (about six months).
STALE_AFTER = datetime.timedelta(days=183)

TokenLimitField = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True)
class CatalogPrice:
    """USD per million tokens, where the figure was read and when."""

    input_per_1m: float
    output_per_1m: float
    source: str
    verified_on: datetime.date
    note: str = ""


@dataclass(frozen=True)
class CatalogEntry:
    provider: str
    id: str
    name: str
    lifecycle: str                      # ACTIVE | LEGACY | EOL, as GetFoundationModel says
    verified_on: datetime.date
    sources: tuple[str, ...]
    on_demand: bool = True              # False: Bedrock only serves it through an inference profile
    profiles: dict[str, str] = field(default_factory=dict)   # region group -> profile id
    price: CatalogPrice | None = None
    end_of_life: datetime.date | None = None
    token_limit_field: TokenLimitField = "max_tokens"
    before_first_use: str = ""          # a step an account takes once before its first call, if any

    @property
    def active(self) -> bool:
        return self.lifecycle == "ACTIVE"


def _load() -> tuple[dict[str, str], dict[str, dict[str, str]], tuple[CatalogEntry, ...]]:
    text = resources.files("workbook.ai").joinpath("data/cloud_models.json").read_text("utf-8")
    raw = json.loads(text)
    entries = []
    for item in raw["models"]:
        verified = datetime.date.fromisoformat(item["verified_on"])
        price = item.get("price")
        entries.append(CatalogEntry(
            provider=item["provider"], id=item["id"], name=item["name"],
            lifecycle=item["lifecycle"], verified_on=verified, sources=tuple(item["sources"]),
            on_demand=item.get("on_demand", True), profiles=dict(item.get("profiles", {})),
            price=CatalogPrice(price["input_per_1m"], price["output_per_1m"], price["source"],
                               verified, price.get("note", "")) if price else None,
            end_of_life=(datetime.date.fromisoformat(item["end_of_life"])
                         if item.get("end_of_life") else None),
            token_limit_field=item.get("token_limit_field", "max_tokens"),
            before_first_use=item.get("before_first_use", ""),
        ))
    return dict(raw["defaults"]), dict(raw.get("tiers", {})), tuple(entries)


DEFAULTS, TIERS, CATALOG = _load()


def default_model(provider: str) -> str:
    """The catalogue's current model for a cloud provider (``bedrock``, ``openai``, ``azure_openai``)."""
    try:
        return DEFAULTS[provider]
    except KeyError:
        raise ValueError(f"the catalogue has no default model for {provider!r}; "
                         f"it covers {', '.join(sorted(DEFAULTS))}") from None


def tier_model(provider: str, tier: str) -> str:
    """A model of a price tier (``small``, ``large``): what cost comparisons price an API at."""
    try:
        return TIERS[provider][tier]
    except KeyError:
        raise ValueError(f"the catalogue has no {tier!r} model for {provider!r}; "
                         f"it has {TIERS}") from None


def base_model_id(model_id: str) -> str:
    """The model id without a Bedrock inference-profile prefix (``us.x`` -> ``x``)."""
    head, dot, rest = model_id.partition(".")
    return rest if dot and head in PROFILE_PREFIXES and "." in rest else model_id


def is_profile_id(model_id: str) -> bool:
    return base_model_id(model_id) != model_id


def entry(model_id: str, provider: str | None = None) -> CatalogEntry | None:
    """The catalogue entry for a model id or one of its inference-profile ids, if any."""
    base = base_model_id(model_id)
    for item in CATALOG:
        if item.id == base and (provider is None or item.provider == provider):
            return item
    return None


def region_group(region: str) -> str | None:
    """The inference-profile group of an AWS region: ``us-east-1`` -> ``us``."""
    region = region.strip().lower()
    if region.startswith("us-gov-"):
        return "us-gov"
    for prefix, group in (("us-", "us"), ("eu-", "eu"), ("ap-", "apac")):
        if region.startswith(prefix):
            return group
    return None


def inference_profile_id(model_id: str, region: str) -> str | None:
    """The profile id to call ``model_id`` with from ``region``; None when the catalogue has none.

    A geography's own profile first (data stays in that geography), else the global one.
    """
    found = entry(model_id, "bedrock")
    if found is None:
        return None
    group = region_group(region)
    return found.profiles.get(group) if group in found.profiles else found.profiles.get("global")


def needs_inference_profile(model_id: str) -> bool:
    """True when Bedrock refuses this base id on demand and wants a profile id instead."""
    found = entry(model_id, "bedrock")
    return found is not None and not found.on_demand and not is_profile_id(model_id)


def price(provider: str, model: str) -> CatalogPrice | None:
    """Input/output USD per million tokens for a catalogued model, with source and date."""
    found = entry(model, provider)
    return found.price if found else None


def token_limit_field(model: str) -> TokenLimitField:
    """The request field that caps the answer's length for this model.

    OpenAI's reasoning models (GPT-5 and later) refuse ``max_tokens`` and take
    ``max_completion_tokens``; local OpenAI-compatible servers take ``max_tokens``.
    """
    found = next((item for item in CATALOG
                  if item.id == model and item.provider in ("openai", "azure_openai")), None)
    return found.token_limit_field if found else "max_tokens"


def verified_on() -> datetime.date:
    """The oldest verification date in the catalogue: how stale its facts may be."""
    return min(item.verified_on for item in CATALOG)


def is_stale(today: datetime.date | None = None) -> bool:
    """True when the oldest entry was verified more than about six months before ``today``."""
    return (today or datetime.date.today()) - verified_on() > STALE_AFTER


def fine_tuning() -> list[dict]:
    """What each cloud's fine-tuning offers and charges for, as its docs said on ``verified_on``:
    ``service``, ``provider``, ``models``, ``summary``, ``sources`` (notebook 08 shows them)."""
    text = resources.files("workbook.ai").joinpath("data/cloud_models.json").read_text("utf-8")
    return list(json.loads(text).get("fine_tuning", []))


def models(provider: str, *, active_only: bool = True) -> list[CatalogEntry]:
    return [item for item in CATALOG
            if item.provider == provider and (item.active or not active_only)]


__all__ = ["CATALOG", "CatalogEntry", "CatalogPrice", "DEFAULTS", "base_model_id", "default_model",
           "entry", "fine_tuning", "inference_profile_id", "is_profile_id", "is_stale", "models",
           "needs_inference_profile", "price", "region_group", "tier_model", "token_limit_field",
           "verified_on"]
