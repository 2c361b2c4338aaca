"""Budgets in US dollars: a per-stream cost limit and a client-wide budget.

- ``StreamingOptions(max_cost_usd=...)``: a stream whose running cost (the prompt
  estimate plus the completion received so far, at the model's prices) passes the limit
  is stopped: its connection is closed and :class:`BudgetExceededError` is raised with the
  partial answer in ``partial_response``.
- ``LLMClient(budget_usd=...)``: one :class:`Budget` that every call of the client, from
  every thread, draws on while it streams; a call that would start on a spent budget is
  refused before anything is sent, and a running stream stops when the budget runs out.

A budget needs a price: a model without one raises ``ConfigurationError`` before any I/O
(pass ``pricing={"provider/model": {...}}``).
"""

from __future__ import annotations

import threading

from .errors import ConfigurationError, LLMError
from .pricing import ModelPrice, Pricing
from .usage import UsageTracker

__all__ = ["Budget", "BudgetExceededError", "CostMeter"]


class BudgetExceededError(LLMError):
    """A cost limit was reached: ``scope`` is ``"stream"`` (``max_cost_usd``) or
    ``"client"`` (``budget_usd``); ``limit_usd`` and ``spent_usd`` say by how much.
    Raised mid-stream, it carries ``partial_response`` (the answer so far)."""

    def __init__(self, message: str, *, provider: str | None = None, scope: str = "stream",
                 limit_usd: float = 0.0, spent_usd: float = 0.0) -> None:
        super().__init__(message, provider=provider)
        self.scope = scope
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd


def _check_amount(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{name} must be a positive number of US dollars, got {value!r}")
    return float(value)


class Budget:
    """A USD budget shared by many calls and threads (all methods are thread-safe)."""

    def __init__(self, limit_usd: float) -> None:
        self.limit_usd = _check_amount("budget_usd", limit_usd)
        self._spent = 0.0
        self._lock = threading.Lock()

    @property
    def spent_usd(self) -> float:
        """Dollars drawn so far (running streams included)."""
        return self._spent

    @property
    def remaining_usd(self) -> float:
        """Dollars left (never below 0)."""
        return max(0.0, self.limit_usd - self._spent)

    def check(self, provider: str | None = None) -> None:
        """Refuse a new call when the budget is spent."""
        if self._spent >= self.limit_usd:
            raise self._error(provider)

    def charge(self, amount: float) -> bool:
        """Draw ``amount`` dollars (negative: give back an over-estimate); True while the
        budget is not exceeded."""
        with self._lock:
            self._spent += amount
            return self._spent <= self.limit_usd

    def _error(self, provider: str | None) -> BudgetExceededError:
        return BudgetExceededError(
            f"the client's budget of ${self.limit_usd:.4f} is spent (${self._spent:.4f} drawn); "
            "create a client with a larger budget_usd", provider=provider, scope="client",
            limit_usd=self.limit_usd, spent_usd=self._spent)

    def __repr__(self) -> str:
        return f"Budget(limit_usd={self.limit_usd}, spent_usd={self._spent:.6f})"


class CostMeter:
    """The running cost of one call, checked against its limit and the shared budget.

    :meth:`update` after each chunk recomputes the cost from ``tracker`` at ``rates`` and
    raises :class:`BudgetExceededError` past a limit; :meth:`settle` replaces the running
    figure by the final cost (so the shared budget ends up charged the real cost).
    """

    __slots__ = ("tracker", "rates", "max_cost_usd", "budget", "provider", "charged", "cost")

    def __init__(self, tracker: UsageTracker, rates: ModelPrice, *, max_cost_usd: float | None = None,
                 budget: Budget | None = None, provider: str | None = None) -> None:
        self.tracker = tracker
        self.rates = rates
        self.max_cost_usd = max_cost_usd
        self.budget = budget
        self.provider = provider
        self.charged = 0.0  # drawn from the shared budget so far
        self.cost = 0.0

    @classmethod
    def for_call(cls, tracker: UsageTracker, model: str, pricing: Pricing, *, max_cost_usd: float | None,
                 budget: Budget | None, provider: str | None) -> CostMeter | None:
        """A meter when a limit applies (None otherwise); ConfigurationError, before any
        I/O, when the model has no price."""
        if max_cost_usd is None and budget is None:
            return None
        if budget is not None:
            budget.check(provider)
        rates = pricing.rates(model)
        if rates is None:
            raise ConfigurationError(
                f"a cost limit is set but {model} has no known price; pass "
                f"pricing={{{model!r}: {{'input': ..., 'output': ...}}}} (USD per million tokens)",
                provider=provider)
        return cls(tracker, rates, max_cost_usd=max_cost_usd, budget=budget, provider=provider)

    def running_cost(self) -> float:
        """USD for the prompt and the completion received so far."""
        tracker = self.tracker
        return (tracker.prompt_tokens * self.rates.input + tracker.completion_tokens * self.rates.output) / 1e6

    def update(self) -> float:
        """Recompute the cost; draw the increase from the budget; raise past a limit."""
        cost = self.running_cost()
        self.cost = cost
        within_budget = True
        if self.budget is not None and cost != self.charged:
            within_budget = self.budget.charge(cost - self.charged)
            self.charged = cost
        if self.max_cost_usd is not None and cost > self.max_cost_usd:
            raise BudgetExceededError(
                f"the stream's running cost ${cost:.6g} passed max_cost_usd=${self.max_cost_usd:.6g}; "
                "the stream was stopped", provider=self.provider, scope="stream",
                limit_usd=self.max_cost_usd, spent_usd=cost)
        if not within_budget:
            assert self.budget is not None
            raise self.budget._error(self.provider)
        return cost

    def settle(self, final_cost: float | None) -> None:
        """Charge the budget the final cost instead of the running estimate."""
        if self.budget is not None and final_cost is not None:
            self.budget.charge(final_cost - self.charged)
            self.charged = final_cost
