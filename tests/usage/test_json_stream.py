"""JSON mode: incremental parsing that is linear in the text, partial values, truncation and
syntax errors, schema validation; through stream_with_usage over a loopback server."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from llm_connectivity import StreamingOptions
from llm_connectivity.json_stream import JSONSchemaError, JSONStreamError, JSONStreamParser, validate_json
from llm_connectivity.options import JSON_MODE_OPTIONS
from llm_connectivity.testing import FakeLLMServer, Reply

DOCUMENTS = [
    '{"a": 1, "b": [1, 2.5, -3e2, "x\\"y\\u00e9\\n"], "c": {"d": null, "e": true, "f": false}, "g": [], "h": {}}',
    '[1,2,3]', '"hello \\n world"', '  {"name":"Zoë","items":[{"id":1,"tags":["a","b"]},{"id":2,"tags":[]}]}  ',
    '{"big": 12345678901234567890, "neg": -0.5, "exp": 1E+3, "nested": [[[]], [{}]]}', "7", "null",
    '{"e": "smile \\ud83d\\ude00, \\u00e9, lone \\ud83d x", "dup": 1, "dup": 2}',
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_any_split_gives_json_loads(document: str) -> None:
    rng = random.Random(document)
    for _ in range(50):
        parser = JSONStreamParser()
        pos = 0
        while pos < len(document):
            size = rng.randint(1, 6)
            parser.feed(document[pos:pos + size])
            pos += size
            parser.value  # materialising the partial value must not disturb parsing
        assert parser.close() == json.loads(document)
        if parser.value is not None and document.strip() not in ("7", "null"):
            assert parser.value == json.loads(document)  # the incremental value is the final value too


def test_final_parse_without_jiter(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_jiter(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "jiter":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jiter)
    for document in DOCUMENTS:
        parser = JSONStreamParser()
        parser.feed(document)
        assert parser.close() == json.loads(document)


def test_partial_values_after_each_delta() -> None:
    parser = JSONStreamParser()
    seen = []
    for delta in ['{"name": "Zo', 'ë", "items": [1, 2', '3, {"k": tr', 'ue}]', "}"]:
        parser.feed(delta)
        seen.append(json.dumps(parser.value, ensure_ascii=False))
    assert seen == ['{"name": "Zo"}', '{"name": "Zoë", "items": [1]}', '{"name": "Zoë", "items": [1, 23, {}]}',
                    '{"name": "Zoë", "items": [1, 23, {"k": true}]}', '{"name": "Zoë", "items": [1, 23, {"k": true}]}']
    assert parser.complete


def test_work_is_linear_in_the_text() -> None:
    document = json.dumps({"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(2000)]})
    parser = JSONStreamParser()
    for i in range(0, len(document), 3):
        parser.feed(document[i:i + 3])
    assert parser.close() == json.loads(document)
    assert parser.chars_scanned <= 1.5 * len(document)  # pending tails are re-read, never the whole text


@pytest.mark.parametrize(("text", "position"), [
    ('{"a": 1,', 8), ('{"a": [1, 2', 11), ('{"a": "unterminated', 19), ("", 0), ('{"a": tr', 8),
])
def test_truncated_json_raises_with_the_text(text: str, position: int) -> None:
    parser = JSONStreamParser()
    parser.feed(text)
    with pytest.raises(JSONStreamError, match="truncated") as info:
        parser.close()
    assert info.value.text == text and info.value.position == position


@pytest.mark.parametrize(("deltas", "position", "why"), [
    (['{"a": 1', ' "b": 2}'], 8, "expected ','"),
    (['{"a" 1}'], 5, "expected ':'"),
    (["{'a': 1}"], 1, "double quotes"),
    (['[1, 2]', " x"], 7, "after the JSON value"),
    (['{"a": tru', 'x}'], 9, "expected 'true'"),  # the character that breaks the literal
    (['[nul', 'L]'], 4, "expected 'null'"),
    (['{"a": x}'], 6, "where a value should start"),
    (['[01]'], 1, "malformed number"),
    (['{"a": "\\q"}'], 7, "bad escape"),
])
def test_syntax_errors_are_raised_at_the_delta(deltas: list[str], position: int, why: str) -> None:
    parser = JSONStreamParser()
    with pytest.raises(JSONStreamError, match=why) as info:
        for delta in deltas:
            parser.feed(delta)
    assert info.value.position == position and info.value.text == "".join(deltas)


SCHEMA = {"type": "object", "required": ["city", "days"],
          "properties": {"city": {"type": "string"},
                         "days": {"type": "array", "items": {"type": "object", "properties": {
                             "temp": {"type": "number"}}}}}}


@pytest.mark.parametrize(("value", "path", "validator"), [
    ({"city": "Paris"}, "$", "required"),
    ({"city": "Paris", "days": [{"temp": 20}, {"temp": "hot"}]}, "$.days[1].temp", "type"),
])
def test_schema_errors_name_the_path(value: Any, path: str, validator: str) -> None:
    pytest.importorskip("jsonschema")
    with pytest.raises(JSONSchemaError) as info:
        validate_json(value, SCHEMA)
    assert (info.value.path, info.value.validator) == (path, validator)
    validate_json({"city": "Paris", "days": [{"temp": 20.5}]}, SCHEMA)


def test_json_mode_through_the_client(server: FakeLLMServer, make_client: Any) -> None:
    answer = '{"city": "Paris", "days": [{"temp": 20}, {"temp": 22.5}]}'
    server.add_reply(Reply(chunks=[answer[i:i + 5] for i in range(0, len(answer), 5)]))
    partials: list[str] = []
    result = make_client().stream_with_usage(
        "Weather?", streaming_options=JSON_MODE_OPTIONS,
        on_delta=lambda event: partials.append(json.dumps(event.partial_json)) if event.is_json else None,
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}})
    assert result.get_json() == json.loads(result.get_text()) == json.loads(answer)
    assert partials[0] == '{"ci"}' or partials[0] == "{}"
    assert partials[-1] == json.dumps(json.loads(answer))
    assert len(partials) == len(range(0, len(answer), 5))
    assert server.requests[-1].json["response_format"]["type"] == "json_schema"


def test_truncated_and_schema_failures_through_the_client(server: FakeLLMServer, make_client: Any) -> None:
    pytest.importorskip("jsonschema")
    client = make_client()
    server.add_reply(Reply(chunks=['{"city": "Par', "is"], finish_reason="length"))
    result = client.stream_with_usage("Weather?", streaming_options=JSON_MODE_OPTIONS)
    with pytest.raises(JSONStreamError, match="truncated") as info:
        result.get_json()
    assert info.value.text == '{"city": "Paris'
    server.add_reply(Reply('{"city": "Paris"}'))
    result = client.stream_with_usage("Weather?", streaming_options=JSON_MODE_OPTIONS.replace(json_schema=SCHEMA))
    with pytest.raises(JSONSchemaError, match="'days' is a required property"):
        result.get_json()


def test_invalid_json_stops_the_stream_when_validating_incrementally(server: FakeLLMServer,
                                                                     make_client: Any) -> None:
    client = make_client()
    server.add_reply(Reply(chunks=['{"a": 1}', " and some prose", " after it"]))
    errors: list[Any] = []
    with pytest.raises(JSONStreamError, match="after the JSON value") as info:
        client.stream_with_usage("Hi", streaming_options=JSON_MODE_OPTIONS, on_error=errors.append)
    assert info.value.partial_response.content == '{"a": 1} and some prose'
    assert [e.error_type for e in errors] == ["JSONStreamError"]
    server.add_reply(Reply(chunks=['{"a": 1}', " and some prose"]))
    lenient = client.stream_with_usage("Hi", streaming_options=StreamingOptions(enable_json_handler=True))
    assert lenient.get_text() == '{"a": 1} and some prose'
    with pytest.raises(JSONStreamError, match="after the JSON value") as later:
        lenient.get_json()
    assert later.value.position == 9 and later.value.text == '{"a": 1} and some prose'


def test_validating_incrementally_turns_the_handler_on(server: FakeLLMServer, make_client: Any) -> None:
    """``validate_json_incrementally=True`` alone must not be silently ignored: it parses
    (``is_json`` deltas) and stops the stream at the first invalid delta."""
    client = make_client()
    server.add_reply(Reply(chunks=['{"a": ', "x}", " more"]))
    with pytest.raises(JSONStreamError, match="where a value should start") as info:
        client.stream_with_usage("Hi", streaming_options=StreamingOptions(validate_json_incrementally=True))
    assert info.value.partial_response.content == '{"a": x}'
    server.add_reply(Reply(chunks=['{"a": ', '"b"}']))
    result = client.stream_with_usage("Hi", streaming_options=StreamingOptions(validate_json_incrementally=True))
    assert [e.is_json for e in result.events if e.kind == "delta"] == [True, True]
    assert result.get_json() == {"a": "b"}
