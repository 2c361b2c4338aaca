"""Input validation before any network traffic: messages and parameter types."""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import pytest

from llm_connectivity import LLMClient
from llm_connectivity.errors import ConfigurationError, InvalidRequestError
from llm_connectivity.testing import FakeLLMServer
from llm_connectivity.validation import ROLES, check_json, normalize_messages, validate_params

# -- messages -------------------------------------------------------------------------------------


def test_string_becomes_one_user_message() -> None:
    assert normalize_messages("Hi there") == [{"role": "user", "content": "Hi there"}]


def test_list_is_validated_and_copied() -> None:
    original = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]
    result = normalize_messages(original)
    assert result == original
    assert result[0] is not original[0]  # a copy: callers' dicts are never mutated


def test_tuple_accepted() -> None:
    assert normalize_messages(({"role": "user", "content": "x"},)) == [{"role": "user", "content": "x"}]


def test_every_role_accepted() -> None:
    assert {"system", "developer", "user", "assistant", "tool", "function"} == set(ROLES)
    for role in ROLES:
        assert normalize_messages([{"role": role, "content": "x"}])[0]["role"] == role


def test_list_content_parts_accepted() -> None:
    parts = [{"type": "text", "text": "hello"}]
    assert normalize_messages([{"role": "user", "content": parts}])[0]["content"] == parts


def test_extra_keys_preserved() -> None:
    msg = {"role": "tool", "content": "42", "tool_call_id": "call_1"}
    assert normalize_messages([msg]) == [msg]


@pytest.mark.parametrize(("messages", "fragment"), [
    ("", "empty string"),
    ([], "empty"),
    ((), "empty"),
    ({"role": "user", "content": "Hi"}, "wrap the single dict in a list"),
    (42, "got int"),
    (None, "got NoneType"),
    (b"hi", "got bytes"),
])
def test_bad_messages_container(messages: Any, fragment: str) -> None:
    with pytest.raises(InvalidRequestError, match=fragment) as info:
        normalize_messages(messages)
    assert isinstance(info.value, ConfigurationError)
    assert isinstance(info.value, ValueError)


def test_message_not_a_dict() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[1\] must be a dict"):
        normalize_messages([{"role": "user", "content": "x"}, "plain string"])


def test_missing_role() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\] has no 'role'") as info:
        normalize_messages([{"content": "Hi"}])
    assert "user" in str(info.value) and "assistant" in str(info.value)


def test_unknown_role() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\] has unknown role 'human'") as info:
        normalize_messages([{"role": "human", "content": "Hi"}])
    assert "user" in str(info.value)


def test_unhashable_role_is_invalid_request() -> None:
    """Regression: an unhashable role raised TypeError from `role not in ROLES`."""
    with pytest.raises(InvalidRequestError, match="role"):
        normalize_messages([{"role": ["user"], "content": "Hi"}])


@pytest.mark.parametrize("content", [5, 1.5, {"text": "hi"}, ("a",), b"bytes"])
def test_content_wrong_type(content: Any) -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\] content must be a string or a list"):
        normalize_messages([{"role": "user", "content": content}])


def test_missing_content() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[0\] \(user\) has no 'content'"):
        normalize_messages([{"role": "user"}])


@pytest.mark.parametrize("role", ["user", "system", "tool", "assistant"])
def test_content_none_rejected_without_tool_calls(role: str) -> None:
    with pytest.raises(InvalidRequestError, match="content None"):
        normalize_messages([{"role": role, "content": None}])


def test_content_none_allowed_for_assistant_with_tool_calls() -> None:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    msg = {"role": "assistant", "content": None, "tool_calls": calls}
    assert normalize_messages([msg]) == [msg]
    # Omitting content entirely is also fine for such a message.
    assert normalize_messages([{"role": "assistant", "tool_calls": calls}])[0]["tool_calls"] == calls


def test_content_none_with_empty_tool_calls_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="content None"):
        normalize_messages([{"role": "assistant", "content": None, "tool_calls": []}])


def test_user_with_tool_calls_and_no_content_rejected() -> None:
    with pytest.raises(InvalidRequestError):
        normalize_messages([{"role": "user", "content": None, "tool_calls": [{"id": "x"}]}])


# -- params -------------------------------------------------------------------------------------------


def test_valid_params() -> None:
    validate_params({"max_tokens": 10, "temperature": 0.2, "top_p": 1, "stop": ["\n"], "tools": [],
                     "tool_choice": "auto", "response_format": {"type": "json_object"}, "seed": "anything"})
    validate_params({"temperature": None, "max_tokens": None})  # None means "not set"
    validate_params({"stop": "END"})
    validate_params({"stop": ("a", "b"), "tool_choice": {"type": "function"}})


@pytest.mark.parametrize(("params", "field"), [
    ({"max_tokens": "10"}, "max_tokens"),
    ({"max_tokens": 10.0}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": -5}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": True}, "temperature"),
    ({"top_p": "1"}, "top_p"),
    ({"stop": 5}, "stop"),
    ({"tools": {"type": "function"}}, "tools"),
    ({"tools": "search"}, "tools"),
    ({"tool_choice": 1}, "tool_choice"),
    ({"response_format": "json"}, "response_format"),
])
def test_bad_params_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_params(params)
    assert str(info.value).startswith(field)


def test_bad_param_message_gives_the_value() -> None:
    with pytest.raises(InvalidRequestError, match=r"max_tokens must be int, got str '10'"):
        validate_params({"max_tokens": "10"})
    with pytest.raises(InvalidRequestError, match="positive integer"):
        validate_params({"max_tokens": 0})


# -- JSON-serialisable, finite: one walk over params and messages ------------------------------------------


class _Point:
    pass


