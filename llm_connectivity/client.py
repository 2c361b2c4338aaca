"""LLMClient: resolves ``"provider/name"``, merges configuration, validates input, and
hands each call to its :class:`~llm_connectivity.engine.Engine` (send, retry, stream).

A client holds no per-call mutable state, so one client can serve many threads at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .aggregate import ResponseAccumulator, prompt_estimate
from .deadline import SYSTEM_CLOCK, Clock, Deadline
from .engine import CLOSED, Call, Engine, StreamHandle, Target
from .errors import ConfigurationError, InvalidRequestError, MissingAPIKeyError
from .models import ChatResponse
from .options import UNSET, StreamingOptions, Unset, resolve_options
from .pipeline import Observer, Stage
from .providers.base import ProviderDriver
from .registry import known_providers, resolve_driver, split_model
from .request import RequestSpec
from .retry import RetryPolicy
from .security import check_key, redact, redact_url, warn_if_insecure
from .stream import ChatStream
from .validation import normalize_messages, validate_params

if TYPE_CHECKING:
    import requests

    from .batch import BatchResult, BatchResults
    from .budget import Budget
    from .pricing import Pricing
    from .streaming_response import StreamingResponse
    from .transport import Transport

__all__ = ["LLMClient"]

_STREAM_KEYWORD = {
    False: "chat() does not take stream=; use client.chat_stream(...) to stream "
           "(or client.stream(...) for plain text pieces)",
    True: "chat_stream() always streams: drop stream=, or call client.chat(...) for a whole response",
}
# Per-call keyword arguments that configure the client, not the request body.
_CLIENT_ONLY = frozenset({"api_key", "base_url", "api", "session", "streaming_options", "max_concurrency",
                          "transport", "clock"})


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
        max_concurrency: how many connections per host the pool keeps for reuse (default 64):
            threads beyond it still stream, each on a connection opened and closed for it.
        transport: any :class:`~llm_connectivity.transport.Transport` (e.g.
            ``llm_connectivity.testing.MemoryTransport``); default a pooled requests
            transport. A transport you pass is yours: ``close()`` leaves it open.
        stages: :class:`~llm_connectivity.pipeline.Stage` objects every call's chunks and
            final response pass through, after the built-in ones (see docs/pipeline.md).
        observers: callables that receive every call's lifecycle
            :class:`~llm_connectivity.pipeline.Notice` (start, retry, first_byte, chunk,
            usage, error, complete).
        clock: where timeouts read the time and backoffs sleep (``monotonic()`` and
            ``sleep()``); tests pass ``llm_connectivity.testing.FakeClock``.
        budget_usd: a USD budget every call of this client draws on, from every thread;
            calls are refused once it is spent (``BudgetExceededError``).
        pricing: your prices, ``{"provider/model": {"input": 0.3, "output": 1.2}}`` in USD
            per million tokens, over the ``genai-prices`` tables.
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
        max_concurrency: int = 64,
        transport: Transport | None = None,
        stages: Iterable[Stage] | None = (),
        observers: Iterable[Observer] | None = (),
        clock: Clock = SYSTEM_CLOCK,
        budget_usd: float | None = None,
        pricing: Mapping[str, Any] | None = None,
        **default_params: Any,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be a positive int (connections per host), "
                                     f"got {max_concurrency!r}")
        self.max_concurrency = max_concurrency  #: connections per host kept for reuse
        _check_types(api_key=api_key, base_url=base_url, transport=transport, session=session, clock=clock,
                     default_params=default_params)
        self.stages = _checked_stages(stages)
        self.observers = _checked_observers(observers)
        if streaming_options is not None and not isinstance(streaming_options, StreamingOptions):
            raise ConfigurationError("streaming_options must be a StreamingOptions")
        options = resolve_options(streaming_options, StreamingOptions.from_env())  # client > environment
        self.options = options if isinstance(timeout, Unset) else StreamingOptions.from_value(timeout, options)
        self.retry_policy = RetryPolicy.from_value(max_retries)
        self._api_key = api_key
        self._base_url = base_url
        self.api = api
        validate_params(default_params)
        self.default_params = default_params
        self._targets: dict[str, Target] = {}
        self._lock = threading.Lock()
        self._provider = split_model(model)[0]  # api_key / base_url belong to this provider only
        self.target = self._resolve(model)
        self.model = model
        if transport is not None and session is not None:
            raise ConfigurationError("pass either session= or transport=, not both (a session belongs to "
                                     "the default requests transport)")
        self._own_transport = transport is None
        if transport is None:
            from .transport.requests_transport import RequestsTransport  # imports requests: paid here, not on import

            transport = RequestsTransport(session, pool_size=max_concurrency)
        self._transport: Transport = transport
        self._engine = Engine(transport, clock)
        self.clock = clock
        self.pricing: Pricing | None = None  # None: the genai-prices tables alone
        self.budget: Budget | None = None
        if pricing is not None:
            from .pricing import Pricing

            self.pricing = Pricing(pricing)
        if budget_usd is not None:
            from .budget import Budget

            self.budget = Budget(budget_usd)
        from .accounting import client_observers, client_stages

        self.stages = client_stages(self.options, self.pricing, self.budget, model) + self.stages
        self.observers = client_observers(self.options, self.pricing, self.budget) + self.observers

    # -- public API ---------------------------------------------------------------------------
    @staticmethod
    def providers() -> list[str]:
        """Names of every known provider (built in, registered, or from entry points)."""
        return known_providers()

    def chat(self, messages: Any, *, model: str | Unset = UNSET, timeout: Any = UNSET,
             max_retries: int | RetryPolicy | None | Unset = UNSET, stages: Iterable[Stage] | None = (),
             observers: Iterable[Observer] | None = (), **params: Any) -> ChatResponse:
        """Send ``messages`` and return the whole :class:`ChatResponse` (non-streaming).

        ``stages`` / ``observers`` are added after the client's for this call only.
        """
        call = self._call(messages, model, timeout, max_retries, params, stream=False,
                          stages=stages, observers=observers)
        return self._engine.chat(call, self._deadline(call))

    def chat_stream(self, messages: Any, *, model: str | Unset = UNSET, timeout: Any = UNSET,
                    max_retries: int | RetryPolicy | None | Unset = UNSET, stages: Iterable[Stage] | None = (),
                    observers: Iterable[Observer] | None = (), **params: Any) -> ChatStream:
        """Start a streamed chat; iterate the returned :class:`ChatStream` for StreamChunks.

        Nothing is sent until the first ``next()``; validation errors raise here.
        ``stages`` / ``observers`` are added after the client's for this call only.
        """
        call = self._call(messages, model, timeout, max_retries, params, stream=True,
                          stages=stages, observers=observers)
        acc = ResponseAccumulator(model=call.spec.model, provider=call.target.provider,
                                  prompt_estimate=prompt_estimate(call.spec))
        handle = StreamHandle()
        return ChatStream(self._engine.stream(call, acc, lambda: self._deadline(call), handle), acc, handle,
                          max_tokens=_output_limit(call.spec.params))

    def stream(self, messages: Any, **kwargs: Any) -> Iterator[str]:
        """Yield the answer as plain text pieces, as they arrive (takes what
        :meth:`chat_stream` takes; bad input raises here, not at the first ``next()``)."""
        return _text_pieces(self.chat_stream(messages, **kwargs))

    def stream_with_usage(self, messages: Any, *, on_start: Callable[..., Any] | None = None,
                          on_delta: Callable[..., Any] | None = None, on_usage: Callable[..., Any] | None = None,
                          on_complete: Callable[..., Any] | None = None, on_error: Callable[..., Any] | None = None,
                          on_retry: Callable[..., Any] | None = None,
                          streaming_options: StreamingOptions | None = None, **kwargs: Any) -> StreamingResponse:
        """Stream ``messages`` to the end with typed events, usage, cost, budget and JSON
        handling; return a :class:`~llm_connectivity.streaming_response.StreamingResponse`
        (see ``docs/events.md``). ``streaming_options`` overrides the client's per field."""
        from .streaming_response import stream_with_usage  # asyncio and the events: paid on first use

        callbacks = {"on_start": on_start, "on_delta": on_delta, "on_usage": on_usage,
                     "on_complete": on_complete, "on_error": on_error, "on_retry": on_retry}
        return stream_with_usage(self, messages, callbacks, streaming_options, kwargs)

    def batch_chat(self, requests: Any, **options: Any) -> BatchResults:
        """Run many chats on a thread pool; results in input order with a ``.summary``.
        See :func:`llm_connectivity.batch.run_batch` for the options (``max_workers``,
        ``requests_per_minute``, ``tokens_per_minute``, ``progress``, ``checkpoint``...)."""
        from .batch import run_batch

        return run_batch(self, requests, **options)

    def iter_batch(self, requests: Any, **options: Any) -> Iterator[BatchResult]:
        """Like :meth:`batch_chat`, yielding each result as it finishes."""
        from .batch import iter_batch

        return iter_batch(self, requests, **options)

    def close(self) -> None:
        """Close the connection pool (if the client created its transport). Streams already
        reading finish; new calls raise ConfigurationError."""
        self._engine.closed = True
        if self._own_transport:
            self._transport.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        key = redact(self.target.api_key) if self.target.api_key else None
        return f"LLMClient(model={self.model!r}, base_url={redact_url(self.target.base_url)!r}, api_key={key!r})"

    # -- resolution ---------------------------------------------------------------------------
    def _resolve(self, model: str) -> Target:
        target = self._targets.get(model)
        if target is not None:
            return target
        provider, name = split_model(model)
        driver = resolve_driver(provider).for_api(self.api)
        target = Target(provider, name, driver, self._base_url_for(provider, driver), self._key_for(provider, driver))
        warn_if_insecure(provider, target.base_url, target.api_key)
        with self._lock:
            self._targets[model] = target
        return target

    def _key_for(self, provider: str, driver: ProviderDriver) -> str | None:
        if self._api_key and provider == self._provider:
            return check_key(self._api_key, "api_key", provider)
        for var in driver.api_key_env:
            value = os.environ.get(var)
            if value:
                return check_key(value, var, provider)
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
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:
            raise ConfigurationError(f"base_url {redact_url(url)!r} is not a valid URL: {exc}",
                                     provider=driver.name) from None
        if parts.scheme not in ("http", "https"):
            raise ConfigurationError(f"base_url {redact_url(url)!r} must start with http:// or https://",
                                     provider=driver.name)
        if not host:
            raise ConfigurationError(f"base_url {redact_url(url)!r} has no host; give e.g. "
                                     "'https://api.example.com/v1'", provider=driver.name)
        return url

    def _call(self, messages: Any, model: str | Unset, timeout: Any, max_retries: Any,
              params: dict[str, Any], *, stream: bool, stages: Iterable[Stage] | None = (),
              observers: Iterable[Observer] | None = ()) -> Call:
        if self._engine.closed:
            raise ConfigurationError(CLOSED)
        if "stream" in params:
            raise InvalidRequestError(_STREAM_KEYWORD[stream])
        target = self.target if isinstance(model, Unset) else self._resolve(model)
        # what the server asked for on an earlier call wins over the client's defaults,
        # not over this call's own arguments
        merged = {**self.default_params, **self._engine.remembered_params(target.base_url), **params}
        merged = {k: v for k, v in merged.items() if v is not None or k == "stream_options"}
        misplaced = _CLIENT_ONLY & params.keys()
        if misplaced:
            raise InvalidRequestError(
                f"{', '.join(sorted(misplaced))} belong to LLMClient(...), not to a call; create a client "
                "for another key or endpoint")
        validate_params(merged)
        spec = RequestSpec(target.model, normalize_messages(messages), merged, stream,
                           target.api_key, target.base_url, self.api)
        options = self.options if isinstance(timeout, Unset) else StreamingOptions.from_value(timeout, self.options)
        retry = self.retry_policy if isinstance(max_retries, Unset) else RetryPolicy.from_value(max_retries)
        own = self.stages
        if options is not self.options:  # a per-call max_cost_usd needs its own budget stage
            from .accounting import stages_for_call

            own = stages_for_call(own, options, self.options, self.pricing, self.budget)
        return Call(target, spec, options, retry, own + _checked_stages(stages),
                    self.observers + _checked_observers(observers))

    # -- sending ------------------------------------------------------------------------------
    def _deadline(self, call: Call) -> Deadline:
        opts = call.options
        return Deadline(read_timeout=opts.read_timeout, total_timeout=opts.total_timeout,
                        content_idle_timeout=opts.content_idle_timeout if call.spec.stream else None,
                        provider=call.target.provider, clock=self.clock)


