"""The one error type of ``workbook.serving``: a server that could not be built or started."""


class LlamaServerError(RuntimeError):
    """The server process exited or never answered; the message ends with its log tail."""
