"""``python -m workbook serve``: serve the bundled model to a class from one machine.

Starts the server on 127.0.0.1, prints its URL and the ``AI__*`` lines that point the
workbook's OpenAI-compatible providers at it, and runs until Ctrl-C, which stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from ..ai.registry import openai_compatible_names
from ..cli_args import OneLineParser, port, port_in_use, whole
from .errors import LlamaServerError
from .llama_server import ENGINES, serve


def parser(prog: str) -> argparse.ArgumentParser:
    p = OneLineParser(prog=prog, description=(
        "Serve the bundled SmolLM2 (or --model GGUF) over the OpenAI protocol on 127.0.0.1."))
    p.add_argument("--engine", choices=(*ENGINES, "vllm"), default="llama-server",
                   help="llama-server: continuous batching over --parallel slots (built once "
                        "per machine); llama-cpp-python: one request at a time; vllm: the real "
                        "vLLM on the CPU (needs `make vllm`)")
    p.add_argument("--parallel", type=whole(1, 256), default=4,
                   help="requests llama-server decodes together (default 4)")
    p.add_argument("--port", type=port, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument("--model", help="a GGUF file (default: the bundled SmolLM2-135M)")
    p.add_argument("--lora", help="a LoRA adapter GGUF to apply (python -m workbook finetune "
                   "writes one)")
    p.add_argument("--threads", type=whole(1, 64), default=None,
                   help="CPU threads (default: 2 for llama-server, 1 for llama-cpp-python and vllm)")
    p.add_argument("--kv-cache-gib", type=whole(1, 512), default=1,
                   help="vllm: memory for its KV cache, GiB (default 1; vLLM alone would take 90%% of RAM)")
    p.add_argument("--max-model-len", type=whole(128, 131072), default=2048,
                   help="vllm: the longest prompt + answer of one request, in tokens (default 2048)")
    return p


def main(argv: list[str], prog: str = "python -m workbook serve") -> int:
    args = parser(prog).parse_args(argv)
    # Checked before the build (minutes, the first time) and the model load.
    busy = port_in_use(args.port)
    if busy:
        print(f"{prog}: error: argument --port: cannot listen on 127.0.0.1:{args.port} ({busy}); "
              "stop what runs there or pick another port", file=sys.stderr)
        return 1
    for flag, path, what in (("--model", args.model, "a GGUF model"),
                             ("--lora", args.lora, "a LoRA adapter GGUF")):
        if path is not None and not Path(path).is_file():
            print(f"{prog}: error: argument {flag}: {path} is not a file ({what})", file=sys.stderr)
            return 1
    threads = args.threads or (2 if args.engine == "llama-server" else 1)
    engine_options = ({"kv_cache_gib": args.kv_cache_gib, "max_model_len": args.max_model_len}
                      if args.engine == "vllm" else {})
    try:
        server = serve(args.engine, parallel=args.parallel, port=args.port,
                       model_path=args.model, threads=threads, lora_path=args.lora,
                       progress=lambda text: print(text, flush=True), **engine_options)
    except LlamaServerError as error:
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
        for provider in openai_compatible_names():
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
