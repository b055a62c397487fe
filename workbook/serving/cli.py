"""``python -m workbook serve``: serve the bundled model to a class from one machine.

Starts the server on 127.0.0.1, prints its URL and the ``AI__*`` lines that point the
workbook's OpenAI-compatible providers at it, and runs until Ctrl-C, which stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .build import BuildFailed
from .errors import LlamaServerError
from .llama_server import ENGINES, serve

PROVIDERS = ("vllm", "lmstudio", "openai")


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=(
        "Serve the bundled SmolLM2 (or --model GGUF) over the OpenAI protocol on 127.0.0.1."))
    p.add_argument("--engine", choices=ENGINES, default="llama-server",
                   help="llama-server: continuous batching over --parallel slots (built once "
                        "per machine); llama-cpp-python: one request at a time")
    p.add_argument("--parallel", type=int, default=4,
                   help="requests llama-server decodes together (default 4)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument("--model", help="a GGUF file (default: the bundled SmolLM2-135M)")
    p.add_argument("--lora", help="a LoRA adapter GGUF to apply (python -m workbook finetune "
                   "writes one)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: 1 for llama-cpp-python, 2 for llama-server)")
    return p


def main(argv: list[str], prog: str = "python -m workbook serve") -> int:
    args = parser(prog).parse_args(argv)
    if args.parallel < 1:
        print(f"{prog}: --parallel must be 1 or more", file=sys.stderr)
        return 2
    threads = args.threads or (2 if args.engine == "llama-server" else 1)
    try:
        server = serve(args.engine, parallel=args.parallel, port=args.port,
                       model_path=args.model, threads=threads, lora_path=args.lora,
                       progress=lambda text: print(text, flush=True))
    except (LlamaServerError, BuildFailed) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    # SIGTERM too, so `kill` (or a supervisor) stops the child server as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        slots = f", {server.parallel} parallel slots" if server.engine == "llama-server" else ""
        adapter = f" with the adapter {server.lora_path.name}" if server.lora_path else ""
        print(f"Serving {server.model_path.name}{adapter} as {server.alias!r} with {server.engine}{slots} "
              f"at {server.base_url}", flush=True)
        print("Point the workbook at it with one of these (e.g. in .env):", flush=True)
        for provider in PROVIDERS:
            print(f"\n# {provider}")
            for name, value in server.env(provider).items():
                print(f"{name}={value}")
        print("\nCtrl-C stops the server.", flush=True)
        while not stop.wait(0.5):
            if not server.running:
                print(f"{prog}: the server exited:\n{server.log_tail()}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("Server stopped.", flush=True)
    return 0
