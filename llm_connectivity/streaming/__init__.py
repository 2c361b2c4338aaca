"""Composable generator wrappers over ``StreamChunk`` iterators.

Each wrapper takes an iterable of chunks first and its options as keywords, is lazy (no
work or I/O until iterated), passes non-text chunks (finish reason, usage, tool calls,
reasoning) through in order, and closes its source when closed. Compose them with
:func:`pipe`::

    from functools import partial
    from llm_connectivity.streaming import buffer_words, pipe, progress_bar, rate_limit

    for chunk in pipe(client.chat_stream("Tell me a story"), buffer_words, progress_bar,
                      partial(rate_limit, tokens_per_second=30)):
        print(chunk.content, end="", flush=True)

Buffers: :func:`buffer_words`, :func:`buffer_sentences`, :func:`buffer_characters`,
:func:`buffer_tokens` (their state objects :class:`WordBuffer`, :class:`SentenceBuffer`,
:class:`CharacterBuffer`, :class:`TokenBuffer` work without generators). Progress:
:func:`track_progress`, :class:`ProgressTracker`, :class:`StreamProgress`,
:func:`progress_bar`. Pacing: :func:`rate_limit`, :class:`RateLimiter`. Serving:
:func:`to_sse`, :func:`sse_headers`. Composition: :func:`pipe`, :func:`aggregate`,
:func:`replay`. See docs/streaming-toolkit.md.
"""

from __future__ import annotations

from .characters import CharacterBuffer, buffer_characters
from .compose import aggregate, pipe, replay
from .openai_compat import OpenAIChunkEncoder
from .progress import ProgressTracker, StreamProgress, track_progress
from .progress_bar import progress_bar
from .ratelimit import RateLimiter, rate_limit
from .sentences import SentenceBuffer, buffer_sentences
from .sse_writer import sse_headers, to_sse
from .tokengroups import TokenBuffer, buffer_tokens
from .words import WordBuffer, buffer_words

__all__ = [
    "CharacterBuffer",
    "OpenAIChunkEncoder",
    "ProgressTracker",
    "RateLimiter",
    "SentenceBuffer",
    "StreamProgress",
    "TokenBuffer",
    "WordBuffer",
    "aggregate",
    "buffer_characters",
    "buffer_sentences",
    "buffer_tokens",
    "buffer_words",
    "pipe",
    "progress_bar",
    "rate_limit",
    "replay",
    "sse_headers",
    "to_sse",
    "track_progress",
]
