"""Running a command's own ``main(argv)`` in the test process, for arguments it must refuse:
no fresh interpreter is needed to see a one-line error."""

from __future__ import annotations


def refusal(main, argv, capsys) -> tuple[int, str, str]:
    """(exit status, the one line on stderr, stdout) of ``main(argv)``; asserts that stderr
    is that one line."""
    try:
        status = main(argv)
    except SystemExit as exiting:  # argparse's exit for a bad argument
        status = exiting.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return status, lines[0], captured.out
