"""llm_connectivity: fast, synchronous, iterator-based streaming from LLM providers.

    >>> from llm_connectivity import LLMClient
    >>> client = LLMClient(model="openai/gpt-4o-mini")          # doctest: +SKIP
    >>> for chunk in client.chat_stream("Count to 5"):          # doctest: +SKIP
    ...     print(chunk.content, end="", flush=True)
"""

from __future__ import annotations

import logging

from . import errors
from .client import LLMClient
from .errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    LLMError,
    MissingAPIKeyError,
    NetworkError,
    RateLimitError,
    StreamInterruptedError,
)
from .models import ChatResponse, StreamChunk, ToolCall, ToolCallDelta, Usage
from .options import UNSET, StreamingOptions
from .registry import register_provider
from .retry import RetryPolicy
from .stream import ChatStream

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ChatResponse",
    "ChatStream",
    "ConfigurationError",
    "LLMClient",
    "LLMError",
    "MissingAPIKeyError",
    "NetworkError",
    "RateLimitError",
    "RetryPolicy",
    "StreamChunk",
    "StreamInterruptedError",
    "StreamingOptions",
    "ToolCall",
    "ToolCallDelta",
    "UNSET",
    "Usage",
    "errors",
    "register_provider",
]

from ._version import __version__ as __version__  # one place for the version

logging.getLogger("llm_connectivity").addHandler(logging.NullHandler())
