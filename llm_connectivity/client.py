"""LLMClient: resolves ``"provider/name"``, merges options, sends, retries, streams.

The client is the only layer that sleeps, retries and owns the HTTP session. It holds no
per-call mutable state, so one client can serve many threads at once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .aggregate import ResponseAccumulator, estimate_usage
from .errors import (
    APIStatusError,
    ConfigurationError,
    LLMError,
    MissingAPIKeyError,
    NetworkError,
    TotalTimeoutError,
)
from .models import ChatResponse, StreamChunk, estimate_tokens
from .options import UNSET, StreamingOptions, Unset
from .providers.base import ProviderDriver, decode_json
from .registry import known_providers, resolve_driver, split_model
from .request import RequestSpec
from .retry import RetryPolicy
from .security import InsecureTransportWarning, redact, scrub_error
from .stream import ChatStream
from .deadline import Deadline
from .validation import normalize_messages, validate_params

if TYPE_CHECKING:
    import requests

    from .transport import HTTPResponse

__all__ = ["LLMClient"]

logger = logging.getLogger("llm_connectivity")

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_MAX_ERROR_BODY = 64 * 1024
_MAX_JSON_BODY = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Target:
    """A resolved model string: which driver, which model name, where, with which key."""

    provider: str
    model: str
    driver: ProviderDriver
    base_url: str
    api_key: str | None


@dataclass(frozen=True, slots=True)
class _Call:
    """Everything one call needs; built per call, never shared."""

    target: _Target
    spec: RequestSpec
    options: StreamingOptions
    retry: RetryPolicy


class LLMClient:
    """A client for one default model; every method accepts per-call overrides.

    Parameters:
        model: ``"provider/name"``, e.g. ``"openai/gpt-4o-mini"``; the name may contain
            slashes (``"openrouter/meta-llama/llama-3.1-8b"``).
        api_key: the key; default: the provider's environment variable (read now).
        base_url: the provider's endpoint; default: ``<PROVIDER>_BASE_URL`` or the vendor's.
        api: ``"responses"`` selects OpenAI's Responses API; default Chat Completions.
        timeout: seconds for both connect and read-silence limits, a ``(connect, read)``
            tuple, a dict of StreamingOptions fields, or a StreamingOptions.
        max_retries: retries before any content arrived (an int or a RetryPolicy).
        streaming_options: a StreamingOptions (timeouts, reconnects); ``timeout`` wins.
        session: your own ``requests.Session`` (proxies, CA bundle, ``responses`` mocks).
        max_concurrency: connection pool size per host (threads that may stream at once).
        **default_params: generation parameters sent on every call (``max_tokens``...).
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        api: str | None = None,
        timeout: Any = UNSET,
        max_retries: int | RetryPolicy | None = 2,
        streaming_options: StreamingOptions | None = None,
        session: requests.Session | None = None,
        max_concurrency: int = 16,
        **default_params: Any,
    ) -> None:
        options = streaming_options or StreamingOptions()
        if not isinstance(options, StreamingOptions):
            raise ConfigurationError("streaming_options must be a StreamingOptions")
        self.options = options if isinstance(timeout, Unset) else StreamingOptions.from_value(timeout, options)
        self.retry_policy = RetryPolicy.from_value(max_retries)
        self._api_key = api_key
        self._base_url = base_url
        self.api = api
        validate_params(default_params)
        self.default_params = default_params
        self._targets: dict[str, _Target] = {}
        self._lock = threading.Lock()
        self._no_stream_options: set[str] = set()
        self._provider = split_model(model)[0]  # api_key / base_url belong to this provider only
        self.target = self._resolve(model)
        self.model = model
        from .transport import RequestsTransport  # imports requests: paid on first client, not on import

        self._transport = RequestsTransport(session, pool_size=max_concurrency)

    # -- public API ---------------------------------------------------------------------------
    @staticmethod
    def providers() -> list[str]:
        """Names of every known provider (built in, registered, or from entry points)."""
        return known_providers()

    def chat(self, messages: Any, *, model: str | Unset = UNSET, timeout: Any = UNSET,
             max_retries: int | RetryPolicy | None | Unset = UNSET, **params: Any) -> ChatResponse:
        """Send ``messages`` and return the whole :class:`ChatResponse` (non-streaming)."""
        call = self._call(messages, model, timeout, max_retries, params, stream=False)
        deadline = self._deadline(call)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(call, deadline)
                body = response.read_body(deadline, _MAX_JSON_BODY)
                payload = decode_json(body, provider=call.target.provider, what="response body")
                return _finish_response(call.target.driver.parse_response(payload, call.spec), call)
            except LLMError as exc:
                if not self._may_retry(call, exc, attempt, deadline):
                    raise scrub_error(exc, call.target.api_key) from exc.__cause__

    def chat_stream(self, messages: Any, *, model: str | Unset = UNSET, timeout: Any = UNSET,
                    max_retries: int | RetryPolicy | None | Unset = UNSET, **params: Any) -> ChatStream:
        """Start a streamed chat; iterate the returned :class:`ChatStream` for StreamChunks.

        Nothing is sent until the first ``next()``; validation errors raise here.
        """
        call = self._call(messages, model, timeout, max_retries, params, stream=True)
        acc = ResponseAccumulator(model=call.spec.model, provider=call.target.provider,
                                  prompt_estimate=_prompt_estimate(call.spec))
        return ChatStream(self._run_stream(call, acc), acc)

    def stream(self, messages: Any, **kwargs: Any) -> Iterator[str]:
        """Yield the answer as plain text pieces, as they arrive."""
        with self.chat_stream(messages, **kwargs) as chunks:
            for chunk in chunks:
                if chunk.content:
                    yield chunk.content

    def close(self) -> None:
        """Close the connection pool (if the client created it)."""
        self._transport.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        key = redact(self.target.api_key) if self.target.api_key else None
        return f"LLMClient(model={self.model!r}, base_url={self.target.base_url!r}, api_key={key!r})"

    # -- resolution ---------------------------------------------------------------------------
    def _resolve(self, model: str) -> _Target:
        target = self._targets.get(model)
        if target is not None:
            return target
        provider, name = split_model(model)
        driver = resolve_driver(provider).for_api(self.api)
        target = _Target(provider, name, driver, self._base_url_for(provider, driver), self._key_for(provider, driver))
        _warn_if_insecure(target)
        with self._lock:
            self._targets[model] = target
        return target

    def _key_for(self, provider: str, driver: ProviderDriver) -> str | None:
        if self._api_key and provider == self._provider:
            return _checked_key(self._api_key, "api_key", provider)
        for var in driver.api_key_env:
            value = os.environ.get(var)
            if value:
                return _checked_key(value, var, provider)
        if driver.requires_api_key:
            names = " or ".join(driver.api_key_env) or "an api_key"
            raise MissingAPIKeyError(
                f"no API key for provider {driver.name!r}: set {names} in the environment "
                f"or pass api_key=... to LLMClient",
                provider=driver.name,
                env_var=driver.api_key_env[0] if driver.api_key_env else "",
            )
        return None

    def _base_url_for(self, provider: str, driver: ProviderDriver) -> str:
        explicit = self._base_url if provider == self._provider else None
        url = explicit or (os.environ.get(driver.base_url_env) if driver.base_url_env else None)
        url = url or driver.default_base_url
        if not url:
            hint = f" or set {driver.base_url_env}" if driver.base_url_env else ""
            raise ConfigurationError(
                f"provider {driver.name!r} needs a base_url, e.g. base_url='http://localhost:8000/v1'{hint}",
                provider=driver.name,
            )
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigurationError(f"base_url {url!r} must start with http:// or https://", provider=driver.name)
        return url

    def _call(self, messages: Any, model: str | Unset, timeout: Any, max_retries: Any,
              params: dict[str, Any], *, stream: bool) -> _Call:
        target = self.target if isinstance(model, Unset) else self._resolve(model)
        merged = {**self.default_params, **params}
        merged = {k: v for k, v in merged.items() if v is not None or k == "stream_options"}
        if target.base_url in self._no_stream_options:
            merged.setdefault("stream_options", None)
        validate_params(merged)
        spec = RequestSpec(target.model, normalize_messages(messages), merged, stream,
                           target.api_key, target.base_url, self.api)
        options = self.options if isinstance(timeout, Unset) else StreamingOptions.from_value(timeout, self.options)
        retry = self.retry_policy if isinstance(max_retries, Unset) else RetryPolicy.from_value(max_retries)
        return _Call(target, spec, options, retry)

    # -- sending ------------------------------------------------------------------------------
    def _deadline(self, call: _Call) -> Deadline:
        opts = call.options
        return Deadline(read_timeout=opts.read_timeout, total_timeout=opts.total_timeout,
                        content_idle_timeout=opts.content_idle_timeout if call.spec.stream else None,
                        provider=call.target.provider)

    def _send(self, call: _Call, deadline: Deadline) -> HTTPResponse:
        """Send once; return a 2xx response or raise the typed error for the status."""
        request = call.target.driver.build_request(call.spec)
        started = time.monotonic()
        response = self._transport.send(request, connect_timeout=call.options.connection_timeout,
                                        deadline=deadline, provider=call.target.provider)
        logger.info("%s %s -> %d (%s, %.0f ms)", request.method, request.url, response.status_code,
                    call.target.provider, (time.monotonic() - started) * 1000)
        if response.status_code < 400:
            return response
        body = response.read_body(deadline, _MAX_ERROR_BODY)
        error = call.target.driver.error_from_response(response.status_code, response.headers, body)
        error.headers = {k.lower(): v for k, v in response.headers.items()}
        raise error

    def _may_retry(self, call: _Call, exc: LLMError, attempt: int, deadline: Deadline) -> bool:
        """Sleep and return True if ``exc`` on try ``attempt`` should be retried."""
        if self._drop_stream_options(call, exc):
            return True
        headers = getattr(exc, "headers", None)
        decision = call.retry.decide(exc, attempt, headers)
        if not decision.retry:
            return False
        if deadline.total_at is not None and time.monotonic() + decision.delay >= deadline.total_at:
            return False
        logger.info("retrying %s request (attempt %d of %d) in %.2fs: %s", call.target.provider,
                    attempt + 1, call.retry.max_retries + 1, decision.delay, decision.reason)
        time.sleep(decision.delay)
        return True

    def _drop_stream_options(self, call: _Call, exc: LLMError) -> bool:
        """A server that rejects ``stream_options``: retry once without, remember the URL."""
        rejected = (isinstance(exc, APIStatusError) and exc.status_code in (400, 422)
                    and "stream_options" in exc.message and call.spec.stream
                    and call.spec.params.get("stream_options", {}) is not None)
        if rejected:
            with self._lock:
                self._no_stream_options.add(call.target.base_url)
            call.spec.params["stream_options"] = None
            logger.info("%s rejected stream_options; retrying without it", call.target.base_url)
        return rejected

    def _run_stream(self, call: _Call, acc: ResponseAccumulator) -> Iterator[StreamChunk]:
        deadline = self._deadline(call)
        original = call
        attempt = reconnects = 0
        while True:
            attempt += 1
            deadline.mark_content()  # each attempt gets the whole content-idle allowance
            response: HTTPResponse | None = None
            try:
                response = self._send(call, deadline)
                driver = call.target.driver
                events = driver.iter_events(response.iter_bytes(deadline), response.content_type)
                chunks = driver.iter_chunks(events, call.spec)
                if reconnects:
                    chunks = _mark_continuation(chunks, reconnects, _stripped_tail(acc.content))
                for chunk in chunks:
                    if chunk.content or chunk.reasoning or chunk.tool_calls:
                        deadline.mark_content()
                    acc.add(chunk)
                    yield chunk
                acc.complete = True
                yield StreamChunk(finish_reason=acc.finish_reason, raw_finish_reason=acc.raw_finish_reason,
                                  usage=acc.final_usage(), index=acc.chunk_count, is_complete=True)
                response.drain()  # lets the connection go back to the pool
                return
            except LLMError as exc:
                if not acc.has_output and self._may_retry(call, exc, attempt, deadline):
                    continue
                resumed = self._continuation(original, exc, acc, reconnects, deadline)
                if resumed is not None:
                    call, attempt, reconnects = resumed, 0, reconnects + 1
                    continue
                if response is not None and call.options.preserve_partial_response:
                    exc.partial_response = acc.build()
                raise scrub_error(exc, call.target.api_key) from exc.__cause__
            finally:
                if response is not None:
                    response.close()

    def _continuation(self, call: _Call, exc: LLMError, acc: ResponseAccumulator, reconnects: int,
                      deadline: Deadline) -> _Call | None:
        """Opt-in (``retry_on_connection_error``): after a dropped connection, re-request
        with the partial answer as an assistant prefix, where the provider can continue one."""
        opts = call.options
        if (not opts.retry_on_connection_error or not isinstance(exc, NetworkError)
                or isinstance(exc, TotalTimeoutError) or reconnects >= opts.max_reconnect_attempts
                or acc.tool_calls()):
            return None
        messages = call.target.driver.continuation_messages(call.spec.messages, acc.content)
        if messages is None:
            return None
        if deadline.total_at is not None and time.monotonic() + opts.reconnect_delay >= deadline.total_at:
            return None
        logger.info("%s stream broke after %d characters (%s); continuing it in %.2fs (reconnect %d of %d)",
                    call.target.provider, len(acc.content), type(exc).__name__, opts.reconnect_delay,
                    reconnects + 1, opts.max_reconnect_attempts)
        time.sleep(opts.reconnect_delay)
        return dataclasses.replace(call, spec=dataclasses.replace(call.spec, messages=messages))


