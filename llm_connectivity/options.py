"""Immutable configuration values: :class:`StreamingOptions`, its presets, and ``UNSET``.

``StreamingOptions`` holds every streaming setting: connection limits and recovery,
usage aggregation, the JSON handler, the budget stop, callbacks and the event processor.
It is frozen; ``.replace(**changes)`` returns a copy and :meth:`StreamingOptions.from_value`
accepts the ``timeout=`` shorthands. :meth:`StreamingOptions.from_env` reads the
``STREAMING_*`` variables, and :func:`resolve_options` merges the layers in one place:
per call > client > environment > default. An instance remembers which fields were
given explicitly, so a layer only overrides what it actually set. Per-call overrides use
:data:`UNSET` to mean "inherit", so ``None`` can mean "no limit".
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigurationError

__all__ = [
    "ENV_VARIABLES",
    "HIGH_RELIABILITY_OPTIONS",
    "HIGH_THROUGHPUT_OPTIONS",
    "JSON_MODE_OPTIONS",
    "LOW_LATENCY_OPTIONS",
    "UNSET",
    "StreamingOptions",
    "Unset",
    "resolve_options",
]


class Unset(enum.Enum):
    """Type of :data:`UNSET`: "not given here, inherit the client's setting"."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET

_AGGREGATORS = ("auto", "tiktoken", "character")
#: Options other libraries offer that cannot mean anything here; setting one warns.
_NO_EFFECT = {
    "enable_compression": "requests already asks for gzip and event streams are sent uncompressed",
    "chunk_size": "the transport hands over bytes as soon as they arrive (read1), whatever their size",
    "buffer_size": "nothing is buffered between the socket and the SSE decoder",
}


_SWITCHES = ("retry_on_connection_error", "preserve_partial_response", "enable_usage_aggregation",
             "prefer_tiktoken", "enable_json_handler", "validate_json_incrementally")


