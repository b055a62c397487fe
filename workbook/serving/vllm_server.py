"""The real vLLM, its CPU build, serving the bundled model on 127.0.0.1.

vLLM runs in an environment of its own (``make vllm``, ``workbook.serving.vllm_env``); this
starts its OpenAI-compatible server from there as a child process group and stops the whole
group (vLLM starts an engine process and workers of its own). Same interface as
``LlamaServer``, so a notebook points a provider at either the same way:

    with VllmServer() as server:            # ~30 s to load; progress lines say so
        provider = create_ai_provider(server.settings("vllm"))
        read_metrics(server.url)["vllm:num_requests_running"]

Settings that matter on a laptop CPU, each an option with a safe default:
``threads`` (OpenMP threads, pinned to cores 0..n-1; default 1: measured here, 2 threads on 2
cores that other work also used made every token ~10x slower, 1 thread did not), ``kv_cache_gib`` (vLLM otherwise asks
for 90 % of RAM), ``max_model_len`` (one request's context). The dtype follows the CPU:
bfloat16 where it has AVX512-BF16 or AMX, float32 elsewhere (bf16 emulated is slower).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from ..ports import free_port
from ..readiness import answered, wait_until_ready
from .errors import LlamaServerError, VllmUnavailable
from .llama_server import DEFAULT_ALIAS, LlamaServer, _running
from . import vllm_env

# Measured here: ready in 23-34 s with --enforce-eager on 2 idle cores; a busy machine is slower.
STARTUP_TIMEOUT_S = 300.0
PROGRESS_EVERY_S = 10.0


def cpu_flags() -> set[str]:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def cpu_dtype(flags: set[str] | None = None) -> tuple[str, str]:
    """(vLLM's --dtype for this CPU, why): bf16 only where the CPU computes it natively."""
    flags = cpu_flags() if flags is None else flags
    native = [name for flag, name in (("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX"))
              if flag in flags]
    if native:
        return "bfloat16", f"this CPU has {' and '.join(native)}"
    return "float32", "this CPU has neither AVX512-BF16 nor AMX (bf16 would be emulated, slower)"


class VllmServer(LlamaServer):
    """vLLM's OpenAI-compatible server (``vllm.entrypoints.openai.api_server``) on 127.0.0.1.

    ``model_path`` is a GGUF (default: the bundled SmolLM2), converted once into the folder vLLM
    reads. ``lora_path``: the fine-tune's adapter GGUF; vLLM (its CPU build supports LoRA) loads
    the peft adapter beside it and serves it under the name ``alias``, the base model as
    ``<alias>-base``.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, alias: str = DEFAULT_ALIAS,
                 port: int | None = None, threads: int = 1, kv_cache_gib: float = 1.0,
                 max_model_len: int = 2048, dtype: str | None = None,
                 startup_timeout_s: float = STARTUP_TIMEOUT_S, extra_args: tuple[str, ...] = (),
                 lora_path: str | os.PathLike | None = None, max_num_seqs: int | None = None,
                 uds: str | os.PathLike | None = None,
                 progress: Callable[[str], None] | None = print):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a whole number >= 1, got {threads!r}")
        if not kv_cache_gib > 0:
            raise ValueError(f"kv_cache_gib must be > 0, got {kv_cache_gib!r}")
        super().__init__(model_path, alias=alias, port=port, threads=threads, n_ctx=max_model_len,
                         startup_timeout_s=startup_timeout_s, extra_args=extra_args,
                         lora_path=lora_path)
        self.engine = "vllm"
        self.kv_cache_gib = kv_cache_gib
        self.max_model_len = max_model_len
        self.dtype, self.dtype_reason = (dtype, "asked for") if dtype else cpu_dtype()
        # vLLM's own limit on requests decoded together (its default suits a GPU, not 2 cores).
        self.max_num_seqs = max_num_seqs
        # A Unix socket instead of a TCP port: what may reach it is then the file's permissions
        # (the classroom: vLLM's key guards only /v1, and /invocations answers without it).
        self.uds = Path(uds) if uds is not None else None
        self.progress = progress
        self.hf_model: Path | None = None
        self.version = "?"
        self.process_group: int | None = None  # kept after stop(): what must be gone

    def _lora_folder(self) -> Path | None:
        """The peft adapter of the adapter GGUF: ``python -m workbook finetune`` writes it to
        ``adapter/`` beside the GGUF (vLLM loads peft's format, not the GGUF)."""
        if self.lora_path is None:
            return None
        for folder in (self.lora_path.parent / "adapter", self.lora_path.parent):
            if (folder / "adapter_config.json").is_file():
                return folder
        raise LlamaServerError(f"--lora {self.lora_path}: vLLM loads a peft adapter, and neither "
                               f"{self.lora_path.parent / 'adapter'} nor {self.lora_path.parent} holds "
                               "one (adapter_config.json); python -m workbook finetune writes both")

    @property
    def command(self) -> list[str]:
        lora = self._lora_folder()
        served = f"{self.alias}-base" if lora else self.alias
        return [
            str(vllm_env.env_python()), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.hf_model), "--served-model-name", served,
            *(["--uds", str(self.uds)] if self.uds else ["--host", "127.0.0.1", "--port", str(self.port)]),
            "--dtype", self.dtype, "--max-model-len", str(self.max_model_len),
            *(["--max-num-seqs", str(self.max_num_seqs)] if self.max_num_seqs else []),
            # Without it vLLM compiles the model first: 70-95 s of every start, for ~20 % speed.
            "--enforce-eager",
            *(["--enable-lora", "--max-lora-rank", "64", "--lora-modules", f"{self.alias}={lora}"]
              if lora else []),
            *self.extra_args,
        ]

    def child_env(self) -> dict[str, str]:
        return {**os.environ, **self.engine_env()}

    def engine_env(self) -> dict[str, str]:
        """The variables vLLM itself needs (none of them secret)."""
        return {
            "VLLM_CPU_KVCACHE_SPACE": f"{self.kv_cache_gib:g}",
            "VLLM_CPU_OMP_THREADS_BIND": f"0-{self.threads - 1}",
            # Offline: no model hub, no usage report home.
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
        }

    def prepare(self) -> "VllmServer":
        """Checks vLLM is installed (``VllmUnavailable`` says how, in one line) and converts the
        model once: after this, ``command`` is complete (the classroom's hub runs it itself)."""
        if not vllm_env.installed():
            problem = vllm_env.platform_problem()
            raise VllmUnavailable("vLLM is not installed" + (f" ({problem})" if problem else ""),
                                  vllm_env.HINT)
        self.hf_model = vllm_env.ensure_model(self.model_path, progress=self.progress or (lambda text: None))
        self.version = vllm_env.package_version(vllm_env.VLLM_PACKAGE)
        return self

    def start(self) -> "VllmServer":
        if self.running:
            return self
        if self.uds is not None:
            raise LlamaServerError("start() serves on a TCP port; a server on a Unix socket is "
                                   "started by whoever runs its command (the classroom's hub)")
        self.prepare()
        say = self.progress or (lambda text: None)
        if self.port is None:
            self.port = free_port()
        say(f"Starting vLLM {self.version} on the CPU: dtype {self.dtype} ({self.dtype_reason}), "
            f"{self.threads} thread{'s' if self.threads > 1 else ''}, KV cache {self.kv_cache_gib:g} GiB, max model length "
            f"{self.max_model_len}, at {self.url}; loading the model (the time it took is printed when it is ready)...")
        self._log = tempfile.TemporaryFile()
        started = time.perf_counter()
        # Its own session: stop() signals the whole group, vLLM's engine process included. And
        # SIGTERM to it when this process dies without stop() (a killed script or kernel).
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=self.child_env(),
                                        start_new_session=True, preexec_fn=_terminate_with_parent)
        self.process_group = self.process.pid
        wait_until_ready(
            self.process, [(f"{self.url}/health", answered)], started=started,
            timeout_s=self.startup_timeout_s, stop=self.stop, interval_s=0.5, probe_timeout_s=2.0,
            exited=lambda code: LlamaServerError(f"vLLM exited with code {code}:\n{self.log_tail()}"),
            not_ready=lambda url: LlamaServerError(
                f"vLLM was not ready within {self.startup_timeout_s:g} s:\n{self.log_tail()}"),
            waiting=self.note_progress())
        self.startup_s = time.perf_counter() - started
        say(f"vLLM ready in {self.startup_s:.0f} s.")
        _running.add(self)
        return self

    def note_progress(self) -> Callable[[float], None]:
        """A note every PROGRESS_EVERY_S while vLLM starts: its own log lines (compiler passes,
        fusions) mean nothing to a student; its log file has them."""
        next_note = PROGRESS_EVERY_S

        def note(elapsed_s: float) -> None:
            nonlocal next_note
            if elapsed_s >= next_note and self.progress:
                self.progress(f"  still starting ({elapsed_s:.0f} s): loading the model, reserving the KV cache")
                next_note = elapsed_s + PROGRESS_EVERY_S

        return note

    def process_ids(self) -> list[int]:
        """The server's process group: the API server and every process it started (after
        ``stop()``, whatever of it is still alive: nothing)."""
        return group_members(self.process_group) if self.process_group else []

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM to the whole process group, SIGKILL to whatever is left after ``timeout_s``."""
        process = self.process
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
            deadline = time.monotonic() + 5
            while group_members(process.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        super().stop(timeout_s=5.0)

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"VllmServer(dtype={self.dtype!r}, threads={self.threads}, alias={self.alias!r}, {where})"


def _terminate_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when the thread that started it exits
    (``prctl(PR_SET_PDEATHSIG)``); vLLM then stops its own engine process."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def group_members(group: int) -> list[int]:
    """Live processes whose process group is ``group`` (read from /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)")


def read_metrics(url: str, timeout_s: float = 5.0) -> dict[str, float]:
    """vLLM's Prometheus ``/metrics`` at ``url`` (the server's, not its /v1) as {name: value}."""
    return parse_metrics(httpx.get(f"{url.rstrip('/')}/metrics", timeout=timeout_s).text)


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text as {name: value}, each name's samples summed over their labels (one
    model, one engine: the labels only name them)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        sample = _SAMPLE.match(line)
        if sample:
            with contextlib.suppress(ValueError):
                values[sample.group(1)] = values.get(sample.group(1), 0.0) + float(sample.group(3))
    return values


def serve_vllm(**options: Any) -> VllmServer:
    return VllmServer(**options).start()
