"""Replaying: a recording turned into a :class:`~llm_connectivity.testing.MemoryResponse`.

The recorded pieces become the script of a one-answer
:class:`~llm_connectivity.testing.MemoryTransport`, with the recorded gaps (scaled by
``1 / speed``; none at ``speed=0``) as its delays and the recorded error, rebuilt as the
same typed :class:`~llm_connectivity.errors.LLMError`, at its point. So a replay behaves as
any scripted response does: every wait honours the :class:`~llm_connectivity.deadline.Deadline`
(a gap longer than the read limit raises the same ``ReadTimeoutError`` a socket would, on
the real clock or a ``FakeClock``), and ``abort()`` or the call's cancellation from another
thread wakes it at once.
"""

from __future__ import annotations

from ... import errors as error_classes
from ...deadline import Deadline
from ...errors import LLMError, StreamInterruptedError
from ...request import HTTPRequest
from ...transport import Cancellation, Response
from ..memory import MemoryResponse, MemoryTransport
from .errors import CassetteError
from .storage import Interaction, RecordedError

__all__ = ["rebuild_error", "replay_send", "script_for"]


def rebuild_error(error: RecordedError, provider: str | None) -> LLMError:
    """The recorded error as the same typed :class:`LLMError`."""
    cls = getattr(error_classes, error.type, None)
    if not (isinstance(cls, type) and issubclass(cls, LLMError)):
        return StreamInterruptedError(f"{error.type}: {error.message}", provider=provider)
    if issubclass(cls, error_classes.TimeoutError):
        return cls(error.message, provider=provider, seconds=error.seconds)
    try:
        return cls(error.message, provider=provider)
    except TypeError:  # a class that needs more than a message (not raised by transports)
        return StreamInterruptedError(f"{error.type}: {error.message}", provider=provider)


def script_for(item: Interaction, *, speed: float, provider: str | None) -> MemoryResponse:
    """The scripted response that replays ``item`` at ``speed``."""
    scale = 1.0 / speed if speed > 0 else 0.0
    body: list[bytes | BaseException] = []
    delays: list[float] = []
    previous = item.headers_at
    error = item.error if item.error is not None and item.error.after_piece is not None else None
    for index, piece in enumerate(item.pieces):
        if error is not None and index == error.after_piece:
            break
        body.append(piece.data)
        delays.append(max(0.0, piece.at - previous) * scale)
        previous = piece.at
    if error is not None:
        body.append(rebuild_error(error, provider))
        delays.append(max(0.0, error.at - previous) * scale)
    elif not item.complete:
        body.append(CassetteError(
            f"the cassette recording of interaction {item.name} stops after {len(item.pieces)} body pieces: the "
            "code that recorded it stopped reading there, this code reads on. Re-record it (mode='all') if the "
            "code changed."))
        delays.append(0.0)
    return MemoryResponse(status=int(item.status or 0), body=body, headers=dict(item.headers), delays=delays,
                          headers_delay=item.headers_at * scale, content_type=item.content_type or None)


def replay_send(item: Interaction, request: HTTPRequest, *, speed: float, deadline: Deadline,
                connect_timeout: float | None, provider: str | None, cancel: Cancellation | None) -> Response:
    """Wait as long as the recorded headers took, then return the replayed response; if the
    recorded ``send`` failed, wait as long as it took and raise the same typed error."""
    if item.status is None or (item.error is not None and item.error.after_piece is None):
        error = item.error or RecordedError("StreamInterruptedError", "no response was recorded", None, 0.0)
        waited = MemoryTransport([MemoryResponse(headers_delay=error.at / speed if speed > 0 else 0.0)])
        waited.send(request, deadline=deadline, connect_timeout=connect_timeout, provider=provider,
                    cancel=cancel).close()
        raise rebuild_error(error, provider)
    transport = MemoryTransport([script_for(item, speed=speed, provider=provider)])
    return transport.send(request, deadline=deadline, connect_timeout=connect_timeout, provider=provider,
                          cancel=cancel)
