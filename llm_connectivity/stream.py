"""ChatStream: the iterator and context manager returned by ``LLMClient.chat_stream``."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

import threading
from typing import TYPE_CHECKING

from .aggregate import ResponseAccumulator
from .models import ChatResponse, StreamChunk

if TYPE_CHECKING:
    from .engine import StreamHandle

__all__ = ["ChatStream"]


class ChatStream:
    """An iterator of :class:`StreamChunk` that owns one HTTP response.

    Iterate it (``for chunk in stream``), or use it as a context manager; leaving the
    ``with`` block, :meth:`close`, exhausting it, or dropping the last reference to it
    (the generator's ``finally`` runs on collection) releases the connection. ``stream.response`` is the :class:`ChatResponse` aggregated from the chunks
    received so far: the whole answer once the stream is exhausted (``stream.is_complete``).
    """

    __slots__ = ("_chunks", "_acc", "_handle", "__weakref__")

    def __init__(self, chunks: Iterator[StreamChunk], accumulator: ResponseAccumulator,
                 handle: StreamHandle | None = None) -> None:
        self._chunks = chunks
        self._acc = accumulator
        self._handle = handle

    def __iter__(self) -> Iterator[StreamChunk]:
        return self._chunks

    def __next__(self) -> StreamChunk:
        return next(self._chunks)

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the stream and release its connection; safe to call more than once, and
        from another thread (a web back end whose client went away): a read blocked in the
        consuming thread then ends at once with StreamInterruptedError."""
        handle = self._handle
        if handle is not None and handle.owner not in (None, threading.get_ident()):
            handle.abort()  # another thread reads this stream: let it stop itself
            return
        self._chunks.close()  # type: ignore[attr-defined]

    @property
    def is_complete(self) -> bool:
        """True once the provider's terminal event was received."""
        return self._acc.complete

    @property
    def response(self) -> ChatResponse:
        """The aggregated response (partial until the stream is exhausted)."""
        return self._acc.build()

    def text(self) -> str:
        """Consume the rest of the stream and return the whole answer text."""
        for _ in self._chunks:
            pass
        return self._acc.content

    def __repr__(self) -> str:
        state = "complete" if self._acc.complete else "open"
        return f"<ChatStream {self._acc.provider}/{self._acc.model} {state}, {self._acc.chunk_count} chunks>"
