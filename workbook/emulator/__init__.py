"""An offline stand-in for OpenAI, Azure OpenAI, Ollama and AWS Bedrock on 127.0.0.1.

Every provider runs through its real SDK against it: in tests, in CI, and in a classroom
whose network fails. See ``Emulator``.
"""

from .emulator import DEFAULT_DEPLOYMENTS, DEFAULT_MODELS, ENV_PROVIDERS, Emulator
from .exchange import RecordedRequest
from ..ai.registry import PROTOCOLS
from .faults import FAULTS

__all__ = ["Emulator", "RecordedRequest", "DEFAULT_MODELS", "DEFAULT_DEPLOYMENTS",
           "ENV_PROVIDERS", "FAULTS", "PROTOCOLS"]
