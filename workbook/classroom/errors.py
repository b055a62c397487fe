"""The one error type of ``workbook.classroom``: a classroom that could not start."""


class ClassroomError(RuntimeError):
    """Says in one line what went wrong (a port taken, no npm, the hub exited) and what to do."""
