"""API vs self-hosted: a monthly cost model, its break-even volume, and a recommendation.

The model is deliberately simple enough to check by hand, but it counts what a practitioner
pays for, not only the GPU:

* **API**: you pay per token. ``monthly = days x tokens/day x blended price per token``,
  where the blended price mixes the input and output prices by ``input_share``. The default
  prices are the catalogue's (``workbook.ai.catalog``), with the date they were verified.
* **Self-hosted**: you pay for GPU servers by the hour whether they are busy or not --
  at least ``min_servers`` of them (two: one can fail or be updated while the other serves)
  -- plus the monthly cost of operating them (``ops_monthly``: the people who patch, upgrade,
  monitor and answer pages, and their tools; see ``OpsCost``). One server serves
  ``throughput_tokens_per_s x 86,400 x utilization`` tokens a day (traffic is not flat:
  ``utilization`` is the share of its peak it averages); more volume needs another whole
  server, so the cost is a staircase.

The break-even volume is the lowest tokens/day at which self-hosting costs no more than the
API. The GPU rate, throughput and ops figures are assumptions to replace with your own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..ai import catalog

HOURS_PER_MONTH = 730.0   # 365 x 24 / 12
DAYS_PER_MONTH = 30.4     # 365 / 12
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class OpsCost:
    """What running a model server costs each month besides the GPUs (USD).

    The defaults are assumptions, stated so they can be argued with:

    * ``engineer_share``: a fifth of one ML/platform engineer. Someone must patch the OS and
      drivers, upgrade the serving stack and the model, plan capacity, and follow up incidents;
      for one small service that is about a day a week.
    * ``engineer_monthly``: a fully loaded engineer (salary, taxes, benefits, equipment),
      about USD 180,000 a year.
    * ``on_call_monthly``: the stipend for an on-call rotation; a service users depend on
      needs someone reachable at night.
    * ``monitoring_monthly``: metrics, logs, alerting and uptime checks for the servers.

    An API needs none of this from you: its provider's people do it, inside the token price.
    """

    engineer_share: float = 0.2
    engineer_monthly: float = 15_000.0
    on_call_monthly: float = 500.0
    monitoring_monthly: float = 300.0

    @property
    def monthly(self) -> float:
        return (self.engineer_share * self.engineer_monthly + self.on_call_monthly
                + self.monitoring_monthly)


DEFAULT_OPS = OpsCost()
# The API a self-hosted model is priced against: a large general model from the catalogue.
API_MODEL = catalog.tier_model("openai", "large")
_API_PRICE = catalog.price("openai", API_MODEL)


@dataclass(frozen=True)
class CostInputs:
    """Everything the cost model needs. Prices in USD; volumes in tokens (input + output)."""

    tokens_per_day: float
    price_in_per_m: float = _API_PRICE.input_per_1m    # USD per 1M input tokens (the catalogue's)
    price_out_per_m: float = _API_PRICE.output_per_1m  # USD per 1M output tokens
    gpu_hourly: float = 0.80            # USD per hour for one GPU server (L4-class; an assumption)
    throughput_tokens_per_s: float = 1500.0  # one server's aggregate throughput, batched
    input_share: float = 0.75           # share of tokens that are prompt (input)
    utilization: float = 0.5            # average load as a share of peak throughput
    ops_monthly: float = DEFAULT_OPS.monthly  # USD per month to operate it (see OpsCost)
    min_servers: int = 2                # for availability: one fails or is updated, one serves

    def __post_init__(self):
        checks = {
            "tokens_per_day": self.tokens_per_day >= 0,
            "price_in_per_m": self.price_in_per_m >= 0,
            "price_out_per_m": self.price_out_per_m >= 0,
            "gpu_hourly": self.gpu_hourly >= 0,
            "throughput_tokens_per_s": self.throughput_tokens_per_s > 0,
            "input_share": 0.0 <= self.input_share <= 1.0,
            "utilization": 0.0 < self.utilization <= 1.0,
            "ops_monthly": self.ops_monthly >= 0,
            "min_servers": isinstance(self.min_servers, int) and self.min_servers >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"out of range: {', '.join(bad)}")

    def with_(self, **changes) -> "CostInputs":
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return CostInputs(**values)

    # -- derived rates -------------------------------------------------------------------
    @property
    def blended_price_per_token(self) -> float:
        """USD per token, input and output mixed by ``input_share``."""
        per_m = self.input_share * self.price_in_per_m + (1 - self.input_share) * self.price_out_per_m
        return per_m / 1e6

    @property
    def server_capacity_per_day(self) -> float:
        """Tokens one server handles in a day at the given utilization."""
        return self.throughput_tokens_per_s * SECONDS_PER_DAY * self.utilization

    @property
    def server_monthly(self) -> float:
        return self.gpu_hourly * HOURS_PER_MONTH


def api_monthly_cost(inputs: CostInputs, tokens_per_day: float | None = None) -> float:
    volume = inputs.tokens_per_day if tokens_per_day is None else tokens_per_day
    return DAYS_PER_MONTH * volume * inputs.blended_price_per_token


def servers_needed(inputs: CostInputs, tokens_per_day: float | None = None) -> int:
    """Whole servers for the volume; never fewer than ``min_servers`` (always on, redundant)."""
    volume = inputs.tokens_per_day if tokens_per_day is None else tokens_per_day
    return max(inputs.min_servers, math.ceil(volume / inputs.server_capacity_per_day - 1e-12))


def self_hosted_monthly_cost(inputs: CostInputs, tokens_per_day: float | None = None) -> float:
    return servers_needed(inputs, tokens_per_day) * inputs.server_monthly + inputs.ops_monthly


def break_even_tokens_per_day(inputs: CostInputs, *, max_servers: int = 10_000) -> float | None:
    """The lowest tokens/day at which self-hosting costs no more than the API, or ``None``.

    Self-hosting costs ``k F + ops`` with ``k = max(m, ceil(V / C))`` servers: a flat first
    step up to ``m C`` (the ``m = min_servers`` redundant servers), then one step per extra
    server. The API costs ``a V``. On a step the lines meet at ``V = (k F + ops) / a`` if that
    lies on the step; if the API line is already above the step where it starts, the
    crossing is the step's start. With ``a C <= F`` each new server costs more than the API
    traffic it carries, so the API line never catches up after the first step: ``None``.
    """
    a = DAYS_PER_MONTH * inputs.blended_price_per_token
    capacity, server, ops = inputs.server_capacity_per_day, inputs.server_monthly, inputs.ops_monthly
    first = inputs.min_servers
    if a <= 0:
        return None
    if server + ops == 0:
        return 0.0
    for k in range(first, max(first, max_servers) + 1):
        low, high = (0.0 if k == first else (k - 1) * capacity), k * capacity
        crossing = (k * server + ops) / a
        if crossing <= low:
            return low
        if crossing <= high:
            return crossing
        if a * capacity <= server:  # the gap can only grow from here
            return None
    return None


def break_even_vs_ops(inputs: CostInputs, ops_values) -> list[float | None]:
    """The break-even volume for each monthly ops cost in ``ops_values``."""
    return [break_even_tokens_per_day(inputs.with_(ops_monthly=ops)) for ops in ops_values]


@dataclass(frozen=True)
class Comparison:
    api_monthly: float
    self_hosted_monthly: float
    servers: int
    break_even_tokens_per_day: float | None

    @property
    def cheaper(self) -> str:
        return "self-hosted" if self.self_hosted_monthly < self.api_monthly else "api"


def compare_costs(inputs: CostInputs) -> Comparison:
    return Comparison(api_monthly_cost(inputs), self_hosted_monthly_cost(inputs),
                      servers_needed(inputs), break_even_tokens_per_day(inputs))


def cost_curves(inputs: CostInputs, volumes) -> tuple[list[float], list[float]]:
    """Monthly API and self-hosted cost at each tokens/day in ``volumes``."""
    return ([api_monthly_cost(inputs, v) for v in volumes],
            [self_hosted_monthly_cost(inputs, v) for v in volumes])


# -- the recommendation --------------------------------------------------------------------
@dataclass(frozen=True)
class Recommendation:
    choice: str                     # "api", "self-hosted" or "fine-tuned"
    reasons: list[str] = field(default_factory=list)
    comparison: Comparison | None = None

    def __str__(self) -> str:
        return f"{self.choice}: " + "; ".join(self.reasons)


CHOICES = ("api", "self-hosted", "fine-tuned")


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _where_to_serve_a_fine_tune(comparison: Comparison, even_line: str, on_premises: bool,
                                has_ops_team: bool) -> str:
    """Where the fine-tuned model runs, by the same cost comparison as every other choice: a
    fine-tune is a model to serve, and serving it yourself pays only where self-hosting does."""
    if on_premises:
        return ("data must stay on premises: fine-tune an open model and serve it on your own "
                "hardware (notebook 08 trains a LoRA adapter, notebook 03 serves a model)")
    if comparison.cheaper == "self-hosted" and has_ops_team:
        return ("serve it yourself: self-hosting is the cheaper of the two at this volume and you can "
                "operate it -- fine-tune an open model (notebook 08's LoRA) and serve it as in notebook 03")
    why = ("self-hosting would be cheaper, but without an ops team the provider runs it"
           if comparison.cheaper == "self-hosted"
           else f"at this volume your own servers cost more than the API ({even_line})")
    return (f"train and serve it with a provider's hosted fine-tuning (Azure OpenAI, OpenAI, Bedrock "
            f"model customization), not on servers of your own: {why}. The API figure above prices "
            "the base model; a hosted fine-tune adds its training and, on Azure OpenAI, its deployment's "
            "hourly hosting, called or not (the providers' pricing pages) -- add them before you compare again")


def recommend(inputs: CostInputs, *, data_must_stay_on_premises: bool = False,
              needs_frontier_quality: bool = False, has_ops_team: bool = True,
              needs_custom_behaviour: bool = False, fine_tune_beat_untrained: bool = False,
              labelled_examples: int = 0) -> Recommendation:
    """API, self-hosted or fine-tuned, with the reasons in the order they decided it.

    Hard constraints first (data residency, quality), then the fine-tuning case, then cost.
    Fine-tuning is chosen by the course's one rule for it (notebook 08 applies it to a measured
    run, "07's rule" there): only when a fine-tune,
    measured on held-out cases, beat the untrained uses of the same labelled examples
    (as few-shot examples, retrieved into the prompt, or a nearest-example vote) by more than
    the test's noise
    (``fine_tune_beat_untrained``). How many examples is no second rule: too few show up as a
    held-out test too noisy to be beaten clearly.
    """
    comparison = compare_costs(inputs)
    api, own = comparison.api_monthly, comparison.self_hosted_monthly
    cost_line = (f"at {inputs.tokens_per_day:,.0f} tokens/day the API costs {_money(api)}/month, "
                 f"self-hosting {_money(own)}/month ({comparison.servers} server{'' if comparison.servers == 1 else 's'})")
    if comparison.break_even_tokens_per_day is None:
        even_line = "self-hosting never breaks even at these prices"
    else:
        even_line = f"break-even at {comparison.break_even_tokens_per_day:,.0f} tokens/day"

    if needs_custom_behaviour and fine_tune_beat_untrained:
        reasons = [
            "the task needs behaviour, format or terminology the model does not have untrained",
            f"a fine-tune on the {labelled_examples:,} labelled examples, measured on held-out cases, beat "
            "every untrained use of the same examples (as few-shot examples, retrieved into the prompt, "
            "and as a nearest-example vote), each by more than the test's noise, as you report it (notebook 08 shows how "
            "to measure it)",
            cost_line,
        ]
        reasons.append(_where_to_serve_a_fine_tune(comparison, even_line, data_must_stay_on_premises,
                                                   has_ops_team))
        return Recommendation("fine-tuned", reasons, comparison)

    if data_must_stay_on_premises:
        reasons = ["data must stay on premises: an external API is ruled out", cost_line]
        if needs_frontier_quality:
            reasons.append("frontier quality is not available self-hosted: expect to trade some quality")
        if not has_ops_team:
            reasons.append("you will need people to run the servers (updates, monitoring, on-call)")
        return Recommendation("self-hosted", reasons, comparison)

    if needs_frontier_quality:
        return Recommendation("api", [
            "the task needs frontier-model quality, which the big APIs offer and open models may not",
            cost_line, even_line], comparison)

    reasons = [cost_line, even_line]
    if needs_custom_behaviour:
        reasons.append("measure before fine-tuning: put the labelled examples in the prompt (retrieved) "
                       "and in a vote, fine-tune, and compare on held-out cases (notebook 08); until a "
                       "fine-tune clearly beats them, the untrained uses win")
    if own < api and has_ops_team:
        reasons.insert(0, "self-hosting is cheaper at this volume and you can operate it")
        return Recommendation("self-hosted", reasons, comparison)
    if own < api:
        reasons.insert(0, "self-hosting would be cheaper, but without an ops team the API's "
                          "zero setup and elastic scaling win")
    else:
        reasons.insert(0, "the API is cheaper at this volume, needs no setup and scales on demand")
    return Recommendation("api", reasons, comparison)


# -- the picture ---------------------------------------------------------------------------
def volume_grid(inputs: CostInputs, points: int = 400, low: float = 1e4, high: float | None = None) -> list[float]:
    """Log-spaced tokens/day from ``low`` to past the break-even (or 50x the volume)."""
    even = break_even_tokens_per_day(inputs)
    top = high or max(10 * (even or 0), 50 * max(inputs.tokens_per_day, 1), 4 * inputs.server_capacity_per_day)
    ratio = (top / low) ** (1 / (points - 1))
    return [low * ratio ** i for i in range(points)]


def plot_costs(inputs: CostInputs, ax=None, volumes=None):
    """API line and self-hosted staircase vs tokens/day (log axes), break-even marked."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    volumes = volumes or volume_grid(inputs)
    api, own = cost_curves(inputs, volumes)
    ax.plot(volumes, api, label="API (pay per token)", color="tab:blue")
    ax.step(volumes, own, where="post", label="self-hosted (whole servers + ops)", color="tab:orange")
    even = break_even_tokens_per_day(inputs)
    if even is not None:
        ax.axvline(even, color="grey", linestyle="--", linewidth=1)
        ax.annotate(f"break-even\n{even:,.0f} tokens/day", (even, api_monthly_cost(inputs, even)),
                    textcoords="offset points", xytext=(8, -30), fontsize=9)
    ax.axvline(inputs.tokens_per_day, color="tab:green", linewidth=1, label="your volume")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tokens per day")
    ax.set_ylabel("USD per month")
    ax.set_title(f"Monthly cost: API vs self-hosted ({inputs.min_servers}+ servers, "
                 f"ops ${inputs.ops_monthly:,.0f}/month)")
    ax.legend(loc="upper left", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_break_even_vs_ops(inputs: CostInputs, ops_values=None, ax=None):
    """Break-even tokens/day as the monthly ops cost grows (no point where it never breaks even)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    ops_values = list(ops_values if ops_values is not None else range(0, 20_001, 250))
    evens = break_even_vs_ops(inputs, ops_values)
    shown = [(ops, even) for ops, even in zip(ops_values, evens) if even is not None]
    ax.plot([ops for ops, _ in shown], [even for _, even in shown], color="tab:purple")
    ax.axvline(inputs.ops_monthly, color="tab:green", linewidth=1, label="assumed ops cost")
    ax.set_xlabel("ops cost, USD per month (people, on-call, monitoring)")
    ax.set_ylabel("break-even, million tokens per day")
    # Millions on the axis itself: matplotlib's "1e8" offset above it is easy to miss.
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value / 1e6:,.0f}"))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"${value:,.0f}"))
    ax.set_title(f"Where self-hosting starts to pay, {inputs.min_servers}+ servers at "
                 f"${inputs.gpu_hourly:.2f}/h, {inputs.utilization:.0%} utilisation")
    ax.legend(loc="upper left", fontsize=9)
    ax.grid(True, alpha=0.3)
    return ax
