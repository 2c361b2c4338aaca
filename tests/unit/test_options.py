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


# -- issue 15: every field, explicit layers, environment, presets, no-effect options -------
import warnings  # noqa: E402

from llm_connectivity.options import (  # noqa: E402
    ENV_VARIABLES,
    HIGH_RELIABILITY_OPTIONS,
    HIGH_THROUGHPUT_OPTIONS,
    JSON_MODE_OPTIONS,
    LOW_LATENCY_OPTIONS,
    resolve_options,
)

_ENV = {
    "STREAMING_CONNECTION_TIMEOUT": ("2.5", "connection_timeout", 2.5),
    "STREAMING_READ_TIMEOUT": ("none", "read_timeout", None),
    "STREAMING_MAX_RECONNECTS": ("4", "max_reconnect_attempts", 4),
    "STREAMING_ENABLE_AGGREGATION": ("off", "enable_usage_aggregation", False),
    "STREAMING_PREFER_TIKTOKEN": ("0", "prefer_tiktoken", False),
    "STREAMING_ENABLE_JSON_HANDLER": ("TRUE", "enable_json_handler", True),
}


@pytest.mark.parametrize("variable", sorted(_ENV))
def test_from_env_reads_each_variable(variable: str) -> None:
    raw, name, value = _ENV[variable]
    opts = StreamingOptions.from_env({variable: raw})
    assert getattr(opts, name) == value and opts.explicit_fields == {name}


def test_from_env_covers_exactly_the_six_variables() -> None:
    assert set(ENV_VARIABLES) == set(_ENV)
    assert StreamingOptions.from_env({}) == StreamingOptions() and StreamingOptions.from_env({}).explicit_fields == set()


@pytest.mark.parametrize(("variable", "raw"), [
    ("STREAMING_CONNECTION_TIMEOUT", "fast"), ("STREAMING_READ_TIMEOUT", "-1"), ("STREAMING_MAX_RECONNECTS", "2.5"),
    ("STREAMING_MAX_RECONNECTS", "-1"), ("STREAMING_ENABLE_AGGREGATION", "maybe"), ("STREAMING_PREFER_TIKTOKEN", "2"),
])
def test_from_env_invalid_values_name_the_variable(variable: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        StreamingOptions.from_env({variable: raw})


def test_precedence_call_over_client_over_env_over_default() -> None:
    env = StreamingOptions.from_env({"STREAMING_CONNECTION_TIMEOUT": "3", "STREAMING_READ_TIMEOUT": "30",
                                     "STREAMING_MAX_RECONNECTS": "7"})
    client = StreamingOptions(read_timeout=90.0, total_timeout=120.0)
    call = StreamingOptions(total_timeout=5.0)
    merged = resolve_options(call, client, env)
    assert (merged.total_timeout, merged.read_timeout, merged.connection_timeout, merged.max_reconnect_attempts,
            merged.content_idle_timeout) == (5.0, 90.0, 3.0, 7, 600.0)
    # a layer that explicitly sets a default value still wins
    assert resolve_options(StreamingOptions(read_timeout=600.0), client).read_timeout == 600.0


def test_client_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_connectivity import LLMClient

    monkeypatch.setenv("STREAMING_READ_TIMEOUT", "42")
    monkeypatch.setenv("STREAMING_MAX_RECONNECTS", "5")
    client = LLMClient("openai/gpt-4o-mini", api_key="k", streaming_options=StreamingOptions(max_reconnect_attempts=1))
    assert (client.options.read_timeout, client.options.max_reconnect_attempts) == (42.0, 1)
    monkeypatch.setenv("STREAMING_READ_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="STREAMING_READ_TIMEOUT"):
        LLMClient("openai/gpt-4o-mini", api_key="k")


def test_replace_keeps_explicit_fields_and_rejects_unknown() -> None:
    opts = StreamingOptions(read_timeout=5.0).replace(max_cost_usd=0.5)
    assert opts.explicit_fields == {"read_timeout", "max_cost_usd"}
    with pytest.raises(ConfigurationError, match="unknown StreamingOptions fields"):
        opts.replace(compression=True)


def test_presets() -> None:
    assert (JSON_MODE_OPTIONS.enable_json_handler, JSON_MODE_OPTIONS.validate_json_incrementally) == (True, True)
    assert HIGH_THROUGHPUT_OPTIONS.enable_usage_aggregation is False
    assert (LOW_LATENCY_OPTIONS.connection_timeout, LOW_LATENCY_OPTIONS.read_timeout,
            LOW_LATENCY_OPTIONS.max_reconnect_attempts) == (3.0, 30.0, 0)
    assert (HIGH_RELIABILITY_OPTIONS.retry_on_connection_error, HIGH_RELIABILITY_OPTIONS.max_reconnect_attempts) \
        == (True, 5)
    assert resolve_options(StreamingOptions(read_timeout=1.0), JSON_MODE_OPTIONS).enable_json_handler is True


@pytest.mark.parametrize(("field", "value"), [("enable_compression", True), ("chunk_size", 1024),
                                              ("buffer_size", 8192)])
def test_options_without_effect_warn(field: str, value: object) -> None:
    with pytest.warns(UserWarning, match=f"StreamingOptions\\({field}=...\\) has no effect"):
        StreamingOptions(**{field: value})


@pytest.mark.parametrize(("changes", "message"), [
    ({"aggregator_type": "bpe"}, "aggregator_type"), ({"max_cost_usd": 0}, "max_cost_usd"),
    ({"on_delta": "print"}, "on_delta must be a function"), ({"json_schema": ["x"]}, "json_schema"),
])
def test_new_fields_are_validated(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StreamingOptions(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["retry_on_connection_error", "preserve_partial_response", "enable_usage_aggregation",
                                  "prefer_tiktoken", "enable_json_handler", "validate_json_incrementally"])
@pytest.mark.parametrize("value", ["no", "false", 0, 1, None])
def test_switches_must_be_booleans(name: str, value: object) -> None:
    """``enable_json_handler="no"`` is truthy: accepting it would silently turn the handler on."""
    with pytest.raises(ConfigurationError, match=f"{name} must be True or False, got {value!r}"):
        StreamingOptions(**{name: value})  # type: ignore[arg-type]


def test_options_with_callbacks_and_schema_stay_hashable() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opts = StreamingOptions(on_delta=print, json_schema={"type": "object"})
    assert hash(opts) == hash(StreamingOptions(on_delta=print, json_schema={"type": "array"}))
