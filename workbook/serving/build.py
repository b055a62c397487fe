"""Building llama.cpp's C++ ``llama-server`` once per machine, from the pinned sources.

``python -m llama_cpp.server`` (the Python server) runs one generation at a time.
llama.cpp's own ``llama-server`` has parallel slots with continuous batching, and its
source ships inside the pinned llama-cpp-python sdist (``vendor/llama.cpp``). So the
workbook builds it from there -- no other download -- and keeps the binary in a cache
*outside* the checkout, keyed by the llama-cpp-python version and this CPU's instruction
set flags (the build uses ``-march=native``), so a second clone of the workbook reuses it:

    ~/.cache/workbook/llama-server/<version>-<cpu-flags hash>/llama-server

Only the server's own code is compiled: the ``libllama`` and ``libggml`` shared libraries
the installed llama-cpp-python wheel already ships are copied beside the binary and linked
(same version, same source), which skips about a third of the compilation. Where the wheel
has no such libraries the whole server is built, statically linked. The server links
llama.cpp's multimodal library (``mtmd``: image and audio encoders, about 50 of the files
compiled) although a text-only model never calls it, and the wheel holds no copy of it (the
Makefile builds llama-cpp-python without it): it is compiled without optimisation, which
takes a fraction of the time, and everything the server runs stays at ``-O3``.

``ensure_llama_server()`` returns the binary, building it first if needed (a progress line
says so and how long it takes); ``python -m workbook.serving.build`` does the same from a
shell (``make test`` runs it). A machine without cmake or a C++ compiler gets
``BuildUnavailable`` with a hint, and ``workbook.serving`` falls back to the Python server.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterator

from ..cache import LockTimeout, cache_home, locked
from .errors import BuildFailed, BuildUnavailable, LlamaServerError

EXPECTED_BUILD = "about 4-6 minutes on 2 cores"
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_SERVER=ON",
    # Without these two the build downloads the server's web UI (we have no internet).
    "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_OPENSSL=OFF", "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DGGML_NATIVE=ON",
]
# Run at the end of llama.cpp's top-level CMakeLists (once every target exists): the last -O
# on a compiler's command line wins, and a target's own options come after the Release flags.
MULTIMODAL_UNOPTIMISED = """
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.19)
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL
                 set_property TARGET mtmd APPEND PROPERTY COMPILE_OPTIONS -O0)
endif()
"""
# What the cache entry's binary was built with: another recipe gets another entry.
BUILD_RECIPE = " ".join(CMAKE_FLAGS) + MULTIMODAL_UNOPTIMISED
_SHARED_LIBRARIES = ("libllama.so", "libggml.so", "libggml-base.so", "libggml-cpu.so")


def llama_cpp_version() -> str:
    try:
        return metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError as missing:
        raise BuildUnavailable("llama-cpp-python is not installed",
                               "Run `make setup` (it installs the pinned version).") from missing


def cpu_fingerprint() -> str:
    """A short hash of what the compiler's ``-march=native`` depends on: the machine type
    and the CPU's instruction set flags, of the wheel's engine the build links, and of the
    build's own recipe. Another CPU, another build of llama-cpp-python, or a change to how
    the server is built gets its own cache entry."""
    flags = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
                break
    # The entry holds copies of the wheel's engine libraries: a rebuilt wheel (another
    # compiler flag, such as the AMX fix in the Makefile) must not meet the old copies.
    engine = ""
    libs = wheel_library_dir()
    if libs is not None:
        engine = hashlib.sha256((libs / "libggml-cpu.so").read_bytes()).hexdigest()
    fingerprint = f"{platform.machine()} {flags} {engine} {BUILD_RECIPE}"
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:12]


# A build takes 4-10 minutes on 2 busy cores (measured); waiting longer means it is stuck.
WAIT_FOR_OTHER_BUILD_S = 30 * 60


def cache_root() -> Path:
    return cache_home() / "llama-server"


def cache_dir() -> Path:
    return cache_root() / f"{llama_cpp_version()}-{cpu_fingerprint()}"


def cached_binary() -> Path | None:
    """The built ``llama-server`` for this version and CPU, or ``None`` if not built yet."""
    binary = cache_dir() / "llama-server"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def missing_tools() -> list[str]:
    tools = [name for name in ("cmake",) if shutil.which(name) is None]
    if not any(shutil.which(name) for name in ("c++", "g++", "clang++")):
        tools.append("a C++ compiler (g++ or clang++)")
    return tools


def ensure_llama_server(progress: Callable[[str], None] | None = print) -> Path:
    """The path of ``llama-server``; builds it first if this machine has none yet.

    Two processes asking at once (a notebook and ``make test``) build it once: the second
    waits for the first's lock and then finds the binary.
    """
    found = cached_binary()
    if found is not None:
        return found
    missing = missing_tools()
    if missing:
        raise BuildUnavailable(
            f"cannot build llama-server: {', '.join(missing)} not found",
            "Install them (Debian/Ubuntu: apt install cmake g++), or use the one-at-a-time "
            "server: --engine llama-cpp-python.")
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda text: None)
    with _locked(target / ".lock", say):
        found = cached_binary()
        if found is not None:
            return found
        started = time.perf_counter()
        say(f"Building llama-server from llama-cpp-python {llama_cpp_version()}'s source "
            f"into {target} (first use on this machine only; {EXPECTED_BUILD})...")
        with tempfile.TemporaryDirectory(prefix="llama-server-build-", dir=target) as work:
            _build(Path(work), target, say)
        say(f"llama-server built in {time.perf_counter() - started:.0f} s: {target / 'llama-server'}")
    return target / "llama-server"


@contextlib.contextmanager
def _locked(path: Path, say: Callable[[str], None]) -> Iterator[None]:
    try:
        with locked(path, "building llama-server", say, wait_s=WAIT_FOR_OTHER_BUILD_S):
            yield
    except LockTimeout as timeout:
        raise LlamaServerError(f"{timeout} (`make test`, `make llama-server` and `python -m "
                               "workbook.serving.build` build it)") from None


def _build(work: Path, target: Path, say: Callable[[str], None]) -> None:
    source = _vendored_source(work, target, say)
    wheel_libs = wheel_library_dir()
    build = work / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    # Shared libraries only when the wheel's will replace them; otherwise one static binary.
    shared = "ON" if wheel_libs else "OFF"
    multimodal = work / "multimodal-unoptimised.cmake"
    multimodal.write_text(MULTIMODAL_UNOPTIMISED)
    _run(["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_FLAGS,
          f"-DBUILD_SHARED_LIBS={shared}", f"-DCMAKE_PROJECT_llama.cpp_INCLUDE={multimodal}"],
         target / "configure.log", say)
    jobs = str(os.cpu_count() or 2)
    if wheel_libs:
        objects = _server_objects(build)
        _run(["cmake", "--build", str(build), "--target", *objects, "-j", jobs] if not generator
             else ["ninja", "-C", str(build), "-j", jobs, *objects], target / "build.log", say)
        _link_against_wheel(build, objects, wheel_libs, target)
    else:
        _run(["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs],
             target / "build.log", say)
        shutil.copy2(build / "bin" / "llama-server", target / "llama-server.partial")
        os.replace(target / "llama-server.partial", target / "llama-server")


def wheel_library_dir() -> Path | None:
    """The installed llama-cpp-python's ``lib`` folder, if it holds every library we link."""
    try:
        import llama_cpp
    except ImportError:
        return None
    lib = Path(llama_cpp.__file__).parent / "lib"
    return lib if all((lib / name).exists() for name in _SHARED_LIBRARIES) else None


