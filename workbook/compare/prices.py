"""Prices for the cost column -- ILLUSTRATIVE figures, not quotes.

Two kinds of price:

* API services charge per token: ``Price(input_per_1m=..., output_per_1m=...)`` in USD per
  one million tokens. Cost of a run = input tokens x input price + output tokens x output price.
* Self-hosted models cost the machine they run on: ``Price(per_hour=...)`` in USD per hour.
  Cost of a run = hourly price x the hours the run kept the machine busy -- the same as
  "$/hour / measured throughput (tokens per hour) x tokens", so a faster server is cheaper
  per token on the same machine.

A price is looked up by the comparison's label first, then the provider's ``model``, then its
provider ``name`` (``"mock"``, ``"local"``…). No match: cost is ``NaN`` ("no price").

The numbers in ``DEFAULT_PRICES`` are rough list prices and machine rates written down
for teaching (mid-2025). They go stale; check the provider's pricing page and pass your
own: ``compare(..., prices={"gpt-4o-mini": Price(0.15, 0.60), "local": Price(per_hour=0.05)})``
(your entries are added over the defaults), or edit ``price_table()`` and pass it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Price:
    input_per_1m: float = 0.0   # USD per 1M input tokens (API)
    output_per_1m: float = 0.0  # USD per 1M output tokens (API)
    per_hour: float = 0.0       # USD per hour of machine time (self-hosted)
    note: str = ""

    @property
    def kind(self) -> str:
        return "per_hour" if self.per_hour else "per_token"


ILLUSTRATIVE = "illustrative, mid-2025; check current pricing"

DEFAULT_PRICES: dict[str, Price] = {
    # API services, USD per 1M tokens (list prices; illustrative).
    "gpt-4o-mini": Price(0.15, 0.60, note=f"OpenAI list price, {ILLUSTRATIVE}"),
    "gpt-4o": Price(2.50, 10.00, note=f"OpenAI list price, {ILLUSTRATIVE}"),
    "gpt-4.1-mini": Price(0.40, 1.60, note=f"OpenAI list price, {ILLUSTRATIVE}"),
    "anthropic.claude-3-haiku-20240307-v1:0": Price(0.25, 1.25, note=f"Bedrock on-demand, {ILLUSTRATIVE}"),
    "amazon.nova-micro-v1:0": Price(0.035, 0.14, note=f"Bedrock on-demand, {ILLUSTRATIVE}"),
    "openai": Price(0.15, 0.60, note=f"assumes gpt-4o-mini, {ILLUSTRATIVE}"),
    "azure_openai": Price(0.15, 0.60, note=f"assumes gpt-4o-mini, {ILLUSTRATIVE}"),
    "bedrock": Price(0.25, 1.25, note=f"assumes Claude 3 Haiku, {ILLUSTRATIVE}"),
    # Self-hosted, USD per hour of the machine it runs on (illustrative cloud rates).
    "local": Price(per_hour=0.10, note=f"a 2-vCPU cloud VM, {ILLUSTRATIVE}"),
    "ollama": Price(per_hour=0.10, note=f"a 2-vCPU cloud VM, {ILLUSTRATIVE}"),
    "lmstudio": Price(per_hour=0.10, note=f"a 2-vCPU cloud VM, {ILLUSTRATIVE}"),
    "vllm": Price(per_hour=0.80, note=f"one 24 GB GPU (L4-class) VM, {ILLUSTRATIVE}"),
    # Nothing to pay.
    "mock": Price(note="scripted, free"),
}


def as_price(value: Any) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        known = {k: value[k] for k in ("input_per_1m", "output_per_1m", "per_hour", "note")
                 if k in value and not _missing(value[k])}
        return Price(**{k: (v if k == "note" else float(v)) for k, v in known.items()})
    if isinstance(value, (tuple, list)) and 1 <= len(value) <= 2:
        return Price(*(float(v) for v in value))
    raise TypeError(f"cannot read a price from {value!r}; use Price(input_per_1m, output_per_1m) "
                    "or Price(per_hour=...)")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def price_table(prices: Mapping[str, Any] | None = None):
    """The prices as an editable DataFrame (index: key)."""
    import pandas as pd

    table = {key: vars(as_price(value)) for key, value in normalise_prices(prices).items()}
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index.name = "key"
    return frame


def normalise_prices(prices: Any = None) -> dict[str, Price]:
    """Defaults plus ``prices`` (a dict or a ``price_table``-shaped DataFrame) on top."""
    merged = dict(DEFAULT_PRICES)
    if prices is None:
        return merged
    if hasattr(prices, "to_dict") and hasattr(prices, "index"):  # a DataFrame
        prices = prices.to_dict(orient="index")
    for key, value in dict(prices).items():
        merged[str(key)] = as_price(value)
    return merged


def find_price(prices: Mapping[str, Price], label: str, provider: Any) -> tuple[str | None, Price | None]:
    """(key, price) for a provider: its label, then its ``model``, then its ``name``, then
    the default model its registry entry names (a newly registered provider is priced by
    the model it runs unless told otherwise)."""
    from ..ai.registry import get_spec

    name = getattr(provider, "name", None)
    spec = get_spec(name) if isinstance(name, str) else None
    for key in (label, getattr(provider, "model", None), name, spec and spec.default_model):
        if isinstance(key, str) and key in prices:
            return key, prices[key]
    return None, None


def cost_usd(price: Price | None, *, input_tokens: float, output_tokens: float,
             busy_s: float) -> float:
    """Cost of a run under ``price``: per token for APIs, per busy hour for self-hosted."""
    if price is None:
        return math.nan
    if price.per_hour:
        return price.per_hour * busy_s / 3600.0
    return (input_tokens * price.input_per_1m + output_tokens * price.output_per_1m) / 1_000_000


__all__ = ["DEFAULT_PRICES", "ILLUSTRATIVE", "Price", "cost_usd", "find_price", "normalise_prices",
           "price_table"]
