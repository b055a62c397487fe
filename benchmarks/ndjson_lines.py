"""What Ollama's NDJSON line splitter costs on one huge line (issue 19, class 4).

Feeds one line of N MB (then a newline), in the 64 KiB chunks a socket delivers, through
``workbook.ai.providers.ollama._lines`` and through the splitter it replaced (append the
chunk to the pending bytes, split all of them again), and prints the CPU seconds of each.
The old one re-copies and re-scans the pending line for every chunk: quadratic.

    .venv/bin/python benchmarks/ndjson_lines.py [--mb 40]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from workbook.ai.providers.ollama import _lines

CHUNK = 1 << 16


async def _chunks(total: int):
    piece = b"a" * CHUNK
    for _ in range(total // CHUNK):
        yield piece
    yield b"\n"


async def _replaced(chunks):
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8")


async def _cpu_s(lines) -> tuple[float, int]:
    started = time.process_time()
    length = sum([len(line if isinstance(line, str) else line[0]) async for line in lines])
    return time.process_time() - started, length


async def main(mb: int) -> None:
    total = mb << 20
    new_s, new_len = await _cpu_s(_lines(_chunks(total), "ollama"))
    old_s, old_len = await _cpu_s(_replaced(_chunks(total)))
    assert new_len == old_len == total, (new_len, old_len, total)
    print(f"one {mb} MB line in {CHUNK // 1024} KiB chunks: _lines {new_s:.3f} s CPU, "
          f"the splitter it replaced {old_s:.3f} s CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=40)
    asyncio.run(main(parser.parse_args().mb))
