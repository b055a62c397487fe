"""`pip install` into the workbook's virtualenv, done by uv when uv can be had, else by pip.

    python scripts/venv_install.py .venv/bin/python install [pip install arguments...]
    python scripts/venv_install.py .venv/bin/python wheel 'llama-cpp-python==0.3.36' [--rebuild]

Why: pip installs ~200 wheels one after another, and on a machine whose network strips
caching headers it downloads every one of them again for each new virtualenv (measured here:
~2.5 min for `make setup` with pip's cache "warm"). uv installs the same pinned versions,
downloading in parallel and linking from its own cache, in seconds. It is only a faster pip:
the same requirement files, the same constraints (the `-c constraints.txt` inside them), the
same source build of llama-cpp-python with the Makefile's CMAKE_ARGS and CFLAGS.

uv does not read pip's configuration, so pip's own settings (its config files and PIP_*
variables: index, extra indexes, find-links, constraints, certificate, timeout) are handed to
it, and its resolver is told to pick from every index as pip does. A pip setting uv cannot be
given, or uv that cannot be installed (no network, an unknown platform), sends the install to
pip as before: a student's machine needs nothing but python3 and pip.

uv itself is installed once per machine by the venv's pip, into the workbook's cache
(~/.cache/workbook/uv/<version>), not into the virtualenv: `pip freeze` stays what it was.

`wheel` keeps what this machine compiled (llama-cpp-python: minutes) as a wheel in the
workbook's cache (~/.cache/workbook/wheels), built by pip (from pip's own cache of built
wheels when it has one); every install looks there first. Without it uv would compile
llama-cpp-python again whenever its cache of the source is stale, and a network that sends
no caching headers (this one) makes it stale every time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

UV_VERSION = "0.13.8"

# pip settings uv is given (pip's name -> how uv is told); the ones that change nothing
# about what is installed are dropped. Anything else means pip does the install.
_IGNORED = ("disable-pip-version-check", "no-color", "progress-bar", "quiet", "verbose",
            "no-python-version-warning", "root-user-action")


def cache_home() -> Path:
    # workbook.cache.cache_home's place: this runs before the package is installed.
    base = os.environ.get("WORKBOOK_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbook"
    return Path(base)


def pip_settings(python: str) -> dict[str, str]:
    """pip's effective settings for ``pip install``: its variables over its ``install``
    section over its ``global`` one, as pip itself ranks them."""
    listed = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True,
                            text=True, check=True).stdout
    rank = {"global": 0, "install": 1, ":env:": 2}
    chosen: dict[str, tuple[int, str]] = {}
    for line in listed.splitlines():
        key, _, quoted = line.partition("=")
        section, _, name = key.rpartition(".")
        if section not in rank or not quoted:
            continue
        value = quoted.strip().strip("'\"")
        if name not in chosen or rank[section] >= chosen[name][0]:
            chosen[name] = (rank[section], value)
    return {name: value for name, (_, value) in chosen.items()}


def uv_options(settings: dict[str, str]) -> tuple[list[str], dict[str, str]] | None:
    """uv's command-line options and environment saying what ``settings`` say to pip; ``None``
    when one of them has no uv equivalent. Index URLs go in the environment: they may carry a
    password (``https://user:token@host/simple``), and a command line is visible to every
    user of the machine (``ps``)."""
    options = ["--index-strategy", "unsafe-best-match"]  # pip's: the best match on any index
    environment: dict[str, str] = {}
    for name, value in settings.items():
        if name in _IGNORED:
            continue
        if name == "index-url":
            environment["UV_INDEX_URL"] = value
        elif name == "extra-index-url":
            environment["UV_EXTRA_INDEX_URL"] = " ".join(value.split())
        elif name in ("find-links", "constraint"):
            for item in value.split():
                options += [f"--{name}", item]
        elif name == "cert":
            options += ["--cert", value]
        elif name == "no-index" and value.lower() in ("1", "true", "yes", "on"):
            options.append("--no-index")
        elif name in ("timeout", "default-timeout"):
            environment["UV_HTTP_TIMEOUT"] = value
        else:
            return None
    return options, environment


# The few `pip install` arguments the Makefile uses, in uv's words.
_ARGUMENTS = {"--no-cache-dir": "--no-cache", "--force-reinstall": "--reinstall"}


def uv_binary(python: str) -> Path | None:
    """uv, installed first if this machine has not got it yet; ``None`` if it cannot be."""
    home = cache_home() / "uv" / UV_VERSION
    binary = home / "bin" / "uv"
    if binary.is_file():
        return binary
    partial = home.with_name(f"{UV_VERSION}.partial-{os.getpid()}")
    installed = subprocess.run(
        # --only-binary: where PyPI has no uv wheel for this platform, pip does the install
        # instead of spending minutes compiling uv (Rust).
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
         "--target", str(partial), f"uv=={UV_VERSION}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if installed != 0 or not (partial / "bin" / "uv").is_file():
        subprocess.run(["rm", "-rf", str(partial)])
        return None
    try:
        partial.rename(home)  # another install at the same moment may have won: use its copy
    except OSError:
        subprocess.run(["rm", "-rf", str(partial)])
    return binary if binary.is_file() else None


def wheels_home() -> Path:
    return cache_home() / "wheels"


def build_wheel(python: str, requirement: str, rebuild: bool = False) -> int:
    """pip compiles ``requirement`` (``name[extras]==version``) into a wheel in
    ``wheels_home()``, unless one is there. ``rebuild``: compiled anew, not from pip's cache,
    replacing the one there (it could not run on this CPU)."""
    name, _, version = requirement.partition("==")
    stem = re.sub(r"\[.*\]", "", name).replace("-", "_")
    home = wheels_home()
    home.mkdir(parents=True, exist_ok=True)
    existing = list(home.glob(f"{stem}-{version}-*.whl"))
    if existing and not rebuild:
        return 0
    # Built in a folder of its own: another set-up at the same moment never sees half a wheel.
    with tempfile.TemporaryDirectory(dir=home, prefix=".building-") as building:
        no_cache = ["--no-cache-dir"] if rebuild else []
        built = subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", *no_cache,
                                requirement, "-w", building]).returncode
        if built != 0:
            return built
        for old in existing:
            old.unlink(missing_ok=True)
        for wheel in Path(building).glob("*.whl"):
            os.replace(wheel, home / wheel.name)
    return 0


def install(python: str, arguments: list[str]) -> int:
    arguments = ["--find-links", str(wheels_home()), *arguments]
    handed_over = uv_options(pip_settings(python))
    uv = uv_binary(python) if handed_over is not None else None
    if uv is None:
        return subprocess.run([python, "-m", "pip", "install", *arguments]).returncode
    options, environment = handed_over
    translated = [_ARGUMENTS.get(argument, argument) for argument in arguments]
    if "--index-url" in translated:  # the Makefile's own index (torch's CPU one) wins
        environment.pop("UV_INDEX_URL", None)
    # --no-config: pip's settings above, not a uv configuration of this machine, decide.
    # --link-mode copy: uv's default hard links would share each file with its cache, so a
    # file edited in one venv (a student's experiment, a Jupyter config rewritten in place)
    # would change it in the cache and in every venv made from it afterwards.
    # --compile-bytecode: what pip does at install time and uv does not. Without it every new
    # Python process compiles each module it imports from source, and where
    # PYTHONDONTWRITEBYTECODE is set (these machines' shells) never keeps the result: measured
    # here, `import pandas` 3.3 s -> 0.9 s, `import openai` 3.4 s -> 1.7 s, in every kernel.
    return subprocess.run([str(uv), "pip", "install", "--no-config", "--link-mode", "copy",
                           "--compile-bytecode", "--python", python, *options, *translated],
                          env={**os.environ, **environment}).returncode


def main(argv: list[str]) -> int:
    python, command, *rest = argv
    if command == "wheel":
        return build_wheel(python, rest[0], rebuild="--rebuild" in rest[1:])
    return install(python, rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