_NOT_DEFAULTS = {
    "stream": "chat() returns a whole response and chat_stream() streams; choose the method instead",
    "messages": "pass the messages to each call (client.chat(messages))",
}


def _check_types(*, api_key: Any, base_url: Any, transport: Any, session: Any, clock: Any,
                 default_params: dict[str, Any]) -> None:
    """Refuse wrongly typed constructor arguments with a ConfigurationError (never an
    AttributeError at the first call)."""
    for name, value in (("api_key", api_key), ("base_url", base_url)):
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string, got {type(value).__name__}")
    if transport is not None and not (callable(getattr(transport, "send", None))
                                      and callable(getattr(transport, "close", None))):
        raise ConfigurationError(f"transport must have send(request, ...) and close() (a Transport such as "
                                 f"llm_connectivity.testing.MemoryTransport), got {type(transport).__name__}")
    if session is not None and not (callable(getattr(session, "request", None)) and hasattr(session, "mount")):
        raise ConfigurationError(f"session must be a requests.Session, got {type(session).__name__}")
    if not (callable(getattr(clock, "monotonic", None)) and callable(getattr(clock, "sleep", None))):
        raise ConfigurationError(f"clock must have monotonic() and sleep(seconds) (e.g. "
                                 f"llm_connectivity.testing.FakeClock), got {type(clock).__name__}")
    for name, fix in _NOT_DEFAULTS.items():
        if name in default_params:
            raise InvalidRequestError(f"{name} is not a default parameter of LLMClient(...): {fix}")


