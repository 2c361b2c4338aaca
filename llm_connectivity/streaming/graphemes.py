"""Grapheme clusters (what a reader sees as one character), without third-party modules.

A small implementation of the parts of Unicode's extended grapheme cluster rules that
matter for model output: combining marks, variation selectors, emoji modifiers (skin
tones), zero-width-joiner sequences (``👩‍💻``), tag sequences (subdivision flags), flags
made of two regional indicators, Hangul jamo sequences, and CR LF. It is not the full
UAX #29 table (the ``regex`` module's ``\\X`` is), but it never splits the sequences
above, and splitting text into its clusters and joining them back always gives the text.

:func:`split_graphemes` splits a whole text; :func:`stable_end` says where text that may
still grow can safely be cut (a cluster that touches the end may continue in the next chunk).
"""

from __future__ import annotations

import unicodedata

__all__ = ["split_graphemes", "stable_end", "safe_cut"]

_ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """True if ``ch`` attaches to the character before it."""
    o = ord(ch)
    if o < 0x300:
        return False
    if 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F:  # emoji modifiers, tags
        return True
    if o == 0x200D or o == 0x200C:  # ZWJ, ZWNJ
        return True
    if 0x1160 <= o <= 0x11FF or 0xD7B0 <= o <= 0xD7FF:  # Hangul jungseong / jongseong
        return True
    return unicodedata.category(ch) in ("Mn", "Me", "Mc")


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _joins(prev: str, ch: str, regional_run: int) -> bool:
    """True if ``ch`` continues the cluster ending with ``prev``."""
    if prev == "\r":
        return ch == "\n"
    if ch == "\n" or ch == "\r":
        return False
    if prev == _ZWJ:  # ZWJ sequences: the next pictograph joins
        return True
    if _is_regional(ch) and _is_regional(prev):
        return regional_run % 2 == 1  # pairs: the second of each pair joins the first
    if 0x1100 <= ord(prev) <= 0x115F and 0x1100 <= ord(ch) <= 0x115F:  # Hangul choseong run
        return True
    return _extends(ch)


def _boundaries(text: str) -> list[int]:
    """Start offsets of each cluster after the first (cluster boundaries inside ``text``)."""
    cuts: list[int] = []
    regional_run = 0
    prev = ""
    for i, ch in enumerate(text):
        if i and not _joins(prev, ch, regional_run):
            cuts.append(i)
        regional_run = regional_run + 1 if _is_regional(ch) else 0
        prev = ch
    return cuts


def split_graphemes(text: str) -> list[str]:
    """Split ``text`` into grapheme clusters; ``"".join`` of the result is ``text``.

    >>> [len(g) for g in split_graphemes("e\\u0301a\\U0001F44D\\U0001F3FD")]   # e + accent, thumbs + tone
    [2, 1, 2]
    """
    if not text:
        return []
    if text.isascii() and "\r" not in text:
        return list(text)
    starts = [0, *_boundaries(text), len(text)]
    return [text[a:b] for a, b in zip(starts, starts[1:])]


def stable_end(text: str) -> int:
    """Offset up to which ``text`` holds only complete clusters, assuming more text may
    follow: the last cluster is always held back (a combining mark, modifier or joined
    emoji could still attach to it), so this is the start of the last cluster."""
    if not text:
        return 0
    if text.isascii():
        return len(text) - 2 if text.endswith("\r\n") else len(text) - 1
    cuts = _boundaries(text)
    return cuts[-1] if cuts else 0


def safe_cut(text: str, limit: int) -> int:
    """The largest offset ``<= limit`` (and > 0 when possible) that is a cluster boundary
    of ``text``: where a size bound may cut without splitting a character in halves."""
    if limit >= len(text):
        return len(text)
    window = text[: limit + 1]
    if window.isascii() and not (window[limit - 1:limit] == "\r" and text[limit:limit + 1] == "\n"):
        return limit
    # re-derive clusters over a window wide enough to see the cluster that spans ``limit``
    start = max(0, limit - 64)
    cuts = [start + c for c in _boundaries(text[start: limit + 64])]
    best = 0
    for c in cuts:
        if c <= limit:
            best = c
    return best if best > 0 else (cuts[0] if cuts else len(text))
