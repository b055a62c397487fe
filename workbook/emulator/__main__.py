"""``python -m workbook.emulator``: run the emulator in the foreground and print .env lines."""

from __future__ import annotations

import argparse
import signal
import threading

from .responders import RESPONDERS
from ..ai.registry import get_spec
from .emulator import Emulator, env_providers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workbook.emulator",
        description="Serve the OpenAI, Azure OpenAI, Ollama and Bedrock protocols on 127.0.0.1.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port)")
    parser.add_argument("--backend", choices=RESPONDERS, default="scripted",
                        help="where replies come from")
    # Slower than the library default on purpose: a live demo should look like a real model.
    parser.add_argument("--ttft-s", type=float, default=0.2, help="time to first token, seconds")
    parser.add_argument("--tokens-per-s", type=float, default=40.0, help="streaming speed")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emulator = Emulator(args.backend, port=args.port, ttft_s=args.ttft_s,
                        tokens_per_s=args.tokens_per_s)
    with emulator:
        print(f"workbook emulator ({args.backend}) listening on {emulator.url}", flush=True)
        print("Paste one block into .env to point that provider here:\n", flush=True)
        for provider in env_providers():
            if get_spec(provider).protocol is None:
                continue
            print(f"# {provider}")
            for key, value in emulator.env(provider).items():
                print(f"{key}={value}")
            print(flush=True)
        print("Faults: POST /emulator/faults {\"fault\": \"rate_limit\", \"times\": 1}. "
              "Ctrl-C stops.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