def _check_seconds(name: str, value: float | None, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise ConfigurationError(f"{name} must be a positive number of seconds or None, got {value!r}")


def _check_callable(name: str, value: Any) -> None:
    if value is not None and not callable(value):
        raise ConfigurationError(f"{name} must be a function (or None), got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class StreamingOptions:
    """How a request connects, waits, recovers, and what is computed over its stream.

    Connection (see ``docs/configuration.md`` for the table of limits and why):
        connection_timeout: seconds to open the connection (TCP + TLS). Default 10.
        read_timeout: longest silence between two reads of the response (headers
            included). Default 600: reasoning models can think for minutes first.
        total_timeout: whole request, stream included; ``None`` (default) means no limit.
        content_idle_timeout: longest time without content while keep-alive comments or
            empty events still arrive. Default 600; ``None`` means no limit.
        retry_on_connection_error: after content was received, re-request on a dropped
            connection, continuing from the partial answer (opt-in).
        max_reconnect_attempts: how many such continuations to try.
        reconnect_delay: seconds to wait before a continuation.
        preserve_partial_response: attach the partial response to errors raised mid-stream.

    Usage, JSON and cost:
        enable_usage_aggregation: compute usage (estimated when the provider sends none).
        aggregator_type: ``"auto"`` (exact tokenizer when available for the model, else the
            character estimator), ``"tiktoken"`` (exact; error if not installed) or
            ``"character"``.
        prefer_tiktoken: with ``"auto"``, use tiktoken for non-OpenAI models too (as a
            proxy tokenizer) when it is installed.
        enable_json_handler: parse the answer as JSON while it streams (partial values on
            deltas, ``get_json()``).
        validate_json_incrementally: raise ``JSONStreamError`` at the first delta that
            makes the JSON invalid, instead of at the end (turns the JSON handler on).
        json_schema: validate the final JSON against this schema (``jsonschema`` extra);
            default: the schema of a ``json_schema`` ``response_format``.
        max_cost_usd: stop a stream whose running cost passes this (``BudgetExceededError``).

    Callbacks and events (used by ``stream_with_usage``):
        on_start, on_delta, on_usage, on_complete, on_error, on_retry: functions (or
            ``async def`` functions) taking the typed event; ``on_delta`` may take the text.
        event_processor: an :class:`~llm_connectivity.events.EventProcessor` fed every event.

    No effect here (accepted for compatibility, a ``UserWarning`` when set):
        enable_compression, chunk_size, buffer_size.
    """

    connection_timeout: float | None = 10.0
    read_timeout: float | None = 600.0
    total_timeout: float | None = None
    content_idle_timeout: float | None = 600.0
    retry_on_connection_error: bool = False
    max_reconnect_attempts: int = 2
    reconnect_delay: float = 1.0
    preserve_partial_response: bool = True
    enable_usage_aggregation: bool = True
    aggregator_type: str = "auto"
    prefer_tiktoken: bool = True
    enable_json_handler: bool = False
    validate_json_incrementally: bool = False
    json_schema: Mapping[str, Any] | None = field(default=None, hash=False)
    max_cost_usd: float | None = None
    on_start: Callable[..., Any] | None = None
    on_delta: Callable[..., Any] | None = None
    on_usage: Callable[..., Any] | None = None
    on_complete: Callable[..., Any] | None = None
    on_error: Callable[..., Any] | None = None
    on_retry: Callable[..., Any] | None = None
    event_processor: Any = None
    enable_compression: bool | None = None
    chunk_size: int | None = None
    buffer_size: int | None = None
    _explicit: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("connection_timeout", "read_timeout", "total_timeout", "content_idle_timeout"):
            _check_seconds(name, getattr(self, name))
        for name in _SWITCHES:
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name} must be True or False, got {getattr(self, name)!r}")
        attempts = self.max_reconnect_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise ConfigurationError("max_reconnect_attempts must be an int >= 0")
        delay = self.reconnect_delay
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
            raise ConfigurationError(f"reconnect_delay must be a number of seconds >= 0, got {delay!r}")
        if self.aggregator_type not in _AGGREGATORS:
            raise ConfigurationError(f"aggregator_type must be one of {', '.join(_AGGREGATORS)}, "
                                     f"got {self.aggregator_type!r}")
        budget = self.max_cost_usd
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                                   or not budget > 0):
            raise ConfigurationError(f"max_cost_usd must be a positive number of US dollars or None, got {budget!r}")
        for name in ("on_start", "on_delta", "on_usage", "on_complete", "on_error", "on_retry"):
            _check_callable(name, getattr(self, name))
        if self.json_schema is not None and not isinstance(self.json_schema, Mapping):
            raise ConfigurationError("json_schema must be a dict (a JSON Schema) or None")
        for name, why in _NO_EFFECT.items():
            if getattr(self, name) is not None:
                warnings.warn(f"StreamingOptions({name}=...) has no effect in llm_connectivity: {why}",
                              UserWarning, stacklevel=4)

    def replace(self, **changes: Any) -> StreamingOptions:
        """Return a copy with ``changes`` applied (validated); the changed fields count as
        explicitly set."""
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ConfigurationError(f"unknown StreamingOptions fields {sorted(unknown)}")
        kept = {name: getattr(self, name) for name in self._explicit if name not in changes}
        return StreamingOptions(**kept, **changes)

    @property
    def explicit_fields(self) -> frozenset[str]:
        """The fields given to the constructor or to :meth:`replace` (what a layer sets)."""
        return self._explicit

    @classmethod
    def from_value(cls, value: Any, base: StreamingOptions | None = None) -> StreamingOptions:
        """Normalise ``timeout=`` shorthands.

        A number sets both ``connection_timeout`` and ``read_timeout`` (as in requests); a
        ``(connect, read)`` tuple sets each; a dict sets the named fields; a
        StreamingOptions is used as is; ``None`` disables the connect and read limits.
        """
        base = base or cls()
        if isinstance(value, StreamingOptions):
            return value
        if value is None:
            return base.replace(connection_timeout=None, read_timeout=None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return base.replace(connection_timeout=float(value), read_timeout=float(value))
        if isinstance(value, tuple) and len(value) == 2:
            return base.replace(connection_timeout=value[0], read_timeout=value[1])
        if isinstance(value, dict):
            return base.replace(**value)
        raise ConfigurationError(
            f"timeout must be seconds, a (connect, read) tuple, a dict of StreamingOptions "
            f"fields or a StreamingOptions, got {value!r}"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StreamingOptions:
        """Options from the ``STREAMING_*`` environment variables (see :data:`ENV_VARIABLES`);
        only the variables that are set count as explicit. An invalid value raises
        :class:`~llm_connectivity.errors.ConfigurationError` naming the variable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var, (name, parse) in ENV_VARIABLES.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[name] = parse(raw.strip())
            except ValueError as exc:
                raise ConfigurationError(f"environment variable {var}={raw!r} is invalid: {exc}") from None
        try:
            return cls(**values)
        except ConfigurationError as exc:
            names = ", ".join(sorted(v for v, (n, _) in ENV_VARIABLES.items() if n in values))
            raise ConfigurationError(f"environment variables {names}: {exc.message}") from None


_FIELDS = frozenset(f.name for f in dataclasses.fields(StreamingOptions) if f.init)
_POSITIONAL = tuple(f.name for f in dataclasses.fields(StreamingOptions) if f.init)
_dataclass_init = StreamingOptions.__init__
_set_explicit = StreamingOptions._explicit.__set__  # type: ignore[attr-defined,misc]


def _init(self: StreamingOptions, *args: Any, **kwargs: Any) -> None:
    if len(args) > len(_POSITIONAL):
        raise TypeError(f"StreamingOptions takes at most {len(_POSITIONAL)} positional arguments")
    named = dict(zip(_POSITIONAL, args))
    duplicated = named.keys() & kwargs.keys()
    if duplicated:
        raise TypeError(f"StreamingOptions got multiple values for {sorted(duplicated)}")
    named.update(kwargs)
    _dataclass_init(self, **named)
    _set_explicit(self, frozenset(named))


_init.__doc__ = _dataclass_init.__doc__
_init.__signature__ = inspect.signature(_dataclass_init)  # type: ignore[attr-defined]
StreamingOptions.__init__ = _init  # type: ignore[method-assign]


def _seconds(raw: str) -> float | None:
    if raw.lower() in ("none", "off"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a positive number of seconds (or 'none')") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive number of seconds (or 'none')")
    return value


def _count(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("expected an integer >= 0") from None
    if value < 0:
        raise ValueError("expected an integer >= 0")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


#: The environment variables :meth:`StreamingOptions.from_env` reads: variable -> (field, parser).
ENV_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "STREAMING_CONNECTION_TIMEOUT": ("connection_timeout", _seconds),
    "STREAMING_READ_TIMEOUT": ("read_timeout", _seconds),
    "STREAMING_MAX_RECONNECTS": ("max_reconnect_attempts", _count),
    "STREAMING_ENABLE_AGGREGATION": ("enable_usage_aggregation", _flag),
    "STREAMING_PREFER_TIKTOKEN": ("prefer_tiktoken", _flag),
    "STREAMING_ENABLE_JSON_HANDLER": ("enable_json_handler", _flag),
}


def resolve_options(*layers: StreamingOptions | None) -> StreamingOptions:
    """Merge option layers, highest precedence first (per call, client, environment);
    each layer contributes only the fields it set explicitly, the rest are defaults.

    >>> call = StreamingOptions(read_timeout=30.0)
    >>> client = StreamingOptions(read_timeout=90.0, connection_timeout=3.0)
    >>> merged = resolve_options(call, client)
    >>> (merged.read_timeout, merged.connection_timeout, merged.total_timeout)
    (30.0, 3.0, None)
    """
    values: dict[str, Any] = {}
    for layer in reversed(layers):
        if layer is None:
            continue
        if not isinstance(layer, StreamingOptions):
            raise ConfigurationError(f"streaming_options must be a StreamingOptions, got {type(layer).__name__}")
        for name in layer.explicit_fields:
            values[name] = getattr(layer, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # each layer already warned when it was built
        return StreamingOptions(**values)


#: JSON answers: parse while streaming, fail at the first invalid delta.
JSON_MODE_OPTIONS = StreamingOptions(enable_json_handler=True, validate_json_incrementally=True)
#: Many streams, least work per chunk: no usage aggregation.
HIGH_THROUGHPUT_OPTIONS = StreamingOptions(enable_usage_aggregation=False, aggregator_type="character")
#: Fail fast: short connect and silence limits, no reconnects.
LOW_LATENCY_OPTIONS = StreamingOptions(connection_timeout=3.0, read_timeout=30.0, content_idle_timeout=30.0,
                                       max_reconnect_attempts=0, aggregator_type="character")
#: Survive flaky networks: continue broken streams, keep the partial answer.
HIGH_RELIABILITY_OPTIONS = StreamingOptions(connection_timeout=15.0, retry_on_connection_error=True,
                                            max_reconnect_attempts=5, reconnect_delay=2.0,
                                            preserve_partial_response=True)
