"""``lmstudio``: LM Studio's local server, OpenAI-compatible (default http://localhost:1234/v1,
``AI__LMSTUDIO_BASE_URL``). Its URL, key and model settings come from its registry entry;
this file gives its hints (an entry could as well: see ``vllm`` in the registry)."""

from __future__ import annotations

from .openai import OpenAIProvider


# Default URL and model: its entry in workbook/ai/registry.py.
class LMStudioProvider(OpenAIProvider):
    name = "lmstudio"
    strict_schema = False  # it enforces a schema by grammar whatever "strict" says
    hints = {
        "auth": "LM Studio needs no key unless you enabled one; check AI__LMSTUDIO_API_KEY.",
        "not_found": "Load a model in LM Studio, or set AI__MODEL to a loaded model's id.",
        "unavailable": "Start LM Studio's server (Developer tab -> Start Server) on port 1234.",
    }
