"""What Bedrock says when a model id has aged, turned into errors a student can act on.

A real account answers three texts when the configured id is no longer usable as is:

* ``ResourceNotFoundException`` "This model version has reached the end of its life..."
* ``ResourceNotFoundException`` "...This Model is marked by provider as Legacy and you have
  not been actively using the model in the last 15 days..."
* ``ValidationException`` "Invocation of model ID X with on-demand throughput isn't
  supported. Retry your request with the ID or ARN of an inference profile..."

Each becomes a ``ModelNotFoundError`` (never retried: asking again cannot help) whose hint
names what to set instead -- the catalogue's current model, or the exact inference-profile
id for the configured region. The texts are matched on AWS's own wording (FIELD-NOTES,
measured 2026-11-30); the emulator sends the same texts so this is tested at the wire.
"""

from __future__ import annotations

import re

from . import catalog, errors

END_OF_LIFE_TEXT = ("This model version has reached the end of its life. Please refer to the "
                    "AWS documentation for more details.")
LEGACY_TEXT = ("Access denied. This Model is marked by provider as Legacy and you have not been "
               "actively using the model in the last 15 days. Please upgrade to an active model "
               "on Amazon Bedrock")
# AWS writes the apostrophe as U+2019.
ON_DEMAND_TEXT = ("Invocation of model ID {model} with on-demand throughput isn\u2019t supported. "
                  "Retry your request with the ID or ARN of an inference profile that contains "
                  "this model.")

_ON_DEMAND = re.compile(r"model ID (\S+) with on-demand throughput", re.IGNORECASE)


def _replacement(model: str, region: str) -> str:
    """'set AI__MODEL to ...' naming the catalogue's current model (another, if it is this one):
    one that needs no first-use step where the catalogue has one, else that step, said."""
    retiring = catalog.base_model_id(model)
    candidates = [catalog.default_model("bedrock")] + [item.id for item in catalog.models("bedrock")]
    others = [name for name in candidates if name != retiring]
    current = next((name for name in others if not catalog.entry(name, "bedrock").before_first_use),
                   others[0] if others else None)
    if current is None:
        return "set AI__MODEL to an active model (`aws bedrock list-foundation-models`)"
    first_use = catalog.entry(current, "bedrock").before_first_use
    if catalog.needs_inference_profile(current):
        current = catalog.inference_profile_id(current, region) or current
    return (f"set AI__MODEL to an active model, e.g. {current} "
            f"(the workbook's catalogue, verified on {catalog.verified_on().isoformat()})"
            + (f"; before its first call, {first_use}" if first_use else ""))


def profile_hint(model: str, region: str) -> str:
    """What to set when ``model`` needs an inference profile in ``region``."""
    profile = catalog.inference_profile_id(model, region)
    if profile:
        return (f"Bedrock serves {model} only through an inference profile: "
                f"set AI__MODEL={profile} (the profile for {region}).")
    return (f"Bedrock serves {model} only through an inference profile: set AI__MODEL to its "
            f"profile id for {region} (`aws bedrock list-inference-profiles --region {region}`).")


def lifecycle_error(code: str, message: str, *, model: str, region: str,
                    provider: str = "bedrock") -> errors.ModelNotFoundError | None:
    """The typed error for one of Bedrock's lifecycle answers; None for any other error."""
    low_code, low = code.lower(), message.lower()
    text = f"{code}: {message} (model {model}, region {region})"
    if low_code == "resourcenotfoundexception" and "end of its life" in low:
        return errors.ModelNotFoundError(
            text, provider=provider,
            hint=f"{model} is retired on Bedrock (end of life): {_replacement(model, region)}.")
    if low_code == "resourcenotfoundexception" and "marked by provider as legacy" in low:
        return errors.ModelNotFoundError(
            text, provider=provider,
            hint=f"{model} is a Legacy model this account has not used in 15 days: {_replacement(model, region)}.")
    if low_code == "validationexception" and "on-demand throughput" in low:
        match = _ON_DEMAND.search(message)
        return errors.ModelNotFoundError(
            text, provider=provider, hint=profile_hint(match.group(1) if match else model, region))
    return None


__all__ = ["END_OF_LIFE_TEXT", "LEGACY_TEXT", "ON_DEMAND_TEXT", "lifecycle_error", "profile_hint"]
