"""A timer for blocking sources: read a stream in a helper thread, yield ticks while it is silent.

A generator can only run when its consumer asks for the next item, and a blocking source
(a ChatStream waiting for the provider) gives control back only when a chunk arrives. To
act while the source is silent (``to_sse`` keep-alive comments), :func:`with_ticks` reads
the source in a daemon thread into a small queue and yields ``None`` every ``interval``
seconds without a chunk. Errors from the source are re-raised in the consumer's thread.
The buffers use it the same way for ``max_delay``, with a wait that runs until the held
text is due.

Stopping: closing the generator (a WSGI server does it when the browser goes away) sets a
stop flag, closes the :class:`~llm_connectivity.ChatStream` at the start of the chain of
sources from the consumer's thread (:func:`~.chain.abort_chain`: a ChatStream supports it,
and the blocked read ends at once, also under other wrappers), and joins the reader for at
most ``join_timeout`` seconds. The wrappers between them are generators the reader thread
runs: they cannot be closed from here, and the reader closes them on its way out. A source
with no ChatStream under it that blocks is closed by the reader when its next item arrives.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..models import StreamChunk
from .chain import abort_chain, close_source

__all__ = ["with_ticks"]

logger = logging.getLogger("llm_connectivity")

_ITEM, _END, _ERROR = 0, 1, 2


def _reader(chunks: Iterable[StreamChunk], out: queue.Queue[tuple[int, Any]], stop: threading.Event) -> None:
    def put(item: tuple[int, Any]) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for chunk in chunks:
            if not put((_ITEM, chunk)):
                break
        else:
            put((_END, None))
    except BaseException as exc:  # delivered to the consumer, re-raised there
        put((_ERROR, exc))
    finally:
        if stop.is_set():
            try:
                close_source(chunks)
            except Exception:  # pragma: no cover - best effort on the way out
                logger.debug("closing the source in the reader thread failed", exc_info=True)


def with_ticks(chunks: Iterable[StreamChunk], interval: float | Callable[[], float | None], *,
               join_timeout: float = 2.0) -> Iterator[StreamChunk | None]:
    """Yield the chunks of ``chunks``, and ``None`` after each ``interval`` seconds in
    which no chunk arrived. ``interval`` may be a callable, asked before each wait, that
    returns the seconds to wait for the next tick (``None``: no tick, wait for a chunk).
    The helper thread starts at the first ``next()``."""
    out: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=16)
    stop = threading.Event()
    thread = threading.Thread(target=_reader, args=(chunks, out, stop), name="llm-connectivity-ticker",
                              daemon=True)
    thread.start()
    wait = interval if callable(interval) else (lambda: interval)
    try:
        while True:
            try:
                seconds = wait()
                kind, item = out.get(timeout=None if seconds is None else min(seconds, threading.TIMEOUT_MAX))
            except queue.Empty:
                yield None
                continue
            if kind == _ITEM:
                yield item
            elif kind == _END:
                return
            else:
                raise item
    finally:
        stop.set()
        if thread.is_alive():
            abort_chain(chunks)  # a ChatStream at the start of the chain ends the blocked read
            thread.join(join_timeout)
            if thread.is_alive():
                logger.warning("the stream reader thread did not stop within %.1fs", join_timeout)
