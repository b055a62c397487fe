"""Serving the bundled model over HTTP on 127.0.0.1, as a self-hosted engine would.

``serve()`` / ``LlamaServer`` run one of two engines (``llama_server``); ``build`` makes
llama.cpp's batching ``llama-server`` from the pinned sources; ``cli`` is
``python -m workbook serve``.
"""

from .llama_server import ENGINES, LlamaServer, LlamaServerError, serve

__all__ = ["ENGINES", "LlamaServer", "LlamaServerError", "serve"]
