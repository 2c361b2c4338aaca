"""``buffer_words``: whole words, each with the whitespace before it.

A word is complete when whitespace (or a CJK character) follows it, so each piece is the
whitespace before a word plus the word (``"Hello"``, ``" world!"``, ``"\n\nNext"``), the
way model tokens are shaped: a word that arrived as one chunk is passed on as that very
chunk. Whitespace at the end of the stream is a piece of its own. Joining the pieces gives
the input exactly.

Scripts written without spaces are never held to the end: each Chinese or Japanese
character (Han, kana, CJK symbols and punctuation, full-width forms), with any marks that
follow it (a variation selector, a combining voicing mark), is a word of its own, released
when the next text arrives. The pieces do not depend on how the text was chunked. Any other
run longer than ``max_chars`` without a space (Thai, a long URL, a wall of digits) is
released in pieces of at most ``max_chars`` characters, cut between grapheme clusters.
The ideographic space U+3000 is whitespace like any other.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator

from ..models import StreamChunk
from ..tokens import TokenCounter
from .buffering import TextHolder, check_positive, run_segmenter, wrap
from .graphemes import safe_cut

__all__ = ["WordBuffer", "buffer_words"]

# Characters that are words on their own (no spaces in these scripts); all are >= U+2E80.
# Not the ideographic space U+3000 (whitespace) nor the combining voicing marks U+3099/309A.
CJK = ("\u2e80-\u2fdf\u3001-\u3098\u309b-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
       "\uff00-\uffef\U00020000-\U0003134f")
# Marks that stay with the CJK character before them: combining marks, kana voicing marks,
# variation selectors (emoji and ideographic).
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a\ufe00-\ufe0f\U000e0100-\U000e01ef"
_PIECE = re.compile(rf"\s*(?:[{CJK}][{_MARKS}]*|[^\s{CJK}]+)|\s+")
_ONE_PIECE = re.compile(rf"\s*[^\s{CJK}]*")
_BREAK = re.compile(rf"[\s{CJK}]")
_FIRST_CJK = CJK[0]

# How a chunk's text meets the word held before it, by text (model tokens repeat, so this is
# a dict lookup instead of a regex or a few str methods a chunk):
_WORD = 1  # whitespace and then one word (" quick"): the held word is complete
_PART = 2  # no whitespace, no CJK ("ing", ","): the held word goes on
_OTHER = 3  # anything else: split with _PIECE
_KINDS: dict[str, int] = {}
_KINDS_LIMIT = 8192


def _kind(text: str) -> int:
    """Classify ``text`` (see _WORD, _PART, _OTHER) and remember it."""
    if _BREAK.search(text) is None:
        kind = _PART
    elif text[0].isspace() and _ONE_PIECE.fullmatch(text):
        kind = _WORD
    else:
        kind = _OTHER
    if len(text) <= 64:  # token-sized texts only
        if len(_KINDS) >= _KINDS_LIMIT:
            _KINDS.clear()
        _KINDS[text] = kind
    return kind


class WordBuffer(TextHolder):
    """The ``feed()/flush()`` state of :func:`buffer_words`; usable without a generator.

    >>> words = WordBuffer()
    >>> words.feed("Hel"), words.feed("lo wor"), words.feed("ld"), words.feed(" !"), words.flush()
    ([], ['Hello'], [], [' world'], [' !'])
    """

    __slots__ = ("max_chars",)

    def __init__(self, *, max_chars: int = 32) -> None:
        check_positive("max_chars", max_chars, allow_none=False, integer=True)
        super().__init__()
        self.max_chars = max_chars

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the words now complete."""
        held = self.held_text
        if not text:
            return []
        kind = _KINDS.get(text) or _kind(text)
        if held:
            if kind is _WORD and not held[-1].isspace() and len(text) <= self.max_chars:
                self.held_text = text  # the usual model token " word": the held word is complete
                return [held]
            ends_in_word = held[-1] < _FIRST_CJK  # not a CJK character (or an emoji: rare, exact below)
            held += text
            if kind is _PART and ends_in_word:  # the held word goes on
                self.held_text = held
                return self._bound([]) if len(held) > self.max_chars else []
        elif kind is not _OTHER and len(text) <= self.max_chars:
            self.held_text = text  # a word, or the start of one
            return []
        else:
            held = text
        pieces = _PIECE.findall(held)
        last = pieces.pop()  # may go on (a CJK character too: marks may follow it)
        # held as the same str object when it is the whole text of the chunk that just came
        # (or all that is held), so that chunk can be passed on as it is
        self.held_text = text if last == text else held if not pieces and len(last) == len(held) else last
        return self._bound(pieces) if len(held) > self.max_chars else pieces

    def _bound(self, pieces: list[str]) -> list[str]:
        """Cut every piece (the held one too) longer than ``max_chars``."""
        limit = self.max_chars
        if any(len(p) > limit for p in pieces):
            pieces = [cut for piece in pieces for cut in self._cuts(piece)]
        held = self.held_text
        if len(held) > limit:
            *done, self.held_text = self._cuts(held)
            pieces += done
        return pieces

    def _cuts(self, text: str) -> list[str]:
        cuts = []
        while len(text) > self.max_chars:
            cut = safe_cut(text, self.max_chars)
            cuts.append(text[:cut])
            text = text[cut:]
        cuts.append(text)
        return cuts


def buffer_words(chunks: Iterable[StreamChunk], *, max_chars: int = 32, max_delay: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 counter: TokenCounter | None = None) -> Iterator[StreamChunk]:
    """Re-chunk a stream into whole words, each with the whitespace before it.

    ``max_chars`` bounds the text held without a word boundary; ``max_delay`` (seconds)
    releases held text that waited that long, also while the source is silent. Non-text
    chunks pass through in order (see :mod:`~llm_connectivity.streaming.buffering`).

    >>> from llm_connectivity.streaming import replay
    >>> [c.content for c in buffer_words(replay("Hello wor", chunk_size=3)) if c.content]
    ['Hello', ' wor']
    """
    check_positive("max_delay", max_delay)
    segmenter = WordBuffer(max_chars=max_chars)
    return wrap(chunks, run_segmenter(chunks, segmenter, max_delay=max_delay, clock=clock, counter=counter))
