"""Argument checks shared by the workbook's commands (``compare``, ``serve``, the emulator).

A bad argument is one line naming it and a non-zero exit, before any work its failure
would throw away: argparse's own usage block and tracebacks are not for students.
"""

from __future__ import annotations

import argparse
import math
import socket
from typing import Callable


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is reported in one line (exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``minimum`` (to ``maximum``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            wanted = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {value}")
        return value

    parse.__name__ = "number"
    return parse


def seconds(*, zero_ok: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds, positive (or zero when ``zero_ok``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            least = "0 or more" if zero_ok else "more than 0"
            raise argparse.ArgumentTypeError(f"must be a finite number of seconds, {least}, got {text!r}")
        return value

    parse.__name__ = "seconds"
    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number above 0 (a rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


positive_number.__name__ = "number"

# A TCP port; 0 asks the system for any free one where a command allows it.
port = whole(1, 65535)
port_or_zero = whole(0, 65535)


def port_in_use(number: int, host: str = "127.0.0.1") -> str | None:
    """Why ``number`` cannot be listened on at ``host`` (``None``: it can), checked by binding
    it for a moment -- before a command starts work that needs the port."""
    if number == 0:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, number))
        except OSError as error:
            return error.strerror or str(error)
    return None
