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

The API prices come from the workbook's model catalogue (``workbook.ai.catalog``): list
prices read on the provider's own pricing page, each with its source and the date it was
verified -- prices change, so the note says when. The machine rates for self-hosting are
rough illustrative figures. Pass your own over them:
``compare(..., prices={"my-model": Price(0.15, 0.60), "local": Price(per_hour=0.05)})``
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


ILLUSTRATIVE = "illustrative machine rate; check your cloud's price list"


def _catalogue_prices() -> dict[str, Price]:
    """Every catalogued cloud model with a price, and each provider's name for its default."""
    from ..ai import catalog

    prices: dict[str, Price] = {}
    for item in catalog.CATALOG:
        if item.price is None or item.id in prices:
            continue
        note = f"{item.name} list price, verified on {item.price.verified_on.isoformat()} ({item.price.source})"
        prices[item.id] = Price(item.price.input_per_1m, item.price.output_per_1m, note=note)
    for provider in catalog.DEFAULTS:
        found = catalog.price(provider, catalog.default_model(provider))
        if found is not None:
            prices[provider] = Price(found.input_per_1m, found.output_per_1m,
                                     note=f"assumes {catalog.default_model(provider)}, verified on "
                                          f"{found.verified_on.isoformat()} ({found.source})")
    return prices


# Illustrative cloud rates per hour of each kind of machine in the registry's HOSTING.
HOURLY_MACHINES = {
    "cpu": Price(per_hour=0.10, note=f"a 2-vCPU cloud VM, {ILLUSTRATIVE}"),
    "gpu": Price(per_hour=0.80, note=f"one 24 GB GPU (L4-class) VM, {ILLUSTRATIVE}"),
}


def _self_hosted_prices() -> dict[str, Price]:
    from ..ai.registry import specs

    return {spec.name: HOURLY_MACHINES[spec.hosting] for spec in specs() if spec.hosting}


DEFAULT_PRICES: dict[str, Price] = {
    # API services, USD per 1M tokens, from the catalogue.
    **_catalogue_prices(),
    # Self-hosted, USD per hour of the machine it runs on (the registry says which machine).
    **_self_hosted_prices(),
    # No "mock" entry: a scripted reply has no price, and its cost column says so ("—"), one
    # rule with every other unpriced provider rather than a $0 that reads like a measurement.
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
    """Defaults plus ``prices`` (a dict or a ``price_table``-shaped DataFrame) on top.
    A self-hosted provider registered since import is priced by its ``hosting`` too."""
    merged = {**_self_hosted_prices(), **DEFAULT_PRICES}
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
