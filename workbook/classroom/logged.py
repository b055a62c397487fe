"""``python -m workbook.classroom.logged [--alone] [--socket PATH] LOG COMMAND...``: run
COMMAND with its output appended to LOG.

The hub starts its services with their output in its own log; the model server prints
hundreds of loading lines, so its service runs through this (an ``exec``: the hub still
watches, stops and restarts the model server's own process). ``--alone``: COMMAND runs in
network and PID namespaces of its own (``namespaces``; vLLM), and this process stays as its
parent, passing the hub's signals on. ``--socket PATH``: the Unix socket COMMAND will listen
on; one a killed predecessor left behind is removed first (binding to it would fail, and the
hub restarts a dead model server).
"""

import argparse
import contextlib
import os
import stat


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workbook.classroom.logged")
    parser.add_argument("--alone", action="store_true")
    parser.add_argument("--socket")
    parser.add_argument("log")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    descriptor = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    if args.socket:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(args.socket).st_mode):
                os.unlink(args.socket)
    if args.alone:
        from .namespaces import run_alone

        run_alone(args.command)
    os.execv(args.command[0], args.command)


if __name__ == "__main__":
    main()
