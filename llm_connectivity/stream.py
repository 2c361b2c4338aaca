"""ChatStream: the iterator and context manager returned by ``LLMClient.chat_stream``."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
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
    (the generator's ``finally`` runs on collection) releases the connection.
    ``stream.response`` is the :class:`ChatResponse` aggregated from the chunks received
    so far: the whole answer once the stream is exhausted (``stream.is_complete``).
    ``next()`` may be called from different threads in turn (one at a time), and
    :meth:`close` from any thread at any moment.
    """

    __slots__ = ("_chunks", "_acc", "_handle", "max_tokens", "__weakref__")

    def __init__(self, chunks: Iterator[StreamChunk], accumulator: ResponseAccumulator,
                 handle: StreamHandle | None = None, *, max_tokens: int | None = None) -> None:
        self._chunks = chunks
        self._acc = accumulator
        self._handle = handle
        #: the request's output-token limit, if it set one (progress trackers use it as the estimate)
        self.max_tokens = max_tokens

    def __iter__(self) -> Iterator[StreamChunk]:
        return self

    def __next__(self) -> StreamChunk:
        try:
            return next(self._chunks)
        except ValueError:  # "generator already executing": close() from another thread is
            handle = self._handle  # finishing the stream at this very moment
            if handle is not None and handle.cancelled:
                raise StopIteration from None
            raise

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
        from any thread at any moment (a web back end whose client went away).

        If another thread is inside ``next()`` (blocked on a read or a retry backoff), it
        is woken at once and raises ``StreamInterruptedError("...closed by the caller")``
        with the partial response; otherwise the stream ends here and a later ``next()``
        raises ``StopIteration`` (``is_complete`` stays False).
        """
        handle = self._handle
        if handle is not None:
            handle.abort()  # unblocks a read or a backoff wherever it runs
        try:
            self._chunks.close()  # type: ignore[attr-defined]
        except ValueError:  # "generator already executing": another thread is inside next();
            pass            # the abort above makes it raise and release the connection itself

    @property
    def is_complete(self) -> bool:
        """True once the provider's terminal event was received."""
        return self._acc.complete

    @property
    def terminal_event(self) -> bool:
        """False when the stream completed after its finish reason without the provider's
        terminal event (``[DONE]``, ``message_stop``), which did not come within the grace."""
        return self._acc.terminal_event

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
