"""``progress_bar``: a ready terminal display of a stream's progress, on stderr.

On a terminal it is one line redrawn in place (``\\r``) every ``interval`` seconds
(default 0.1); when stderr is a file or a pipe it writes a plain line every ``interval``
seconds (default 2) and a last one at the end, so logs stay readable. The streamed text
on stdout is untouched. With ``tqdm`` installed (the ``toolkit`` extra) and a terminal,
tqdm draws the bar instead (``use_tqdm=False`` to opt out, ``True`` to insist).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from ..errors import ConfigurationError
from ..models import StreamChunk
from .chain import close_source, link
from .progress import StreamProgress, track_progress

__all__ = ["format_progress", "progress_bar"]


def format_progress(p: StreamProgress, desc: str = "") -> str:
    """One status line: ``"answer: 45% 135/300 tokens, 52.0 tok/s, ETA 3.2s"``.

    >>> format_progress(StreamProgress(135, 300, 45.0, 2.6, 3.17, 51.9))
    '45% 135/300 tokens, 51.9 tok/s, ETA 3.2s'
    """
    head = f"{desc}: " if desc else ""
    rate = f"{p.tokens_per_sec:.1f} tok/s"
    if p.finished:
        return f"{head}done, {p.tokens_received} tokens in {p.elapsed:.1f}s, {rate}"
    if p.total_tokens is None or p.percentage is None:
        return f"{head}{p.tokens_received} tokens, {rate}"
    eta = "ETA ?" if p.eta is None else f"ETA {p.eta:.1f}s"
    return f"{head}{p.percentage:.0f}% {p.tokens_received}/{p.total_tokens} tokens, {rate}, {eta}"


def _is_tty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _LineRenderer:
    def __init__(self, stream: IO[str], tty: bool, desc: str) -> None:
        self.stream, self.tty, self.desc = stream, tty, desc
        self.width = 0

    def __call__(self, p: StreamProgress) -> None:
        line = format_progress(p, self.desc)
        if self.tty:
            pad = " " * max(0, self.width - len(line))
            self.width = len(line)
            self.stream.write(f"\r{line}{pad}" + ("\n" if p.finished else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class _TqdmRenderer:
    def __init__(self, stream: IO[str], desc: str) -> None:
        tqdm = importlib.import_module("tqdm").tqdm  # lazy: optional extra
        self.bar: Any = tqdm(total=None, unit="tok", file=stream, desc=desc or None, leave=True)

    def __call__(self, p: StreamProgress) -> None:
        bar = self.bar
        if p.total_tokens is not None and bar.total != p.total_tokens:
            bar.total = p.total_tokens
        bar.update(p.tokens_received - bar.n)
        if p.finished:  # done is 100%, however good the estimate was
            bar.total = p.tokens_received
            bar.close()


def progress_bar(chunks: Iterable[StreamChunk], *, estimated_tokens: int | None = None, file: IO[str] | None = None,
                 interval: float | None = None, desc: str = "", use_tqdm: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> Iterator[StreamChunk]:
    """Pass ``chunks`` through while showing progress on stderr (or ``file``).

    ``estimated_tokens`` defaults to the request's ``max_tokens`` when known (see
    :func:`~llm_connectivity.streaming.track_progress`).
    """
    stream = file if file is not None else sys.stderr
    tty = _is_tty(stream)
    has_tqdm = importlib.util.find_spec("tqdm") is not None
    if use_tqdm and not has_tqdm:
        raise ConfigurationError("use_tqdm=True but tqdm is not installed: pip install 'llm_connectivity[toolkit]'")
    tqdm_wanted = has_tqdm and tty if use_tqdm is None else use_tqdm
    if interval is None:
        interval = 0.1 if tty else 2.0
    renderer: Callable[[StreamProgress], None] | None = None

    def show(p: StreamProgress) -> None:
        nonlocal renderer
        if renderer is None:
            renderer = _TqdmRenderer(stream, desc) if tqdm_wanted else _LineRenderer(stream, tty, desc)
        renderer(p)

    def end_line() -> None:
        if isinstance(renderer, _TqdmRenderer):
            renderer.bar.close()
        elif tty:
            stream.write("\n")
            stream.flush()

    tracked = track_progress(chunks, estimated_tokens=estimated_tokens, on_progress=show, interval=interval,
                             clock=clock)
    gen = _end_line_on_error(tracked, end_line)
    link(gen, tracked)
    return gen


def _end_line_on_error(chunks: Iterator[StreamChunk], end_line: Callable[[], None]) -> Iterator[StreamChunk]:
    """If the stream fails, end the line being redrawn (or close the tqdm bar) so the error
    starts on its own line."""
    try:
        yield from chunks
    except Exception:
        end_line()
        raise
    finally:
        close_source(chunks)
