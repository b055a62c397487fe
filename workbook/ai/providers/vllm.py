"""``vllm``: a vLLM server's OpenAI-compatible API (default http://localhost:8000/v1).

vLLM serves exactly the model it was started with, so ``AI__MODEL`` must name it.
"""

from __future__ import annotations

from .openai import OpenAIProvider


# Default URL and model: its entry in workbook/ai/registry.py.
class VLLMProvider(OpenAIProvider):
    name = "vllm"
    strict_schema = False  # it enforces a schema by grammar whatever "strict" says
    hints = {
        "auth": "The server was started with --api-key: set AI__OPENAI_API_KEY to it.",
        "not_found": "AI__MODEL must be the model vLLM serves (see GET /v1/models).",
        "unavailable": "Start it: `vllm serve MODEL` (or set AI__OPENAI_BASE_URL).",
    }
