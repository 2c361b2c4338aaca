"""Cross-thread cancel and the header watchdog on a caller's ``requests.Session``.

Our own Session's pools record each checkout (:func:`.http11.checked_out`), so that
``Cancellation.cancel`` from another thread, and the watchdog that bounds the status line
and headers by ``total_timeout``, can shut the connection of a request that is still
waiting for its answer. A caller's Session has urllib3's plain pools: :func:`track_session`
wraps ``_get_conn`` on those pool *instances* (and on the pools their managers create
later) so that a checkout made by *our* request, in *its* thread, is recorded in that
request's :class:`~.http11.RequestState`; outside our requests the wrapper only passes the
connection through. Nothing else of the Session changes (its classes, hooks, adapters), and
an adapter that is not urllib3's is left alone (then close() waits for the read timeout).
"""

from __future__ import annotations

from typing import Any

from .http11 import current

__all__ = ["track_session"]

_MARK = "_llm_connectivity_tracked"


def track_session(session: Any) -> None:
    """Record our requests' checkouts on ``session``'s urllib3 pools (idempotent, cheap)."""
    for adapter in list(getattr(session, "adapters", {}).values()):
        managers = [getattr(adapter, "poolmanager", None), *getattr(adapter, "proxy_manager", {}).values()]
        for manager in managers:
            if manager is not None and not getattr(manager, _MARK, False) and hasattr(manager, "_new_pool"):
                _track_manager(manager)


def _track_manager(manager: Any) -> None:
    new_pool = manager._new_pool

    def tracked_new_pool(*args: Any, **kwargs: Any) -> Any:
        pool = new_pool(*args, **kwargs)
        _track_pool(pool)
        return pool

    manager._new_pool = tracked_new_pool
    setattr(manager, _MARK, True)
    for key in list(manager.pools.keys()):
        pool = manager.pools.get(key)
        if pool is not None:
            _track_pool(pool)


def _track_pool(pool: Any) -> None:
    if getattr(pool, _MARK, False) or not hasattr(pool, "_get_conn"):
        return
    get_conn = pool._get_conn

    def tracked_get_conn(timeout: float | None = None) -> Any:
        conn = get_conn(timeout)
        state = current()
        if state is not None:  # our request, in this thread (never marked reused: see send's resend rule)
            state.connections.append(conn)
        return conn

    pool._get_conn = tracked_get_conn
    setattr(pool, _MARK, True)
