"""JSON-mode streaming: an incremental JSON parser that keeps its state across deltas.

:class:`JSONStreamParser` reads each delta once (every character is scanned once, so the
work is linear in the text, however it is split) and keeps the value being built, so the
*current partial value* is available after every delta: containers hold the members
completed so far, a string in progress holds the characters received so far; a number or
``true``/``false``/``null`` appears once it is complete. A syntax error is reported at the
delta that makes the text invalid; :meth:`JSONStreamParser.close` reports truncated JSON.
The final value is parsed from the whole text in one pass (``jiter`` when installed, else
``json.loads``; they agree), so ``get_json()`` equals ``json.loads(text)``.

Errors are :class:`JSONStreamError` (holding the ``text``) and its subclass
:class:`JSONSchemaError` for a value that does not match the schema (``path`` names the
failing member, e.g. ``$.items[2].price``; needs the ``jsonschema`` extra).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError, LLMError

__all__ = ["JSONSchemaError", "JSONStreamError", "JSONStreamParser", "validate_json"]


class JSONStreamError(LLMError, ValueError):
    """The answer is not valid JSON (or was cut short): ``text`` is what was received,
    ``position`` the offset of the problem."""

    def __init__(self, message: str, *, text: str = "", position: int = 0, provider: str | None = None) -> None:
        super().__init__(message, provider=provider)
        self.text = text
        self.position = position


class JSONSchemaError(JSONStreamError):
    """The JSON is valid but does not match the schema: ``path`` (``$.a[0].b``) and
    ``validator`` (``"required"``, ``"type"``...) say where and why; ``value`` is the parsed JSON."""

    def __init__(self, message: str, *, text: str = "", path: str = "$", validator: str = "",
                 value: Any = None) -> None:
        super().__init__(message, text=text)
        self.path = path
        self.validator = validator
        self.value = value


_WS = re.compile(r"[ \t\r\n]*")
_STRING_STOP = re.compile(r'["\\\x00-\x1f]')
_NUMBERISH = re.compile(r"[-+0-9.eE]+")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_LITERALS = {"t": ("true", True), "f": ("false", False), "n": ("null", None)}
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_MISSING: Any = object()


def _span(pattern: re.Pattern[str], data: str, pos: int) -> int:
    """End of ``pattern``'s match at ``pos`` (``pos`` when it does not match)."""
    match = pattern.match(data, pos)
    return match.end() if match is not None else pos


def _skip_space(data: str, pos: int) -> int:
    return _span(_WS, data, pos)


# What a frame expects next.
_VALUE, _KEY, _COLON, _COMMA, _FIRST_KEY, _FIRST_VALUE, _END = range(7)


