"""Calling user callbacks: plain functions, ``async def`` functions, legacy text callbacks.

- A plain function is called with the typed event.
- An ``async def`` function (or any callable returning an awaitable) is run to completion
  on a private event loop, so callbacks written for async SDKs work unchanged. The loop
  belongs to one stream and is closed with it; when the calling thread already runs an
  event loop, the coroutine runs on a helper thread's loop instead.
- A legacy ``on_delta(text)`` receives the text instead of the event when its first
  parameter is annotated ``str`` or is named ``text``, ``delta``, ``content``, ``token``,
  ``chunk_text`` or ``s``.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .types import StreamDeltaEvent, StreamEvent

if TYPE_CHECKING:
    import asyncio

__all__ = ["CallbackRunner", "wants_text"]

_TEXT_NAMES = frozenset({"text", "delta", "content", "token", "chunk_text", "s"})


def wants_text(callback: Callable[..., Any]) -> bool:
    """True for a legacy delta callback that takes the text (see the module docstring)."""
    try:
        parameters = list(inspect.signature(callback).parameters.values())
    except (TypeError, ValueError):
        return False
    if not parameters:
        return False
    first = parameters[0]
    if first.annotation is str or first.annotation == "str":
        return True
    return first.annotation is inspect.Parameter.empty and first.name in _TEXT_NAMES


class CallbackRunner:
    """Calls one stream's callbacks; owns the private event loop of its async ones."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._text_mode: dict[int, bool] = {}

    def call(self, callback: Callable[..., Any], event: StreamEvent) -> None:
        """Call ``callback`` with ``event`` (or its text, for a legacy delta callback)."""
        argument: Any = event
        if isinstance(event, StreamDeltaEvent):
            key = id(callback)
            text_mode = self._text_mode.get(key)
            if text_mode is None:
                text_mode = self._text_mode[key] = wants_text(callback)
            if text_mode:
                argument = event.delta
        result = callback(argument)
        if inspect.isawaitable(result):
            self._run(result)

    def _run(self, awaitable: Any) -> None:
        import asyncio  # only streams with async callbacks pay for it

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(_as_coroutine(awaitable))
            return
        _run_in_helper_thread(awaitable)

    def close(self) -> None:
        """Close the private loop (if one was made)."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable


def _run_in_helper_thread(awaitable: Any) -> None:
    """Run ``awaitable`` to completion on a new loop in another thread (this thread's loop
    is busy running the caller); its exception is re-raised here."""
    outcome: list[BaseException] = []

    import asyncio

    def target() -> None:
        """Run the coroutine on this thread's own loop; keep its exception."""
        try:
            asyncio.run(_as_coroutine(awaitable))
        except BaseException as exc:  # noqa: BLE001 - handed back to the calling thread
            outcome.append(exc)

    thread = threading.Thread(target=target, name="llm_connectivity-callback", daemon=True)
    thread.start()
    thread.join()
    if outcome:
        raise outcome[0]
