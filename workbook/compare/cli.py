"""``python -m workbook compare``: compare providers from the command line.

    python -m workbook compare --provider mock --provider local
    python -m workbook compare --provider fast=profiles/fast.env --provider slow=profiles/slow.env \\
        --cases my_cases.jsonl --runs 5 --out results/

A ``--provider`` is ``[LABEL=]TARGET``. TARGET is a provider type (``mock``, ``local``,
``ollama``…) configured from the environment and ``.env``, or a path to a ``.env``-style
profile whose values win over the environment -- so two configurations of one type can be
compared. The label defaults to the type name or the profile's file name.

Exit status: 0 when the comparison ran (a provider's failed calls are in its row), 1 for
bad configuration or cases, 2 for bad arguments -- always with a one-line message.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..aio import aclose_quietly
from ..cli_args import OneLineParser, seconds, whole

_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")


class CommandError(Exception):
    """A problem with what was asked: reported in one line, exit status 1."""


def build_parser(prog: str = "python -m workbook compare") -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=prog,
        description="Run a set of prompts with expected answers against several providers and "
                    "report time to first token, latency, tokens/s, token usage, quality and "
                    "estimated cost side by side.",
        epilog="Prices are illustrative (workbook.compare.prices). Providers run one after "
               "another; warm-up calls are excluded from the figures.",
    )
    parser.add_argument("--provider", "-p", action="append", required=True, metavar="[LABEL=]TARGET",
                        help="a provider type (mock, local, ollama, openai...) or a .env profile "
                             "file; repeat for each provider to compare")
    parser.add_argument("--cases", metavar="FILE",
                        help="JSONL cases file (default: the built-in set of about 20 cases)")
    parser.add_argument("--runs", type=whole(1), default=3, help="runs of every case (default 3)")
    parser.add_argument("--concurrency", type=whole(1), default=1,
                        help="calls in flight at once per provider (default 1)")
    parser.add_argument("--warmup", type=whole(0), default=1,
                        help="warm-up calls per provider, left out of the figures (default 1)")
    parser.add_argument("--max-tokens", type=whole(1), default=128,
                        help="max_tokens per call (default 128)")
    parser.add_argument("--timeout", type=seconds(), default=120.0, metavar="SECONDS",
                        help="a call taking longer counts as a TimeoutError (default 120)")
    parser.add_argument("--levels", metavar="N,N,...",
                        help="also measure each provider at these concurrency levels "
                             "(requests/s and latency), e.g. 1,4,8")
    parser.add_argument("--requests", type=whole(1), default=None,
                        help="requests per concurrency level (default: twice the highest level)")
    parser.add_argument("--out", metavar="DIR",
                        help="write summary/records CSV + JSON and PNG plots into DIR")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _levels(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--levels must be numbers separated by commas, got {text!r}") from None
    if not levels or min(levels) < 1:
        raise CommandError(f"--levels must be numbers >= 1, got {text!r}")
    return levels


def _is_profile(target: str) -> bool:
    return target.endswith(".env") or "/" in target or "\\" in target or Path(target).is_file()


def parse_provider_spec(spec: str) -> tuple[str, str]:
    """``"fast=profiles/fast.env"`` -> ``("fast", "profiles/fast.env")``; ``"mock"`` -> ``("mock", "mock")``."""
    label, sep, target = spec.partition("=")
    if not sep or not _LABEL.match(label):
        label, target = "", spec
    target = target.strip()
    if not target:
        raise CommandError(f"--provider {spec!r} names no provider")
    if not label:
        if _is_profile(target):
            name = Path(target).name
            label = name[:-4] if name.endswith(".env") and len(name) > 4 else name
            label = label.strip(".") or "env"
        else:
            label = target
    return label, target


def build_provider(target: str):
    """A provider from a type name (environment + .env) or a profile file (file wins)."""
    from ..ai import create_ai_provider, load_settings

    if _is_profile(target):
        return create_ai_provider(load_settings(target, override=True))
    return create_ai_provider(load_settings().with_(provider=target))


def build_providers(specs: list[str]) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    for spec in specs:
        label, target = parse_provider_spec(spec)
        if label in providers:
            raise CommandError(f"two providers are labelled {label!r}; name them, e.g. "
                               f"--provider {label}2={target}")
        providers[label] = build_provider(target)
    return providers


async def _run(providers: dict[str, Any], cases, args, levels):
    from .api import measure_concurrency_async, run_comparison_async

    try:
        result = await run_comparison_async(
            providers, cases, runs=args.runs, concurrency=args.concurrency,
            warmup=args.warmup, progress=not args.no_progress, max_tokens=args.max_tokens,
            timeout_s=args.timeout)
        sweeps = {}
        for label, provider in (providers.items() if levels else ()):
            sweeps[label] = await measure_concurrency_async(
                provider, cases, levels=levels, requests=args.requests, warmup=0,
                max_tokens=args.max_tokens, timeout_s=args.timeout,
                progress=not args.no_progress, label=label)
        return result, sweeps
    finally:
        for provider in providers.values():
            await aclose_quietly(provider)


def writable_folder(folder: str) -> Path:
    """``folder``, created if need be, once a file could be written into it."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise CommandError(f"--out {folder}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise CommandError(f"--out {folder}: cannot write there ({error.strerror or error}); "
                           "choose a folder you can write to") from None
    return path


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def main(argv: list[str] | None = None, prog: str = "python -m workbook compare") -> int:
    args = build_parser(prog).parse_args(argv)
    from ..ai.errors import ProviderError
    from .cases import CaseError, load_cases

    try:
        levels = _levels(args.levels)
        if args.out:
            writable_folder(args.out)  # before the run: a failure at the end would lose it all
        cases = load_cases(args.cases)
        providers = build_providers(args.provider)
    except (ProviderError, CaseError, CommandError) as error:
        print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
        return 1

    print(f"Comparing {', '.join(providers)} on {len(cases)} cases x {args.runs} run(s) "
          f"(warm-up {args.warmup}, concurrency {args.concurrency}, max_tokens {args.max_tokens})",
          flush=True)
    try:
        result, sweeps = asyncio.run(_run(providers, cases, args, levels))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except ProviderError as error:  # a provider that fails outside a call (rare)
        print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
        return 1

    print()
    print(result.to_text())
    for label, table in sweeps.items():
        print(f"\nConcurrency sweep, {label} ({table['requests'].iloc[0]} requests per level):")
        print(table[["errors", "requests_per_s", "latency_s_p50", "latency_s_p95",
                     "output_tokens_per_s"]].round(3).to_string())
    if args.out:
        written = result.save(args.out)
        for label, table in sweeps.items():
            from .plots import concurrency_figure

            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
            csv_path = Path(args.out) / f"concurrency_{safe}.csv"
            png_path = csv_path.with_suffix(".png")
            table.to_csv(csv_path)
            concurrency_figure(table, title=f"{label}: throughput and latency under load") \
                .savefig(png_path, dpi=110)
            written[csv_path.name], written[png_path.name] = csv_path, png_path
        print(f"\nWrote {len(written)} files to {args.out}: {', '.join(sorted(written))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
