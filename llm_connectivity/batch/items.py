"""Batch items: what the caller passes, normalised to :class:`BatchItem` before any I/O.

An item is a prompt string, a messages list, or a dict of per-item parameters
(``messages`` plus ``model``, ``max_tokens``... and an optional ``id``). Each item gets an
``id`` (its own, or its position) and a ``request_hash`` over what would be sent, so a
checkpoint can tell a finished item from a changed one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequestError

__all__ = ["BatchItem", "normalize_items", "prompt_text", "request_hash", "split_item"]

# Per-item keys that configure the batch, not the request: refused with a clear message.
_REFUSED = {"stream": "pass stream=True to batch_chat for the whole batch",
            "api_key": "use one LLMClient per key", "base_url": "use one LLMClient per endpoint"}


@dataclass(frozen=True)
class BatchItem:
    """One normalised batch item.

    ``index`` is its position in the input, ``id`` its checkpoint key (the item's own
    ``id``, else ``str(index)``), ``messages`` and ``params`` what is passed to
    ``client.chat``, ``request_hash`` a short SHA-256 of the model, messages and params.
    """

    index: int
    id: str
    messages: Any
    params: dict[str, Any] = field(default_factory=dict)
    request_hash: str = ""

    @property
    def request(self) -> dict[str, Any]:
        """The request as a plain dict: ``{"messages": ..., **params}``."""
        return {"messages": self.messages, **self.params}


def request_hash(model: str, messages: Any, params: Mapping[str, Any], endpoint: str | None = None) -> str:
    """A stable 16-hex-digit hash of one request (model, messages, parameters and, when
    given, the endpoint it goes to)."""
    fields = {"model": model, "messages": messages, "params": dict(params)}
    if endpoint is not None:
        fields["endpoint"] = endpoint
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=repr, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def split_item(index: int, raw: Any) -> tuple[str | None, Any, dict[str, Any]]:
    """(own id, messages, params) of one raw item; raises InvalidRequestError naming it."""
    if isinstance(raw, str):
        if not raw:
            raise InvalidRequestError(f"batch item {index} is an empty string; give the prompt text")
        return None, raw, {}
    if isinstance(raw, (list, tuple)):
        return None, list(raw), {}
    if isinstance(raw, Mapping):
        params = dict(raw)
        if "messages" not in params:
            raise InvalidRequestError(
                f"batch item {index} is a dict without 'messages'; use {{'messages': 'prompt', ...}}")
        for key, fix in _REFUSED.items():
            if key in params:
                raise InvalidRequestError(f"batch item {index} sets {key!r}; {fix}")
        own = params.pop("id", None)
        if own is not None and (isinstance(own, bool) or not isinstance(own, (str, int))):
            raise InvalidRequestError(f"batch item {index} has id {own!r}; ids must be strings or ints")
        return (None if own is None else str(own)), params.pop("messages"), params
    raise InvalidRequestError(
        f"batch item {index} is a {type(raw).__name__}; give a prompt string, a messages list, "
        "or a dict with 'messages' (and optional 'id', 'model', 'max_tokens'...)")


def normalize_items(items: Iterable[Any], default_model: str, default_params: Mapping[str, Any] | None = None,
                    endpoint: str | None = None) -> list[BatchItem]:
    """Normalise every item (before any I/O); ids must be unique. The hash covers the
    client's ``default_params`` too (an item's own value wins), so a re-run with another
    default ``max_tokens`` or ``temperature`` redoes the items it changes, and the client's
    ``endpoint``, so answers from a test server are never taken for a real provider's."""
    defaults = dict(default_params or {})
    if isinstance(items, (str, bytes, Mapping)):
        raise InvalidRequestError("batch requests must be a list of items (prompts, messages lists or dicts), "
                                  f"got one {type(items).__name__}")
    result: list[BatchItem] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        own, messages, params = split_item(index, raw)
        item_id = own if own is not None else str(index)
        if item_id in seen:
            raise InvalidRequestError(f"batch items {seen[item_id]} and {index} share the id {item_id!r}; "
                                      "ids must be unique (they key the checkpoint)")
        seen[item_id] = index
        model = str(params.get("model") or default_model)
        sent = {**defaults, **params} if defaults else params
        result.append(BatchItem(index, item_id, messages, params, request_hash(model, messages, sent, endpoint)))
    return result


def prompt_text(messages: Any) -> str:
    """The text of a prompt (a string, or the text of every message), for token estimates."""
    if isinstance(messages, str):
        return messages
    texts: list[str] = []
    for message in messages if isinstance(messages, (list, tuple)) else ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [str(part.get("text", "")) for part in content if isinstance(part, Mapping)]
    return "\n".join(texts)