def _stripped_tail(text: str) -> str:
    """The trailing whitespace a prefill drops (already delivered, so not to repeat)."""
    return text[len(text.rstrip()):]


def _mark_continuation(chunks: Iterator[StreamChunk], reconnect: int, delivered_tail: str) -> Iterator[StreamChunk]:
    """Tag chunks of a continued stream (``metadata["continuation"]``) and drop whitespace
    the caller already received before the break."""
    for chunk in chunks:
        if delivered_tail and chunk.content:
            if chunk.content.startswith(delivered_tail):
                chunk = dataclasses.replace(chunk, content=chunk.content[len(delivered_tail):],
                                            metadata=dict(chunk.metadata))
            delivered_tail = ""
        chunk.metadata["continuation"] = reconnect
        yield chunk


def _prompt_estimate(spec: RequestSpec) -> int:
    return sum(estimate_tokens(m["content"]) if isinstance(m.get("content"), str) else 0 for m in spec.messages)


def _finish_response(response: ChatResponse, call: _Call) -> ChatResponse:
    """Name the provider as the client knows it, and estimate usage (flagged
    ``is_estimated``) when the provider reported none."""
    changes: dict[str, Any] = {"provider": call.target.provider}
    if response.usage.is_estimated:
        changes["usage"] = estimate_usage(_prompt_estimate(call.spec), response.content, response.reasoning)
    return dataclasses.replace(response, **changes)


def _checked_key(key: str, source: str, provider: str) -> str:
    """Strip surrounding whitespace; refuse keys that could not travel in a header."""
    key = key.strip()
    if not key or any(ord(c) < 33 or ord(c) == 127 for c in key):
        raise ConfigurationError(
            f"the {provider} API key from {source} is empty or contains whitespace or control "
            "characters; check how it was copied", provider=provider)
    return key


def _caller_stacklevel() -> int:
    """The stacklevel that points a warning at the first frame outside this package."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("llm_connectivity"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _warn_if_insecure(target: _Target) -> None:
    parts = urlsplit(target.base_url)
    if target.api_key and parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK:
        warnings.warn(
            f"the {target.provider} API key would be sent over plain HTTP to {parts.hostname}; "
            "use an https:// base_url",
            InsecureTransportWarning,
            stacklevel=_caller_stacklevel(),
        )
