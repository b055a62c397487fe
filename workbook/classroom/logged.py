"""``python -m workbook.classroom.logged LOG COMMAND...``: run COMMAND with its output appended to LOG.

The hub starts its services with their output in its own log; the model server prints
hundreds of loading lines, so its service runs through this (an ``exec``: the hub still
watches, stops and restarts the model server's own process).
"""

import os
import sys


def main() -> None:
    log, command = sys.argv[1], sys.argv[2:]
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
