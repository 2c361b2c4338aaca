"""Grapheme clusters (what a reader sees as one character), without third-party modules.

A small implementation of the parts of Unicode's extended grapheme cluster rules that
matter for model output: combining and spacing marks (Thai and Lao AM included),
variation selectors, emoji modifiers (skin tones), zero-width-joiner sequences (``👩‍💻``),
tag sequences (subdivision flags), flags made of two regional indicators, Indic conjuncts
(consonant + virama + consonant: ``क्ष``), Hangul jamo sequences, and CR LF. It is not the
full UAX #29 table (the ``regex`` module's ``\\X`` is): it keeps whatever follows a ZWJ
in the cluster, and has no Prepend rule. But it never splits the sequences above, and
splitting text into its clusters and joining them back always gives the text.

:func:`split_graphemes` splits a whole text; :func:`stable_end` says where text that may
still grow can safely be cut (a cluster that touches the end may continue in the next chunk).
"""

from __future__ import annotations

import unicodedata

__all__ = ["split_graphemes", "stable_end", "safe_cut"]

_ZWJ = "\u200d"
# Spacing marks that Unicode files as letters (Lo): Thai SARA AM, Lao AM (rule GB9a).
_SPACING_LETTERS = frozenset("\u0e33\u0eb3")
# Indic conjuncts (rule GB9c): after one of these viramas (InCB=Linker), a consonant of the
# same script (InCB=Consonant) continues the cluster: क् + ष = क्ष.
_LINKER_CONSONANTS: dict[str, tuple[tuple[int, int], ...]] = {
    "\u094d": ((0x915, 0x939), (0x958, 0x95F), (0x978, 0x97F)),  # Devanagari
    "\u09cd": ((0x995, 0x9A8), (0x9AA, 0x9B0), (0x9B2, 0x9B2), (0x9B6, 0x9B9), (0x9DC, 0x9DD),
               (0x9DF, 0x9DF), (0x9F0, 0x9F1)),  # Bengali
    "\u0acd": ((0xA95, 0xAA8), (0xAAA, 0xAB0), (0xAB2, 0xAB3), (0xAB5, 0xAB9), (0xAF9, 0xAF9)),  # Gujarati
    "\u0b4d": ((0xB15, 0xB28), (0xB2A, 0xB30), (0xB32, 0xB33), (0xB35, 0xB39), (0xB5C, 0xB5D),
               (0xB5F, 0xB5F), (0xB71, 0xB71)),  # Oriya
    "\u0c4d": ((0xC15, 0xC28), (0xC2A, 0xC39), (0xC58, 0xC5A)),  # Telugu
    "\u0d4d": ((0xD15, 0xD3A),),  # Malayalam
}


def _extends(ch: str) -> bool:
    """True if ``ch`` attaches to the character before it."""
    o = ord(ch)
    if o < 0x300:
        return False
    if 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F:  # emoji modifiers, tags
        return True
    if o == 0x200D or o == 0x200C or ch in _SPACING_LETTERS:  # ZWJ, ZWNJ, Thai/Lao AM
        return True
    if 0x1160 <= o <= 0x11FF or 0xD7B0 <= o <= 0xD7FF:  # Hangul jungseong / jongseong
        return True
    return unicodedata.category(ch) in ("Mn", "Me", "Mc")


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _joins(prev: str, ch: str, regional_run: int) -> bool:
    """True if ``ch`` continues the cluster ending with ``prev``."""
    if prev == "\r" or prev == "\n":  # nothing attaches to a line break (but CR LF is one)
        return prev == "\r" and ch == "\n"
    if ch == "\n" or ch == "\r":
        return False
    if prev == _ZWJ:  # ZWJ sequences: the next pictograph joins
        return True
    if 0xD800 <= ord(prev) <= 0xDBFF:  # a surrogate pair (from JSON escapes): never cut in two
        return 0xDC00 <= ord(ch) <= 0xDFFF
    if _is_regional(ch) and _is_regional(prev):
        return regional_run % 2 == 1  # pairs: the second of each pair joins the first
    if 0x1100 <= ord(prev) <= 0x115F and 0x1100 <= ord(ch) <= 0x115F:  # Hangul choseong run
        return True
    consonants = _LINKER_CONSONANTS.get(prev)
    if consonants is not None and any(a <= ord(ch) <= b for a, b in consonants):  # Indic conjunct
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