@dataclasses.dataclass
class _Schema:
    type: str = "object"


_TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "required": {"a"}}}}


@pytest.mark.parametrize(("params", "message"), [
    ({"tools": [_TOOL]}, "tools[0].function.parameters.required is a set, which cannot be sent as JSON; "
                         "pass a list instead (e.g. sorted(...))"),
    ({"temperature": math.nan}, "temperature is nan, which cannot be sent as JSON; pass a finite number "
                                "(or leave the parameter out)"),
    ({"top_p": math.inf}, "top_p is inf, which cannot be sent as JSON; pass a finite number "
                          "(or leave the parameter out)"),
    ({"logit_bias": {"50256": -math.inf}}, "logit_bias['50256'] is -inf, which cannot be sent as JSON; "
                                           "pass a finite number (or leave the parameter out)"),
    ({"metadata": {"blob": b"\x00\x01"}}, "metadata.blob is a bytes, which cannot be sent as JSON; decode it to str "
                                          "(base64-encode binary data such as images)"),
    ({"seed": _Point()}, f"seed is a {__name__}._Point, which cannot be sent as JSON; pass plain dicts, "
                         "lists, strings, numbers, booleans or None"),
    ({"response_format": {"type": "json_schema", "schema": _Schema()}},
     f"response_format.schema is a {__name__}._Schema, which cannot be sent as JSON; "
     "pass dataclasses.asdict(value)"),
    ({"extra": {("a", "b"): 1}}, "extra has a key of type tuple (('a', 'b')), which cannot be sent as JSON; "
                                 "use string keys"),
    ({"extra": {"weird key": [1, 2, {3}]}}, "extra['weird key'][2] is a set, which cannot be sent as JSON; "
                                            "pass a list instead (e.g. sorted(...))"),
])
def test_params_that_json_cannot_carry(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_params(params)
    assert str(info.value) == message


@pytest.mark.parametrize(("messages", "message"), [
    ([{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image", "data": b"\x89PNG"}]}],
     "messages[0].content[1].data is a bytes, which cannot be sent as JSON; decode it to str "
     "(base64-encode binary data such as images)"),
    ([{"role": "user", "content": "a"}, {"role": "tool", "content": "x", "score": math.nan}],
     "messages[1].score is nan, which cannot be sent as JSON; pass a finite number (or leave the parameter out)"),
])
def test_messages_that_json_cannot_carry(messages: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        normalize_messages(messages)
    assert str(info.value) == message


def test_json_values_pass() -> None:
    class Color(str, enum.Enum):
        RED = "red"

    check_json({"a": [1, 2.5, -0.0, True, None, "x", (1, 2)], 1: {"n": 1e308}, None: Color.RED,
                "big": 10**30}, "extra")


def test_circular_reference_is_named() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidRequestError, match=r"^extra\[0\]\[0\].* nested more than 200 levels deep"):
        validate_params({"extra": loop})


def test_rejected_before_any_io() -> None:
    """Regression: a set reached json.dumps inside the request and escaped as TypeError;
    nan went out as the invalid JSON token NaN."""
    with FakeLLMServer() as server, LLMClient("openai/m", base_url=server.base_url, api_key="sk-test-0000") as client:
        with pytest.raises(InvalidRequestError, match="^temperature is nan"):
            client.chat("hi", temperature=float("nan"))
        with pytest.raises(InvalidRequestError, match=r"^tools\[0\]\.function\.parameters\.required is a set"):
            client.chat_stream("hi", tools=[_TOOL])
        with pytest.raises(InvalidRequestError, match=r"^messages\[0\]\.content\[0\]\.data is a bytes"):
            client.chat([{"role": "user", "content": [{"type": "image", "data": b"x"}]}])
        with pytest.raises(InvalidRequestError, match=r"^stop\[0\] is a bytes"):
            LLMClient("openai/m", base_url=server.base_url, api_key="sk-test-0000", stop=[b"\n"])
        assert server.requests == []


# -- the items of lists the drivers translate are dicts (a driver must never crash on them) ---------
@pytest.mark.parametrize(("messages", "params", "message"), [
    ([{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [5]}], {},
     "messages[1].tool_calls[0] must be a dict like {'id': ..., 'type': 'function', 'function': "
     "{'name': ..., 'arguments': '{...}'}}, got int"),
    ([{"role": "assistant", "content": "x", "tool_calls": "call"}], {},
     "messages[0].tool_calls must be a list of tool-call dicts, got str"),
    ([{"role": "user", "content": [1, 2]}], {},
     "messages[0].content[0] must be a content-part dict like {'type': 'text', 'text': ...}, got int"),
    ([{"role": "user", "content": ["Hi"]}], {},
     "messages[0].content[0] must be a content-part dict like {'type': 'text', 'text': ...}, got str"),
    ("Hi", {"tools": ["search"]},
     "tools[0] must be a dict like {'type': 'function', 'function': {'name': ..., 'parameters': {...}}}, got str"),
    ("Hi", {"stop": ["\n", 1]}, "stop[1] must be a string, got int"),
])
@pytest.mark.parametrize("model", ["openai/m", "anthropic/m", "gemini/m"])
def test_list_items_of_the_wrong_type_are_refused_before_any_driver_sees_them(
        model: str, messages: Any, params: dict[str, Any], message: str) -> None:
    from llm_connectivity.testing import MemoryTransport

    transport = MemoryTransport()
    for api in ([None, "responses"] if model.startswith("openai") else [None]):
        client = LLMClient(model, api_key="sk-validation-0123", transport=transport, api=api)
        with pytest.raises(InvalidRequestError) as info:
            client.chat(messages, **params)
        assert str(info.value) == message
    assert transport.requests == []