def _vendored_source(work: Path, logs: Path, say: Callable[[str], None]) -> Path:
    return download_sdist_members(work, logs, say, lambda name: True)


def download_sdist_members(work: Path, logs: Path, say: Callable[[str], None],
                           wanted: Callable[[str], bool]) -> Path:
    """Download the pinned sdist (pip's cache usually has it) and unpack the ``wanted`` files
    of its vendor/llama.cpp (all of them for the build, the converters for a fine-tune)."""
    version = llama_cpp_version()
    say(f"  fetching the llama-cpp-python {version} source (pip download)...")
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
          "--no-deps", f"llama-cpp-python=={version}", "-d", str(work)],
         logs / "download.log", say)
    archives = list(work.glob("llama_cpp_python-*.tar.gz"))
    if not archives:
        raise BuildFailed(f"pip download left no llama-cpp-python sdist in {work}")
    with tarfile.open(archives[0]) as archive:
        members = [m for m in archive.getmembers() if "/vendor/llama.cpp/" in m.name and wanted(m.name)]
        archive.extractall(work / "src", members=members, filter="data")
    archives[0].unlink()
    return next((work / "src").glob("*/vendor/llama.cpp"))


def _server_objects(build: Path) -> list[str]:
    """The object files of llama-server's own code, minus those libllama and libggml hold."""
    commands = subprocess.run(["ninja", "-C", str(build), "-t", "commands", "llama-server"],
                              capture_output=True, text=True, check=True).stdout
    outputs = re.findall(r" -o (\S+\.o)\b", commands)
    return [o for o in outputs if not o.startswith(("ggml/", "src/"))]


def _link_against_wheel(build: Path, objects: list[str], wheel_libs: Path, target: Path) -> None:
    """Link the server's objects with the wheel's libllama/libggml, copied beside the binary
    (``rpath $ORIGIN``), so the cache entry does not depend on any one virtualenv."""
    for name in _SHARED_LIBRARIES:
        for path in wheel_libs.glob(name + "*"):
            if not path.is_symlink():
                shutil.copy2(path, target / path.name)
            else:
                link = target / path.name
                link.unlink(missing_ok=True)
                link.symlink_to(os.readlink(path))
    compiler = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    partial = target / "llama-server.partial"
    _run([compiler, "-O3", *[str(build / o) for o in objects], "-o", str(partial),
          f"-L{target}", "-Wl,-rpath,$ORIGIN", "-lllama", "-lggml", "-lggml-base",
          "-lpthread", "-ldl"], target / "link.log", lambda text: None)
    os.replace(partial, target / "llama-server")


_STEP = re.compile(r"^\[(\d+)/(\d+)\]")


def _run(command: list[str], log_path: Path, say: Callable[[str], None]) -> None:
    """Run a build step, reporting ninja's ``[n/N]`` as a percentage every ~10%."""
    shown = -10
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, stdin=subprocess.DEVNULL)
        for line in process.stdout:
            log.write(line)
            step = _STEP.match(line)
            if step:
                percent = 100 * int(step.group(1)) // int(step.group(2))
                if percent >= shown + 10:
                    shown = percent
                    say(f"  compiling: {percent}% ({step.group(1)}/{step.group(2)})")
        code = process.wait()
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise BuildFailed(f"{Path(command[0]).name} failed (exit {code}); log {log_path}:\n{tail}")


def main(argv: list[str] | None = None) -> int:
    """``python -m workbook.serving.build``: build (or find) llama-server, print its path."""
    try:
        path = ensure_llama_server(progress=lambda text: print(text, flush=True))
    except BuildUnavailable as unavailable:
        print(unavailable, file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
