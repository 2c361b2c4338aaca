"""Walking an exception's causes (pure helpers of the transport's error mapping)."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["chain", "invalid_header_words", "root_cause"]


def root_cause(exc: BaseException) -> BaseException:
    """The innermost cause of ``exc`` (``reason``, ``__cause__`` or ``__context__``; bounded)."""
    for exc in chain(exc):
        pass
    return exc


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes, outermost first (bounded)."""
    for _ in range(10):
        yield exc
        nxt = getattr(exc, "reason", None) or exc.__cause__ or exc.__context__
        if not isinstance(nxt, BaseException) or nxt is exc:
            return
        exc = nxt


def invalid_header_words(text: str) -> str:
    """urllib3's "Content-Length contained multiple unmatching values (296, 3)" in the words
    of the direct path."""
    if text.startswith("Content-Length") and text.endswith(")") and "(" in text:
        return f"the server sent an invalid Content-Length {text[text.rindex('(') + 1:-1]!r}"
    return f"the server sent an invalid response header: {text}"
