"""``buffer_sentences``: sentence pieces, each with the whitespace that follows it.

Boundaries (a piece ends after the stop, any closing quotes or brackets, and the
whitespace after them):

* ``.``, ``!``, ``?``, ``…`` (and runs like ``?!`` or ``...``), and the stops of other
  scripts (``؟`` ``۔`` ``।`` ``॥`` ``։`` ``።`` ``။``), followed by whitespace and a
  character that is not a lowercase letter. So decimals (``3.14``), versions (``1.2.3``),
  URLs and e-mail addresses (no whitespace after their dots) and an ellipsis followed by
  lowercase never split;
* a single ``.`` after a known abbreviation (``Dr.``, ``Mr.``, ``vs.``...), a capital
  letter or dotted initials (``J.``, ``e.g.``, ``i.e.``, ``U.S.``), or a list number at the start of
  a line (``1.``) is not a boundary (so "... in the U.S. The ..." stays one piece);
* CJK full stops ``。！？`` (and their closing brackets) end a sentence with or without a space;
* a paragraph break (a blank line), and a single line break before a Markdown list item
  (``- ``, ``* ``, ``+ ``, ``1. ``, ``1) ``) or heading (``# ``), or after a heading;
* Markdown code fences (```` ``` ```` or ``~~~`` at the start of a line, closed only by a
  line of the same character at least as long, as in CommonMark) are never split inside:
  the text before the fence is released, the whole block is one piece.

A sentence with no boundary is released once it holds more than ``max_chars`` characters
(cut after whitespace where possible), except inside a code fence; ``max_delay`` releases
it after that many seconds. Joining the pieces always gives the input exactly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator

from ..models import StreamChunk
from ..tokens import TokenCounter
from .buffering import TextHolder, check_positive, run_segmenter, wrap
from .tokengroups import _cut_near

__all__ = ["SentenceBuffer", "buffer_sentences"]

# Latin stops, the CJK full stops, and the stops of other scripts that end a sentence before
# whitespace: Arabic question mark, Urdu full stop, Devanagari danda and double danda,
# Armenian, Ethiopic and Myanmar full stops.
_CANDIDATE = re.compile(r"[.!?…。！？؟۔।॥։።။]+|\n")
_CLOSERS = "\"')]}»”’」』）〕】》〉"
_CJK_STOPS = "。！？"
_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]|[A-Z]")  # e.g, U.S, J (not a lowercase unit: 5 m.)
ABBREVIATIONS = frozenset(
    "mr mrs ms mx dr prof sr jr st mt ft vs cf al approx dept est fig figs gen gov lt col sgt capt cmdr "
    "rev hon no nos vol vols pp ch sec op ed eds inc ltd co corp bros assn univ jan feb mar apr jun jul aug "
    "sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun ca resp incl".split())

_WAIT = -1  # "need more text to decide"
_NO = -2  # "not a boundary"


def _skip(text: str, k: int, chars: str) -> int:
    n = len(text)
    while k < n and text[k] in chars:
        k += 1
    return k


def _skip_space(text: str, k: int) -> int:
    n = len(text)
    while k < n and text[k].isspace():
        k += 1
    return k


def _fence_at(text: str, p: int) -> str | None:
    """The marker (``"```"``, ``"~~~~"``...) if the line starting at ``p`` opens a code fence
    (CommonMark: up to 3 spaces, 3 or more backticks or tildes, no backtick after backticks),
    ``""`` if it does not, None if that cannot be told yet."""
    q = _skip(text, p, " ")
    if q - p > 3:
        return ""
    if q == len(text):
        return None
    ch = text[q]
    if ch != "`" and ch != "~":
        return ""
    r = _skip(text, q, ch)
    if r == len(text):
        return None  # the run may go on
    if r - q < 3:
        return ""
    if ch == "`":
        eol = text.find("\n", r)
        if "`" in text[r:eol if eol >= 0 else len(text)]:
            return ""  # ```code``` on one line is inline code
        if eol < 0:
            return None
    return text[q:r]


def _heading_at(text: str, p: int) -> bool | None:
    """Does the line starting at ``p`` begin with a Markdown heading (``#`` to ``######``
    and a space)? None: cannot tell yet."""
    q = _skip(text, p, " ")
    r = _skip(text, q, "#")
    if r == len(text):
        return None
    return 0 < r - q <= 6 and q - p <= 3 and text[r] in " \t"


def _item_at(text: str, p: int) -> bool | None:
    """Does the line starting at ``p`` begin a Markdown list item (``- ``, ``* ``, ``+ ``,
    ``1. ``, ``1) ``, indented or not) or a heading? None: cannot tell yet."""
    q = _skip(text, p, " \t")
    if q == len(text):
        return None
    if text[q] in "-*+":
        r = q + 1
    elif text[q] == "#":
        return _heading_at(text, p)
    else:
        r = _skip(text, q, "0123456789")
        if r == q or r - q > 9:
            return False
        if r == len(text):
            return None
        if text[r] not in ".)":
            return False
        r += 1
    if r == len(text):
        return None
    return text[r] in " \t"


_CLOSERS_BY_MARKER: dict[str, re.Pattern[str]] = {}


def _fence_close(marker: str) -> re.Pattern[str]:
    """A whole line that closes a fence opened with ``marker`` (same character, at least as many)."""
    pattern = _CLOSERS_BY_MARKER.get(marker)
    if pattern is None:
        pattern = re.compile(rf"\n[ ]{{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*\r?\n")
        _CLOSERS_BY_MARKER[marker] = pattern
    return pattern


class SentenceBuffer(TextHolder):
    """The ``feed()/flush()`` state of :func:`buffer_sentences`.

    >>> s = SentenceBuffer()
    >>> s.feed("Dr. Smith paid $3.14. Then"), s.feed(" he left."), s.flush()
    (['Dr. Smith paid $3.14. '], [], ['Then he left.'])
    """

    __slots__ = ("max_chars", "_pos", "_fence", "_fence_pos", "_line_start", "_head")

    def __init__(self, *, max_chars: int = 400) -> None:
        check_positive("max_chars", max_chars, allow_none=False, integer=True)
        super().__init__()
        self.max_chars = max_chars
        self._pos = 0  # where to resume looking for a boundary in held_text
        self._fence = ""  # inside a code fence: the marker that opened it
        self._fence_pos = 0  # where to resume looking for the closing fence
        self._line_start = True  # held_text begins at the start of a line
        self._head = ""  # the start (up to 10 characters) of the line held_text is in, if released

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the sentences now complete."""
        self.held_text += text
        return self._scan()

    def flush(self) -> list[str]:
        """Return the held text (the code fence state is kept) and start afresh."""
        pieces = super().flush()
        self._pos = self._fence_pos = 0
        if pieces:
            self._line_start = pieces[-1][-1] in "\n\r"
            self._released(pieces[0])
        return pieces

    def _released(self, text: str) -> None:
        """Remember how the line that goes on in the held text began (to spot headings)."""
        nl = text.rfind("\n")
        self._head = text[nl + 1:nl + 11] if nl >= 0 else (self._head + text)[:10]

    # -- scanning -----------------------------------------------------------------------------
    def _scan(self) -> list[str]:
        held = self.held_text
        pieces: list[str] = []
        start = 0
        pos = self._pos
        if pos == 0 and self._line_start and not self._fence and held:
            opens = _fence_at(held, 0)
            if opens is None:
                return []
            if opens:
                self._fence, self._fence_pos = opens, 3
        while True:
            if self._fence:
                end = self._fence_end(held)
                if end < 0:
                    break
                pieces.append(held[start:end])
                start = pos = end
                self._fence = ""
                continue
            match = _CANDIDATE.search(held, pos)
            if match is None:
                pos = len(held)
                break
            cut = self._judge(held, match.start(), match.end(), start)
            if cut == _WAIT:
                pos = match.start()
                break
            if cut == _NO:
                pos = match.end()
                continue
            if cut > start:
                pieces.append(held[start:cut])
                start = cut
            pos = max(pos, cut, match.end())
        if not self._fence:
            while len(held) - start > self.max_chars:
                cut = start + _cut_near(held[start:start + self.max_chars + 1], self.max_chars)
                pieces.append(held[start:cut])
                start = cut
                pos = max(pos, start)
        if pieces:
            self._line_start = pieces[-1][-1] in "\n\r"
            self._released(held[:start])
        self.held_text = held[start:]
        self._pos = pos - start
        self._fence_pos = max(0, self._fence_pos - start)
        return pieces

    def _fence_end(self, held: str) -> int:
        """Offset just after the closing fence line and its trailing whitespace, or -1."""
        match = _fence_close(self._fence).search(held, self._fence_pos)
        if match is None:
            last = held.rfind("\n", self._fence_pos)
            if last >= 0:
                self._fence_pos = last
            return -1
        self._fence_pos = match.start()
        end = _skip_space(held, match.end())
        return -1 if end == len(held) else end

    def _judge(self, held: str, s: int, e: int, start: int) -> int:
        """Where the sentence ending with the candidate ``held[s:e]`` is cut, or _WAIT/_NO."""
        if held[s] == "\n":
            return self._judge_newline(held, s)
        k = _skip(held, e, _CLOSERS)
        if k == len(held):
            return _WAIT
        cjk = any(ch in _CJK_STOPS for ch in held[s:e])
        if not cjk and not held[k].isspace():
            return _NO
        end = _skip_space(held, k)
        if end == len(held):
            return _WAIT
        line = max(held.rfind("\n", k, end), held.rfind("\r", k, end)) + 1
        if line:  # the stop ends a line: a code fence may open on the next one
            opens = _fence_at(held, line)
            if opens is None:
                return _WAIT
            if opens:
                self._fence, self._fence_pos = opens, line + 3
                return line
        if cjk or "\n\n" in held[k:end]:
            return end
        if held[end].islower() or (held[s:e] == "." and self._is_abbreviation(held, s, start)):
            return _NO
        return end

    def _judge_newline(self, held: str, s: int) -> int:
        end = _skip(held, s + 1, " \t\r")
        if end == len(held):
            return _WAIT
        if held[end] != "\n":  # a single line break: a boundary before a code fence, a list
            opens = _fence_at(held, s + 1)  # item or a heading, and after a heading
            if opens:
                self._fence, self._fence_pos = opens, s + 4
                return s + 1
            if opens is None:
                return _WAIT
            item = _item_at(held, s + 1)
            if item is None:
                return _WAIT
            return s + 1 if item or self._ends_heading(held, s) else _NO
        end = _skip_space(held, end)
        if end == len(held):
            return _WAIT
        line = held.rfind("\n", 0, end) + 1
        opens = _fence_at(held, line)
        if opens:
            self._fence, self._fence_pos = opens, line + 3
            return line
        return _WAIT if opens is None else end

    def _ends_heading(self, held: str, s: int) -> bool:
        """Is the line that ends at ``s`` (a line break) a Markdown heading?"""
        begin = held.rfind("\n", 0, s) + 1
        return bool(_heading_at(held, begin) if begin else _heading_at(self._head + held[:s], 0))

    def _is_abbreviation(self, held: str, s: int, start: int) -> bool:
        """Is the word before the period at ``s`` an abbreviation, initials or a list number?"""
        begin = s
        while begin > start and s - begin < 64 and not held[begin - 1].isspace():
            begin -= 1
        word = held[begin:s].lstrip("([{\"'“‘«")
        if word.lower() in ABBREVIATIONS or _INITIALS.fullmatch(word):
            return True
        at_line_start = held[begin - 1:begin] in ("\n", "\r") or (begin == 0 and self._line_start)
        return word.isdigit() and at_line_start


def buffer_sentences(chunks: Iterable[StreamChunk], *, max_chars: int = 400, max_delay: float | None = None,
                     clock: Callable[[], float] = time.monotonic,
                     counter: TokenCounter | None = None) -> Iterator[StreamChunk]:
    """Re-chunk a stream into sentences (rules in the module docstring).

    >>> from llm_connectivity.streaming import replay
    >>> [c.content for c in buffer_sentences(replay("It is 3.14 m. Dr. Who? Yes.")) if c.content]
    ['It is 3.14 m. ', 'Dr. Who? ', 'Yes.']
    """
    check_positive("max_delay", max_delay)
    segmenter = SentenceBuffer(max_chars=max_chars)
    return wrap(chunks, run_segmenter(chunks, segmenter, max_delay=max_delay, clock=clock, counter=counter))
