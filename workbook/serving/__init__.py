"""Serving the bundled model over HTTP on 127.0.0.1, as a self-hosted engine would.

``serve()`` / ``LlamaServer`` run one of two llama.cpp engines (``llama_server``); ``build`` makes
llama.cpp's batching ``llama-server`` from the pinned sources; ``VllmServer`` (``vllm_server``)
runs the real vLLM from the environment ``make vllm`` installs (``vllm_env``); ``errors`` holds
every error they raise; ``cli`` is ``python -m workbook serve``.
"""

from .errors import LlamaServerError, VllmUnavailable
from .llama_server import ENGINES, LlamaServer, serve
from .vllm_server import VllmServer, read_metrics

__all__ = ["ENGINES", "LlamaServer", "LlamaServerError", "VllmServer", "VllmUnavailable",
           "read_metrics", "serve"]
