"""``python -m workbook.emulator``: run the emulator in the foreground and print .env lines."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ..ai.registry import get_spec
from ..cli_args import OneLineParser, port_in_use, port_or_zero, positive_number, seconds
from .emulator import Emulator, env_providers
from .responders import RESPONDERS

PROG = "python -m workbook.emulator"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog=PROG,
        description="Serve the OpenAI, Azure OpenAI, Ollama and Bedrock protocols on 127.0.0.1.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--port", type=port_or_zero, default=8765,
                        help="port to listen on (0: any free port)")
    parser.add_argument("--backend", choices=RESPONDERS, default="scripted",
                        help="where replies come from")
    # Slower than the library default on purpose: a live demo should look like a real model.
    parser.add_argument("--ttft-s", type=seconds(zero_ok=True), default=0.2,
                        help="time to first token, seconds")
    parser.add_argument("--tokens-per-s", type=positive_number, default=40.0, help="streaming speed")
    args = parser.parse_args(argv)
    # Checked before the responder is made: the local backend loads a model first.
    busy = port_in_use(args.port)
    if busy:
        return _port_taken(args.port, busy)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emulator = Emulator(args.backend, port=args.port, ttft_s=args.ttft_s,
                        tokens_per_s=args.tokens_per_s)
    try:
        emulator.start()
    except OSError as error:  # taken in the meantime
        return _port_taken(args.port, error.strerror or str(error))
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


def _port_taken(port: int, why: str) -> int:
    print(f"{PROG}: error: argument --port: cannot listen on 127.0.0.1:{port} ({why}); another "
          "emulator may be running there: stop it, or pick another port (--port 0: any free one)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
