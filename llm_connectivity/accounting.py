"""Cost and budgets in the call pipeline: what every ``chat()`` and ``chat_stream()`` gets.

Every :class:`~llm_connectivity.client.LLMClient` puts :func:`client_stages` first in its
pipeline (see ``docs/pipeline.md``):

- :class:`CostStage` (always): sets ``cost_usd`` on the final response of ``chat()`` and
  of a completed stream (``stream.response``), from the client's prices. It only has an
  ``on_response``, so it costs nothing per chunk.
- :class:`BudgetStage` (only with ``StreamingOptions(max_cost_usd=...)`` on the client or
  ``LLMClient(budget_usd=...)``): after each chunk the running cost is checked; past a
  limit it raises :class:`~llm_connectivity.budget.BudgetExceededError`, which stops the
  stream (the engine closes the connection and attaches ``partial_response``). It also
  charges the shared budget the final cost.
- :class:`BudgetGuard` (when a limit applies): an observer that refuses a call at its
  ``start`` notice, before anything is sent, on a spent budget or for a model without a
  price.

``stream_with_usage`` accounts for the streams it drives itself (with its per-call
options), so these stand aside for them (:data:`handled_elsewhere`).
"""

from __future__ import annotations

import contextvars
import dataclasses
from typing import Any

from .budget import Budget, CostMeter
from .errors import ConfigurationError
from .models import ChatResponse, StreamChunk
from .options import StreamingOptions
from .pipeline import Notice, Stage, StreamContext
from .pricing import Pricing, default_pricing
from .usage import UsageTracker

__all__ = ["BudgetGuard", "BudgetStage", "CostStage", "client_observers", "client_stages", "handled_elsewhere"]

#: True while ``stream_with_usage`` drives a stream: it does the accounting itself.
handled_elsewhere: contextvars.ContextVar[bool] = contextvars.ContextVar("llm_connectivity_accounting",
                                                                         default=False)


def _model_of(context: StreamContext) -> str:
    return f"{context.info.provider}/{context.info.model}"


class CostStage(Stage):
    """``cost_usd`` on final responses (None when the model's price is unknown). Given the
    client's ``model``, its price is looked up in the background at once, so the first
    response is not delayed by loading the price tables."""

    def __init__(self, pricing: Pricing | None = None, *, model: str | None = None) -> None:
        self.pricing = pricing or default_pricing()
        self.warming = self.pricing.warm_up(model) if model else None

    def on_response(self, response: ChatResponse, context: StreamContext) -> ChatResponse:
        """Price the response's usage."""
        if handled_elsewhere.get() or response.cost_usd is not None:
            return response
        cost = self.pricing.cost(response.usage, _model_of(context))
        return dataclasses.replace(response, cost_usd=cost) if cost is not None else response


class BudgetStage(Stage):
    """Stops a stream at ``max_cost_usd`` and draws on the client's budget (see the module
    docstring). Runs after :class:`CostStage`, so it charges the priced final response."""

    def __init__(self, *, options: StreamingOptions, pricing: Pricing | None = None,
                 budget: Budget | None = None) -> None:
        self.options = options
        self.pricing = pricing or default_pricing()
        self.budget = budget

    def _meter(self, context: StreamContext) -> CostMeter | None:
        """The call's meter, made at its first chunk (None for streams handled elsewhere,
        and for a model without a price: :class:`BudgetGuard` refused those at start)."""
        if self in context.state:
            meter: CostMeter | None = context.state[self]
            return meter
        meter = None
        rates = None if handled_elsewhere.get() else self.pricing.rates(_model_of(context))
        if rates is not None:
            spec, info = context.spec, context.info
            tracker = UsageTracker(messages=spec.messages, tools=spec.params.get("tools"), model=_model_of(context),
                                   provider=info.provider, kind=self.options.aggregator_type,
                                   prefer_tiktoken=self.options.prefer_tiktoken, running=True)
            meter = CostMeter(tracker, rates, max_cost_usd=self.options.max_cost_usd, budget=self.budget,
                              provider=info.provider)
        context.state[self] = meter
        return meter

    def on_chunk(self, chunk: StreamChunk, context: StreamContext) -> StreamChunk:
        """Add the chunk to the running cost; raise past a limit."""
        meter = self._meter(context)
        if meter is not None and not chunk.is_complete:
            meter.tracker.add(chunk)
            meter.update()
        return chunk

    def on_response(self, response: ChatResponse, context: StreamContext) -> ChatResponse:
        """Charge the budget the final cost (replacing a stream's running figure)."""
        if handled_elsewhere.get():
            return response
        meter = context.state.get(self)
        if meter is not None:
            meter.settle(response.cost_usd)
        elif self.budget is not None and response.cost_usd is not None:
            self.budget.charge(response.cost_usd)
        return response


class BudgetGuard:
    """An observer: at a call's ``start`` notice, before anything is sent, refuses the call
    when the client's budget is spent, or when a limit applies to a model without a price."""

    def __init__(self, pricing: Pricing | None, budget: Budget | None) -> None:
        self.pricing = pricing or default_pricing()
        self.budget = budget

    def __call__(self, notice: Notice) -> None:
        if notice.kind != "start" or handled_elsewhere.get():
            return
        provider = notice.call.provider
        if self.budget is not None:
            self.budget.check(provider)
        model = f"{provider}/{notice.call.model}"
        if self.pricing.rates(model) is None:
            raise ConfigurationError(
                f"a cost limit is set but {model} has no known price; pass "
                f"pricing={{{model!r}: {{'input': ..., 'output': ...}}}} (USD per million tokens)",
                provider=provider)


def _limited(options: StreamingOptions, budget: Budget | None) -> bool:
    return options.max_cost_usd is not None or budget is not None


def client_stages(options: StreamingOptions, pricing: Pricing | None, budget: Budget | None,
                  model: str | None = None) -> tuple[Stage, ...]:
    """The stages a client puts before its own: cost always, the budget stage when a
    limit applies. ``model``: the client's model, whose price is loaded in the background."""
    stages: list[Stage] = [CostStage(pricing, model=model)]
    if _limited(options, budget):
        stages.append(BudgetStage(options=options, pricing=pricing, budget=budget))
    return tuple(stages)


def client_observers(options: StreamingOptions, pricing: Pricing | None, budget: Budget | None) -> tuple[Any, ...]:
    """The observers a client adds: the guard when a limit applies."""
    return (BudgetGuard(pricing, budget),) if _limited(options, budget) else ()
