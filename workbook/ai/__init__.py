"""The provider abstraction: one protocol, one factory, many backends.

``import workbook.ai`` is cheap: provider SDKs (openai, boto3, llama_cpp) are imported only
when ``create_ai_provider`` builds a provider that needs them.
"""

from .errors import (
    AuthenticationError,
    ConfigurationError,
    IncompleteResponseError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitError,
    StructuredOutputError,
)
from .factory import create_ai_provider, missing_variables
from .registry import provider_names, register_provider, unregister_provider
from .settings import AISettings, ProviderType, load_settings
from .structured import StructuredAnswer, ask_structured
from .types import AIProvider, ChatResponse, ChatStream, Message, Usage

__all__ = [
    "Message", "ChatResponse", "Usage", "ChatStream", "AIProvider",
    "AISettings", "ProviderType", "load_settings",
    "create_ai_provider", "missing_variables",
    "register_provider", "unregister_provider", "provider_names",
    "ProviderError", "ConfigurationError", "InvalidRequestError", "AuthenticationError",
    "RateLimitError", "ModelNotFoundError", "ProviderUnavailableError", "IncompleteResponseError",
    "StructuredOutputError", "ask_structured", "StructuredAnswer",
]
