"""How wrappers find out about, and close, the stream they wrap.

Every wrapper records its source when it is called (:func:`link`), at no per-chunk cost,
so a later stage can walk back to the :class:`~llm_connectivity.ChatStream` at the start of
a chain (:func:`find_attr`: e.g. the request's ``max_tokens`` for a progress estimate).
:func:`close_source` closes whatever a wrapper wraps; a wrapper calls it in its
``finally``, so closing the outermost wrapper closes the stream and frees its connection.
:func:`abort_chain` is for a chain another thread is reading (the ticker's reader): it
closes the stream at the start of the chain from this thread, which ends the blocked read.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from types import GeneratorType
from typing import Any

__all__ = ["abort_chain", "close_source", "find_attr", "link"]

logger = logging.getLogger("llm_connectivity")

_SOURCES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_MISSING = object()


def link(wrapper: Any, source: Iterable[Any]) -> None:
    """Remember that ``wrapper`` (a generator) reads from ``source``."""
    try:
        _SOURCES[wrapper] = source
    except TypeError:  # not weak-referenceable: nothing to remember
        pass


def find_attr(chunks: Any, name: str, *, max_depth: int = 32) -> Any:
    """The first non-None ``name`` attribute along the chain of sources, or None."""
    for _ in range(max_depth):
        value = getattr(chunks, name, _MISSING)
        if value is not _MISSING and value is not None:
            return value
        try:
            chunks = _SOURCES.get(chunks)
        except TypeError:
            return None
        if chunks is None:
            return None
    return None


def close_source(source: Any) -> None:
    """Close ``source`` if it can be closed (a generator, a ChatStream, a wrapper).

    A generator that another thread is running cannot be closed (``ValueError``: generator
    already executing); that thread closes it when it stops (see :func:`abort_chain`)."""
    close = getattr(source, "close", None)
    if callable(close):
        try:
            close()
        except ValueError:
            if not isinstance(source, GeneratorType):
                raise
            logger.debug("a wrapper still running in another thread was left to close itself")


def abort_chain(source: Any, *, max_depth: int = 32) -> None:
    """Close every closable object along the chain of sources that is not a generator (a
    :class:`~llm_connectivity.ChatStream` may be closed from any thread: a read blocked in
    another thread ends at once). Generators are skipped: only the thread running them can
    close them, and they do so when their source ends."""
    for _ in range(max_depth):
        if not isinstance(source, GeneratorType):
            close_source(source)
        try:
            source = _SOURCES.get(source)
        except TypeError:
            return
        if source is None:
            return
