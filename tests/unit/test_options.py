"""StreamingOptions: defaults, immutability, the ``timeout=`` shorthands, validation; UNSET."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from llm_connectivity.errors import ConfigurationError
from llm_connectivity.options import UNSET, StreamingOptions, Unset


def test_defaults() -> None:
    opts = StreamingOptions()
    assert opts.connection_timeout == 10.0
    assert opts.read_timeout == 600.0
    assert opts.total_timeout is None
    assert opts.content_idle_timeout == 600.0
    assert opts.retry_on_connection_error is False
    assert opts.max_reconnect_attempts == 2
    assert opts.reconnect_delay == 1.0
    assert opts.preserve_partial_response is True


def test_frozen_and_slotted() -> None:
    opts = StreamingOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.read_timeout = 1.0  # type: ignore[misc]
    assert not hasattr(opts, "__dict__")
    assert hash(opts) == hash(StreamingOptions())


def test_replace_returns_validated_copy() -> None:
    opts = StreamingOptions()
    other = opts.replace(total_timeout=30.0)
    assert other.total_timeout == 30.0
    assert opts.total_timeout is None
    assert other.read_timeout == opts.read_timeout
    with pytest.raises(ConfigurationError, match="read_timeout"):
        opts.replace(read_timeout=-1)


def test_from_value_number_sets_connect_and_read() -> None:
    opts = StreamingOptions.from_value(2.5)
    assert (opts.connection_timeout, opts.read_timeout) == (2.5, 2.5)
    assert opts.total_timeout is None
    as_int = StreamingOptions.from_value(3)
    assert as_int.connection_timeout == 3.0 and isinstance(as_int.connection_timeout, float)


def test_from_value_keeps_base_fields() -> None:
    base = StreamingOptions(total_timeout=99.0, content_idle_timeout=10.0)
    opts = StreamingOptions.from_value(4, base)
    assert (opts.connection_timeout, opts.read_timeout) == (4.0, 4.0)
    assert (opts.total_timeout, opts.content_idle_timeout) == (99.0, 10.0)


def test_from_value_tuple() -> None:
    opts = StreamingOptions.from_value((1.0, 20.0))
    assert (opts.connection_timeout, opts.read_timeout) == (1.0, 20.0)
    opts = StreamingOptions.from_value((None, 20.0))
    assert (opts.connection_timeout, opts.read_timeout) == (None, 20.0)


@pytest.mark.parametrize("value", [(1.0, -2.0), (0, 1.0), ("a", 1.0), (True, 1.0)])
def test_from_value_tuple_is_validated(value: tuple[object, object]) -> None:
    with pytest.raises(ConfigurationError):
        StreamingOptions.from_value(value)


def test_from_value_dict() -> None:
    opts = StreamingOptions.from_value({"total_timeout": 30.0, "read_timeout": 5.0})
    assert (opts.total_timeout, opts.read_timeout, opts.connection_timeout) == (30.0, 5.0, 10.0)


def test_from_value_dict_unknown_key() -> None:
    with pytest.raises(ConfigurationError, match="read_timout"):
        StreamingOptions.from_value({"read_timout": 5.0})


def test_from_value_none_disables_connect_and_read_only() -> None:
    base = StreamingOptions(total_timeout=12.0)
    opts = StreamingOptions.from_value(None, base)
    assert opts.connection_timeout is None and opts.read_timeout is None
    assert opts.total_timeout == 12.0


def test_from_value_options_used_as_is() -> None:
    given = StreamingOptions(read_timeout=3.0)
    assert StreamingOptions.from_value(given, StreamingOptions(total_timeout=1.0)) is given


@pytest.mark.parametrize("value", [True, False, "10", [1.0, 2.0], (1.0,), (1.0, 2.0, 3.0), object()])
def test_from_value_rejects_other_types(value: object) -> None:
    with pytest.raises(ConfigurationError):
        StreamingOptions.from_value(value)


@pytest.mark.parametrize("field", ["connection_timeout", "read_timeout", "total_timeout", "content_idle_timeout"])
@pytest.mark.parametrize("value", [0, 0.0, -1, -0.5, True, False, "5"])
def test_timeouts_must_be_positive_numbers(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field):
        StreamingOptions(**{field: value})


@pytest.mark.parametrize("field", ["connection_timeout", "read_timeout", "total_timeout", "content_idle_timeout"])
def test_timeouts_accept_none_and_positive(field: str) -> None:
    assert getattr(StreamingOptions(**{field: None}), field) is None
    assert getattr(StreamingOptions(**{field: 0.001}), field) == 0.001


def test_reconnect_fields_validated() -> None:
    with pytest.raises(ConfigurationError):
        StreamingOptions(max_reconnect_attempts=-1)
    with pytest.raises(ConfigurationError):
        StreamingOptions(max_reconnect_attempts=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        StreamingOptions(reconnect_delay=-0.1)
    assert StreamingOptions(reconnect_delay=0).reconnect_delay == 0


def test_reconnect_delay_wrong_type_is_configuration_error() -> None:
    """Regression: a non-number reconnect_delay raised TypeError."""
    with pytest.raises(ConfigurationError):
        StreamingOptions(reconnect_delay="soon")  # type: ignore[arg-type]


def test_nan_timeout_rejected() -> None:
    """Regression: NaN passed the `value <= 0` check."""
    with pytest.raises(ConfigurationError):
        StreamingOptions(read_timeout=float("nan"))


def test_unset_sentinel() -> None:
    assert repr(UNSET) == "UNSET"
    assert isinstance(UNSET, Unset)
    assert UNSET is Unset.UNSET
    assert UNSET is not None
    assert copy.deepcopy(UNSET) is UNSET
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET
