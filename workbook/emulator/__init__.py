"""An offline stand-in for OpenAI, Azure OpenAI, vLLM, Ollama and AWS Bedrock on 127.0.0.1.

Every provider runs through its real SDK against it: in tests, in CI, and in a classroom
whose network fails. See ``Emulator``.
"""

from .emulator import DEFAULT_DEPLOYMENTS, DEFAULT_MODELS, Emulator
from .exchange import RecordedRequest
from ..ai.registry import PROTOCOLS
from .faults import FAULTS

__all__ = ["Emulator", "RecordedRequest", "DEFAULT_MODELS", "DEFAULT_DEPLOYMENTS",
           "FAULTS", "PROTOCOLS"]
