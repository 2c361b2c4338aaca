"""Re-emit any provider's chunks as OpenAI Chat Completions stream chunks.

:class:`OpenAIChunkEncoder` turns :class:`~llm_connectivity.StreamChunk` objects (from an
Anthropic, Gemini or any other stream) into ``chat.completion.chunk`` dicts, so an
OpenAI-style front end or SDK can consume them; ``to_sse(..., format="openai")`` writes
them as ``data:`` lines followed by ``data: [DONE]``. The first chunk carries
``role: "assistant"``; reasoning goes to ``delta.reasoning_content`` (the field DeepSeek,
vLLM and others use); the finish reason is sent once; usage, when known, is sent as the
final ``{"choices": [], "usage": ...}`` chunk (as with ``stream_options.include_usage``).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from ..errors import APIStatusError
from ..models import StreamChunk, Usage

__all__ = ["OpenAIChunkEncoder", "openai_error", "openai_usage_dict"]


def openai_usage_dict(usage: Usage) -> dict[str, Any]:
    """``Usage`` in OpenAI's shape (with the cached and reasoning token details)."""
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens}}


def openai_error(exc: BaseException, message: str) -> dict[str, Any]:
    """An in-band OpenAI error object; ``code`` is the HTTP status when there is one, so
    OpenAI-style clients (this library's driver included) raise the matching class."""
    code = exc.status_code if isinstance(exc, APIStatusError) else None
    return {"error": {"message": message, "type": _snake_case(type(exc).__name__), "code": code}}


# a word boundary before a capital that follows a lowercase letter or digit ("RateLimit"),
# and before the last capital of an acronym when a lowercase letter follows ("LLMError")
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake_case(name: str) -> str:
    """A class name in snake case, acronyms kept whole: ``"RateLimitError"`` ->
    ``"rate_limit_error"``, ``"LLMError"`` -> ``"llm_error"``, ``"APIConnectionError"`` ->
    ``"api_connection_error"``."""
    return _WORD_BOUNDARY.sub("_", name).lower()


class OpenAIChunkEncoder:
    """Translate chunks one by one: :meth:`encode` per chunk, :meth:`finish` at the end.

    >>> enc = OpenAIChunkEncoder(model="claude-x", completion_id="chatcmpl-1", created=0)
    >>> enc.encode(StreamChunk(content="Hi"))[0]["choices"]
    [{'index': 0, 'delta': {'role': 'assistant', 'content': 'Hi'}, 'finish_reason': None}]
    """

    def __init__(self, *, model: str = "", completion_id: str | None = None, created: int | None = None) -> None:
        self.model = model
        self.id = completion_id or f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time()) if created is None else created
        self._role_sent = False
        self._finish_sent = False
        self._usage: Usage | None = None

    def _frame(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": choices}

    def encode(self, chunk: StreamChunk) -> list[dict[str, Any]]:
        """The Chat Completions chunks for ``chunk`` (none for a chunk with nothing to say)."""
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.metadata and isinstance(chunk.metadata.get("model"), str) and not self.model:
            self.model = chunk.metadata["model"]
        delta: dict[str, Any] = {}
        if chunk.content:
            delta["content"] = chunk.content
        if chunk.reasoning:
            delta["reasoning_content"] = chunk.reasoning
        if chunk.tool_calls:
            delta["tool_calls"] = [self._tool_call(d) for d in chunk.tool_calls]
        finish = None
        if chunk.finish_reason is not None and not self._finish_sent:
            finish = chunk.finish_reason if chunk.finish_reason != "error" else "stop"
            self._finish_sent = True
        if not delta and finish is None:
            return []
        return [self._frame([{"index": 0, "delta": self._first(delta), "finish_reason": finish}])]

    def _first(self, delta: dict[str, Any]) -> dict[str, Any]:
        """``delta``, with ``role: "assistant"`` in the first one sent (as OpenAI does, also
        when the answer is empty)."""
        if self._role_sent:
            return delta
        self._role_sent = True
        return {"role": "assistant", **(delta or {"content": ""})}

    @staticmethod
    def _tool_call(delta: Any) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": delta.arguments}
        if delta.name:
            function["name"] = delta.name
        call: dict[str, Any] = {"index": delta.index, "function": function}
        if delta.id:
            call["id"] = delta.id
            call["type"] = "function"
        return call

    def finish(self) -> list[dict[str, Any]]:
        """The closing chunks: a finish reason if none was sent, then the usage chunk."""
        frames: list[dict[str, Any]] = []
        if not self._finish_sent:
            frames.append(self._frame([{"index": 0, "delta": self._first({}), "finish_reason": "stop"}]))
            self._finish_sent = True
        if self._usage is not None:
            frame = self._frame([])
            frame["usage"] = openai_usage_dict(self._usage)
            frames.append(frame)
        return frames