def _text_pieces(stream: ChatStream) -> Iterator[str]:
    with stream:
        for chunk in stream:
            if chunk.content:
                yield chunk.content


def _items(value: Any, name: str, wanted: str) -> tuple[Any, ...]:
    """``value`` (an iterable, or None for none) as a tuple; a ConfigurationError otherwise."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigurationError(f"{name} must be an iterable of {wanted}, got {type(value).__name__}")
    return tuple(value)


def _checked_stages(stages: Iterable[Stage] | None) -> tuple[Stage, ...]:
    result = _items(stages, "stages", "llm_connectivity.pipeline.Stage instances")
    for stage in result:
        if not isinstance(stage, Stage):
            raise ConfigurationError(f"stages must be llm_connectivity.pipeline.Stage instances, got {stage!r}; "
                                     "subclass Stage and override on_chunk / on_response")
    return result


def _checked_observers(observers: Iterable[Observer] | None) -> tuple[Observer, ...]:
    result = _items(observers, "observers", "callables taking a Notice")
    for observer in result:
        if not callable(observer):
            raise ConfigurationError(f"observers must be callables taking a Notice, got {observer!r}")
    return result


def _output_limit(params: dict[str, Any]) -> int | None:
    """The request's output-token limit under any of its spellings, or None."""
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
