"""``python -m workbook finetune``: LoRA on the bundled SmolLM2, on the CPU, cached.

Checks everything it can before loading torch (the data's format, the base model's
architecture, the extra installed): a problem is one line on stderr and exit code 2.
A request already trained (same data, settings, base model and versions) is read from the
cache instead of trained again.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .data import DataError


def parser(prog: str) -> argparse.ArgumentParser:
    from .train import TrainSettings

    defaults = TrainSettings()
    p = argparse.ArgumentParser(prog=prog, description=(
        "Fine-tune a LoRA adapter for the bundled SmolLM2 (or --model GGUF) on the CPU. Writes "
        "the peft adapter, the adapter as GGUF (for AI__LOCAL_LORA_PATH or serve --lora) and "
        "metrics.json. Needs the fine-tuning extra: make finetune."))
    p.add_argument("--data", type=Path, help="training data, chat-format JSONL (default: the bundled "
                   "support tickets, workbook/data/finetune_tickets.jsonl)")
    p.add_argument("--valid", type=Path, help="validation data, same format (default: the bundled "
                   "split when --data is not given, else none)")
    p.add_argument("--model", type=Path, help="base model GGUF, llama architecture (default: the "
                   "bundled SmolLM2-135M-Instruct)")
    p.add_argument("--out", type=Path, help="copy the results here (default: just print where the "
                   "cache keeps them)")
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--rank", type=int, default=defaults.rank, help="LoRA rank")
    p.add_argument("--alpha", type=int, default=defaults.alpha, help="LoRA alpha")
    p.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--limit", type=int, help="train on the first N examples only")
    p.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                   help="CPU threads for torch (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str], prog: str = "python -m workbook finetune") -> int:
    from .train import FinetuneError, TrainSettings, copy_result, default_request, ensure_finetuned

    args = parser(prog).parse_args(argv)
    say = (lambda text: None) if args.quiet else (lambda text: print(text, flush=True))
    try:
        settings = TrainSettings(epochs=args.epochs, rank=args.rank, alpha=args.alpha,
                                 learning_rate=args.learning_rate, batch_size=args.batch_size,
                                 seed=args.seed, max_steps=args.max_steps, limit=args.limit)
        overrides = {"settings": settings, "threads": max(1, args.threads)}
        if args.data:
            overrides.update(train_path=args.data, valid_path=args.valid)
        elif args.valid:
            overrides["valid_path"] = args.valid
        if args.model:
            overrides["model_path"] = args.model
        request = default_request(**overrides)
        result = ensure_finetuned(request, progress=not args.quiet, say=say)
    except (DataError, FinetuneError) as error:
        hint = getattr(error, "hint", "")
        print(f"{prog}: {error}" + (f" -- {hint}" if hint else ""), file=sys.stderr)
        return 2
    metrics = result.metrics
    gguf = copy_result(result, args.out) if args.out else result.gguf
    if result.cached:
        print(f"Cached: this data and these settings were trained on {metrics['trained_at']} "
              f"({metrics['train_seconds']:.0f} s); nothing retrained.")
    accuracy = metrics["valid_accuracy_per_epoch"]
    print(f"{metrics['steps']} steps, {metrics['train_tokens']} training tokens in "
          f"{metrics['train_seconds']:.0f} s ({metrics['tokens_per_s']:.0f} tokens/s); "
          f"validation accuracy per epoch: {', '.join(f'{a:.0%}' for a in accuracy) or 'no validation set'}")
    print(f"Adapter (GGUF, {metrics['adapter_gguf_bytes'] / 1e6:.1f} MB): {gguf}")
    print(f"Use it: AI__LOCAL_LORA_PATH={gguf}   or   python -m workbook serve --lora {gguf}")
    return 0
