"""llm_connectivity: fast, synchronous, iterator-based streaming from LLM providers.

    >>> from llm_connectivity import LLMClient
    >>> client = LLMClient(model="openai/gpt-4o-mini")          # doctest: +SKIP
    >>> for chunk in client.chat_stream("Count to 5"):          # doctest: +SKIP
    ...     print(chunk.content, end="", flush=True)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import errors
from .client import LLMClient
from .errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectError,
    InvalidRequestError,
    LLMError,
    MissingAPIKeyError,
    NetworkError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ServerError,
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
    "BudgetExceededError",
    "ChatResponse",
    "ChatStream",
    "ConfigurationError",
    "ConnectError",
    "InvalidRequestError",
    "JSONSchemaError",
    "JSONStreamError",
    "LLMClient",
    "LLMError",
    "MissingAPIKeyError",
    "NetworkError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "StreamChunk",
    "StreamInterruptedError",
    "StreamingOptions",
    "StreamingResponse",
    "ToolCall",
    "ToolCallDelta",
    "UNSET",
    "Usage",
    "errors",
    "register_provider",
]

from ._version import __version__ as __version__  # one place for the version

logging.getLogger("llm_connectivity").addHandler(logging.NullHandler())

# Loaded on first use, so ``import llm_connectivity`` stays small.
_LAZY = {"BudgetExceededError": "budget", "JSONSchemaError": "json_stream", "JSONStreamError": "json_stream",
         "StreamingResponse": "streaming_response"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{module}", __name__), name)


if TYPE_CHECKING:
    from .budget import BudgetExceededError
    from .json_stream import JSONSchemaError, JSONStreamError
    from .streaming_response import StreamingResponse
