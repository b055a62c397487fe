"""What continuous batching buys on this machine: llama-server vs python -m llama_cpp.server.

The bundled SmolLM2 served by each engine in turn on 127.0.0.1; at 1, 2, 4 and 8 requests
in flight (closed loop, ``--requests`` per level, answers ``--max-tokens`` long, distinct
prompts): requests/s, mean latency, output tokens/s, TTFT and TPOT. Then a short question
joining ``4`` long answers: its time to first token and its latency under each engine.
Both engines get the same ``--threads``. Expect 10-15% noise on a shared machine: compare
the two engines within one run, not across runs.

    .venv/bin/python benchmarks/batching.py [--requests 16] [--max-tokens 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from workbook.serving.batching import BATCHING, ONE_AT_A_TIME, measure_batching


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--json", help="also write the figures and run metadata to this file")
    args = parser.parse_args(argv)
    result = measure_batching(requests=args.requests, max_tokens=args.max_tokens,
                              threads=args.threads, parallel=args.parallel)
    with pd.option_context("display.width", 200, "display.precision", 3):
        print("\nClosed loop (same load on both engines):")
        print(result.table().to_string())
        print("\nA short question joining 4 long answers:")
        print(result.late.to_string())
    for level in result.settings["levels"]:
        print(f"output tok/s at {level} concurrent: {BATCHING} / {ONE_AT_A_TIME} = "
              f"{result.speedup(level):.2f}x")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"sweep": json.loads(result.sweep.reset_index().to_json(orient="records")),
                       "late": json.loads(result.late.reset_index().to_json(orient="records")),
                       "settings": result.settings}, out, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
