"""How wrappers find out about, and close, the stream they wrap.

Every wrapper records its source when it is called (:func:`link`), at no per-chunk cost,
so a later stage can walk back to the :class:`~llm_connectivity.ChatStream` at the start of
a chain (:func:`find_attr`: e.g. the request's ``max_tokens`` for a progress estimate).
:func:`close_source` closes whatever a wrapper wraps; a wrapper calls it in its
``finally``, so closing the outermost wrapper closes the stream and frees its connection.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

__all__ = ["close_source", "find_attr", "link"]

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
    """Close ``source`` if it can be closed (a generator, a ChatStream, a wrapper)."""
    close = getattr(source, "close", None)
    if callable(close):
        close()
