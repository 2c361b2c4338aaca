"""Input validation before any network traffic: messages and parameter types."""

from __future__ import annotations

from typing import Any

import pytest

from llm_connectivity.errors import ConfigurationError, InvalidRequestError
from llm_connectivity.validation import ROLES, normalize_messages, validate_params

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
