"""``python -m workbook <command> …``: the workbook's command-line tools.

Each command lives in its own module exposing ``main(argv: list[str], prog: str) -> int``;
it is imported only when chosen, so one command's dependencies never slow another.
Adding a command is one entry in ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import signal
import sys

# name -> (module with main(argv, prog), one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("workbook.compare.cli",
                "compare providers: time to first token, latency, tokens/s, quality, cost"),
    "serve": ("workbook.serving.cli",
              "serve the bundled model on 127.0.0.1 (llama-server batches requests)"),
    "finetune": ("workbook.finetune.cli",
                 "fine-tune a LoRA adapter for SmolLM2 on the CPU (needs make finetune)"),
    "classroom": ("workbook.classroom.cli",
                  "instructors: a JupyterHub for a class with one shared model behind the hub's login"),
    "book": ("workbook.book.build",
             "build the course site (Sphinx) from the executed notebooks into _build/html"),
    "doctor": ("workbook.doctor",
               "check this machine: packages, providers configured/reachable, local model"),
    "release": ("workbook.instructor.release",
                "instructors: generate the exercises' student notebooks and solutions (nbgrader)"),
    "grade": ("workbook.instructor.grade",
              "instructors: autograde a class's submitted exercises offline (nbgrader)"),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: python -m workbook <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {description}" for name, (_, description) in COMMANDS.items()]
    lines += ["", "python -m workbook <command> --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"python -m workbook: unknown command {name!r}; choose one of "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest, prog=f"python -m workbook {name}") or 0)


if __name__ == "__main__":
    # Ctrl-C stops every command, even one started from a process that ignores it: an ignored
    # SIGINT is inherited across exec (a notebook kernel's `!python -m workbook serve` inherits
    # the kernel's), and Python then installs no KeyboardInterrupt of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
