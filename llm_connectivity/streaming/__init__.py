"""Composable generator wrappers over ``StreamChunk`` iterators (buffers, progress, rate
limiting, SSE output). Work in progress: :class:`RateLimiter` is the first piece."""

from __future__ import annotations

from .ratelimit import RateLimiter

__all__ = ["RateLimiter"]