class JSONStreamParser:
    """Feed deltas with :meth:`feed`; :attr:`value` is the partial value so far."""

    def __init__(self) -> None:
        self._pending = ""  # an incomplete token (number, literal, escape) carried to the next feed
        self._stack: list[list[Any]] = []  # frames: [container, key, expect]
        self._root: Any = _MISSING
        self._expect = _VALUE  # for the root level
        self._string: list[str] | None = None  # pieces of the string in progress
        self._string_is_key = False
        self._placeholder = False  # the current list's last slot holds a string in progress
        self._parts: list[str] = []
        self.offset = 0  # characters consumed so far
        self.chars_scanned = 0  # characters handed to the scanner: about the text's length (linear)

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return "".join(self._parts)

    @property
    def started(self) -> bool:
        """True once the first non-space character arrived."""
        return self._root is not _MISSING or bool(self._stack)

    @property
    def complete(self) -> bool:
        """True once a whole JSON value was read."""
        return self._expect == _END and not self._stack

    @property
    def value(self) -> Any:
        """The partial value so far (None before anything started); a string in progress
        is materialised into its container on access."""
        if self._string is not None and not self._string_is_key:
            self._store_partial("".join(self._string))
        return None if self._root is _MISSING else self._root

    def feed(self, delta: str) -> None:
        """Consume ``delta``; raise :class:`JSONStreamError` at the first invalid character."""
        if not delta:
            return
        self._parts.append(delta)
        data = self._pending + delta
        self.chars_scanned += len(data)
        base = self.offset - len(self._pending)
        self._pending = ""
        pos = self._run(data, 0, base)
        self._pending = data[pos:]
        self.offset = base + len(data)

    def close(self) -> Any:
        """End of the text: return ``json.loads`` of it, or raise for truncated/invalid JSON."""
        text = self.text
        if self._pending and not self._stack and self._expect == _VALUE:
            self._run(self._pending + " ", 0, self.offset - len(self._pending))
        if not self.complete:
            what = "nothing" if not self.started else "an incomplete value"
            raise JSONStreamError(f"the answer ended with {what}: the JSON is truncated "
                                  f"({len(text)} characters received)", text=text, position=len(text))
        try:
            return _loads(text)
        except ValueError as exc:
            raise JSONStreamError(f"the answer is not valid JSON: {exc}", text=text,
                                  position=getattr(exc, "pos", 0)) from None

    # -- the state machine ---------------------------------------------------------------
    def _fail(self, why: str, data: str, pos: int, base: int) -> JSONStreamError:
        near = data[max(0, pos - 20):pos + 20]
        return JSONStreamError(f"invalid JSON at character {base + pos}: {why} (near {near!r})",
                               text=self.text, position=base + pos)

    def _run(self, data: str, pos: int, base: int) -> int:
        """Consume ``data`` from ``pos``; return where an incomplete token starts (or len)."""
        end = len(data)
        while pos < end:
            if self._string is not None:
                pos = self._in_string(data, pos, base)
                if self._string is not None:
                    return pos  # needs more text (escape split or string open)
                continue
            pos = _skip_space(data, pos)
            if pos >= end:
                return pos
            expect = self._stack[-1][2] if self._stack else self._expect
            char = data[pos]
            if expect in (_VALUE, _FIRST_VALUE):
                if char == "]" and expect == _FIRST_VALUE:
                    pos = self._close(pos)
                    continue
                start = pos
                pos = self._value(data, pos, base)
                if pos == start:
                    return pos  # incomplete number/literal
            elif expect in (_KEY, _FIRST_KEY):
                if char == "}" and expect == _FIRST_KEY:
                    pos = self._close(pos)
                elif char == '"':
                    self._string, self._string_is_key = [], True
                    pos += 1
                else:
                    raise self._fail("expected a member name in double quotes", data, pos, base)
            elif expect == _COLON:
                if char != ":":
                    raise self._fail("expected ':' after the member name", data, pos, base)
                self._stack[-1][2] = _VALUE
                pos += 1
            elif expect == _COMMA:
                pos = self._comma_or_close(data, pos, base)
            else:
                raise self._fail("unexpected text after the JSON value", data, pos, base)
        return pos

    def _value(self, data: str, pos: int, base: int) -> int:
        char = data[pos]
        if char == "{":
            self._open({}, _FIRST_KEY)
            return pos + 1
        if char == "[":
            self._open([], _FIRST_VALUE)
            return pos + 1
        if char == '"':
            self._string, self._string_is_key = [], False
            self._store("", begin_string=True)
            return pos + 1
        if char == "-" or char.isdigit():
            extent = _span(_NUMBERISH, data, pos)
            if extent == len(data):
                return pos  # the number may continue in the next delta
            match = _NUMBER.match(data, pos)
            if match is None or match.end() != extent:
                raise self._fail("malformed number", data, pos, base)
            text = match.group()
            self._store(float(text) if any(c in text for c in ".eE") else int(text))
            return match.end()
        literal = _LITERALS.get(char)
        if literal is not None:
            word, value = literal
            piece = data[pos:pos + len(word)]
            if piece == word:
                self._store(value)
                return pos + len(word)
            if word.startswith(piece) and pos + len(piece) == len(data):
                return pos
            bad = next(i for i, (got, want) in enumerate(zip(piece, word)) if got != want)
            raise self._fail(f"expected {word!r}", data, pos + bad, base)
        raise self._fail(f"unexpected character {char!r} where a value should start", data, pos, base)

    def _in_string(self, data: str, pos: int, base: int) -> int:
        pieces = self._string
        assert pieces is not None
        while True:
            match = _STRING_STOP.search(data, pos)
            if match is None:
                pieces.append(data[pos:])
                return len(data)
            stop = match.start()
            if stop > pos:
                pieces.append(data[pos:stop])
            char = data[stop]
            if char == '"':
                self._end_string("".join(pieces))
                return stop + 1
            if char != "\\":
                raise self._fail("control character inside a string", data, stop, base)
            if stop + 1 >= len(data):
                return stop  # the escape continues in the next delta
            code = data[stop + 1]
            if code == "u":
                pos = self._unicode_escape(data, stop, base)
                if pos == stop:
                    return stop  # the escape (or its surrogate pair) continues in the next delta
            elif code in _ESCAPES:
                pieces.append(_ESCAPES[code])
                pos = stop + 2
            else:
                raise self._fail(f"bad escape \\{code}", data, stop, base)

    def _unicode_escape(self, data: str, stop: int, base: int) -> int:
        """Append the character of ``\\uXXXX`` at ``stop`` (a surrogate pair makes one
        character); return where parsing continues, or ``stop`` when more text is needed."""
        if stop + 6 > len(data):
            return stop
        try:
            code = int(data[stop + 2:stop + 6], 16)
        except ValueError:
            raise self._fail("bad \\u escape", data, stop, base) from None
        if 0xD800 <= code < 0xDC00:
            follow = data[stop + 6:stop + 12]
            if len(follow) < 6 and "\\u".startswith(follow[:2]):
                return stop  # maybe the low half of a pair: wait for it
            if follow.startswith("\\u"):
                try:
                    low = int(follow[2:], 16)
                except ValueError:
                    raise self._fail("bad \\u escape", data, stop + 6, base) from None
                if 0xDC00 <= low < 0xE000:
                    assert self._string is not None
                    self._string.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                    return stop + 12
        assert self._string is not None
        self._string.append(chr(code))
        return stop + 6

    def _end_string(self, value: str) -> None:
        is_key = self._string_is_key
        self._string = None
        if is_key:
            frame = self._stack[-1]
            frame[1], frame[2] = value, _COLON
        else:
            self._store(value)

    def _open(self, container: Any, expect: int) -> None:
        self._store(container)
        self._stack.append([container, None, expect])

    def _store_partial(self, value: Any) -> None:
        if not self._stack:
            self._root = value
            return
        container, key, _ = self._stack[-1]
        if isinstance(container, dict):
            container[key] = value
        else:
            container[-1] = value

    def _store(self, value: Any, *, begin_string: bool = False) -> None:
        """Place a value in the current container; ``begin_string``: a string starts, its
        slot holds "" until it ends (then the same slot gets the whole string)."""
        placed = "" if begin_string else value
        if not self._stack:
            self._root = placed
            self._expect = _VALUE if begin_string else _END
            return
        frame = self._stack[-1]
        container = frame[0]
        if isinstance(container, dict):
            container[frame[1]] = placed
        elif self._placeholder:
            container[-1] = placed
        else:
            container.append(placed)
        self._placeholder = begin_string
        frame[2] = _COMMA

    def _comma_or_close(self, data: str, pos: int, base: int) -> int:
        container = self._stack[-1][0]
        char = data[pos]
        if char == ",":
            self._stack[-1][2] = _KEY if isinstance(container, dict) else _VALUE
            return pos + 1
        if char == ("}" if isinstance(container, dict) else "]"):
            return self._close(pos)
        raise self._fail(f"expected ',' or {'}' if isinstance(container, dict) else ']'}", data, pos, base)

    def _close(self, pos: int) -> int:
        self._stack.pop()
        if not self._stack:
            self._expect = _END
        else:
            self._stack[-1][2] = _COMMA
        return pos + 1


def _loads(text: str) -> Any:
    """``jiter`` when installed (the parser the official SDKs use; it gives what
    ``json.loads`` gives), else ``json.loads``."""
    try:
        import jiter
    except ImportError:
        return json.loads(text)
    try:
        return jiter.from_json(text.encode())
    except ValueError:
        return json.loads(text)  # raises with a position, or accepts what jiter refused


def validate_json(value: Any, schema: Mapping[str, Any], *, text: str = "") -> None:
    """Validate ``value`` against a JSON Schema (``jsonschema`` extra); raise
    :class:`JSONSchemaError` naming the failing path."""
    try:
        import jsonschema
    except ImportError as exc:
        raise ConfigurationError("schema validation needs jsonschema: pip install 'llm_connectivity[usage]'") from exc
    validator_class = jsonschema.validators.validator_for(schema)
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(value))
    if error is None:
        return
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    raise JSONSchemaError(f"the JSON does not match the schema at {path}: {error.message}", text=text,
                          path=path, validator=str(error.validator), value=value)
