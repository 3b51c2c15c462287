"""Budgets back-tested: the recorded spend walked in ledger order under other limits.

Two questions, each with the budget rules of ``projections.metrics`` (a rolling window
``now - period < t <= now``; total, category and agent limits; priced spend in the budget's
currency, replay runs included — budgets judge every dollar, as ``CostTracker`` does):

- **when it would have been exceeded**: each time recorded spend crosses a limit, as
  ``CostTracker`` records a ``BudgetBreached`` (once per crossing, with the spend after the cost
  that crossed it). Under the recorded budgets these are the recorded breaches.
- **what enforcing it would have refused**: a cost that would take admitted spend over a limit
  is refused and its workflow stopped — every later cost of a stopped workflow is refused too,
  since the workflow would not have run on; refused spend is not spent.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import msgspec

from ledger import BudgetBreached, from_epoch_us
from projections.fold import Handler, fields_of
from projections.metrics import BudgetProjection, CostBudget, CostProjection
from replay.backtest.config import BudgetSetting
from replay.backtest.scan import Collector

ZERO = Decimal(0)
HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class Cost:
    """One priced cost as a budget sees it."""

    t: int
    amount: Decimal
    currency: str
    category: str | None
    agent: str | None
    workflow_id: str | None


@fields_of(BudgetBreached)
class BreachedFields(msgspec.Struct, frozen=True):
    """What the budget back-test reads of a ``BudgetBreached``."""

    budget: str
    limit: str | int | float
    spend: str | int | float
    scope: str | None = None


class BudgetCollector(Collector):
    """Priced costs, budget changes and recorded breaches in ledger order, and workflow outcomes."""

    name = "backtest_budgets"
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "CostIncurred": CostProjection.structs["CostIncurred"],
        "WorkflowCompleted": CostProjection.structs["WorkflowCompleted"],
        "BudgetBreached": BreachedFields,
        **BudgetProjection.structs,
    }

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[Cost | tuple[str, CostBudget | None]] = []  # costs and (name, set/removed)
        self.breaches: list[tuple[int, str, str, Decimal, Decimal]] = []  # (t, budget, scope, limit, spend)
        self.outcomes: dict[str, bool] = {}
        self.names: set[str] = set()
        self._budgets = BudgetProjection()

    def _handlers(self) -> dict[str, Handler]:
        return {
            "CostIncurred": self._cost,
            "WorkflowCompleted": self._completed,
            "BudgetBreached": self._breached,
            "BudgetSet": self._set,
            "BudgetRemoved": self._removed,
        }

    def _cost(self, t: int, e: Any) -> None:
        if e.status == "priced" and e.amount is not None:
            amount = Decimal(str(e.amount))
            self.entries.append(Cost(t, amount, e.currency or "USD", e.category, e.agent, e.workflow_id))

    def _completed(self, t: int, e: Any) -> None:
        if e.workflow_id is not None:
            self.outcomes[e.workflow_id] = e.success

    def _breached(self, t: int, e: Any) -> None:
        self.names.add(e.budget)
        self.breaches.append((t, e.budget, e.scope or "total", Decimal(str(e.limit)), Decimal(str(e.spend))))

    def _set(self, t: int, e: Any) -> None:
        # The budget fold's own handler turns the event into its CostBudget.
        self._budgets.handlers["BudgetSet"](t, e)
        self.names.add(e.budget)
        self.entries.append((e.budget, self._budgets.budgets[e.budget]))

    def _removed(self, t: int, e: Any) -> None:
        self._budgets.handlers["BudgetRemoved"](t, e)
        self.names.add(e.budget)
        self.entries.append((e.budget, None))

    def latest(self) -> dict[str, CostBudget]:
        """The budgets in force at the end of the window, by name."""
        return dict(self._budgets.budgets)


class _Window:
    """Spend in a rolling window ``(t - period, t]`` over costs appended in ledger order."""

    def __init__(self) -> None:
        self.times: list[int] = []
        self.prefix: list[Decimal] = [ZERO]
        self.ordered = True

    def add(self, t: int, amount: Decimal) -> None:
        if self.times and t < self.times[-1]:
            self.ordered = False
        self.times.append(t)
        self.prefix.append(self.prefix[-1] + amount)

    def spend(self, t: int, period_us: int | None) -> Decimal:
        if self.ordered:
            lo = 0 if period_us is None else bisect.bisect_right(self.times, t - period_us)
            hi = bisect.bisect_right(self.times, t)
            return self.prefix[hi] - self.prefix[lo]
        start = None if period_us is None else t - period_us
        return sum(
            (
                self.prefix[i + 1] - self.prefix[i]
                for i, ti in enumerate(self.times)
                if ti <= t and (start is None or ti > start)
            ),
            ZERO,
        )


class _Spend:
    """Windows of every cost by (currency, scope), whatever budget is in force: a budget set
    later judges the spend made before it too, as the tracker's does."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str], _Window] = {}

    def add(self, cost: Cost) -> None:
        for scope in _keys(cost):
            w = self.windows.get((cost.currency, scope))
            if w is None:
                w = self.windows[cost.currency, scope] = _Window()
            w.add(cost.t, cost.amount)

    def spend(self, currency: str, scope: str, t: int, period_us: int | None) -> Decimal:
        w = self.windows.get((currency, scope))
        return ZERO if w is None else w.spend(t, period_us)


def _keys(cost: Cost) -> Iterator[str]:
    yield "total"
    if cost.category is not None:
        yield f"category:{cost.category}"
    if cost.agent is not None:
        yield f"agent:{cost.agent}"


def _scopes(budget: CostBudget, cost: Cost) -> Iterator[tuple[str, Decimal]]:
    yield "total", budget.total_limit
    if cost.category is not None and cost.category in budget.category_limits:
        yield f"category:{cost.category}", budget.category_limits[cost.category]
    if cost.agent is not None and cost.agent in budget.agent_limits:
        yield f"agent:{cost.agent}", budget.agent_limits[cost.agent]


@dataclass(frozen=True)
class BudgetOutcome:
    """What a budget would have done over the window, beside what was recorded.

    Attributes:
        name: the budget.
        budget: the limits decided with (``None``: as recorded, changing when they did).
        breaches: ``(time, scope, limit, spend)`` each time spend would have crossed a limit.
        recorded_breaches: the same, as recorded (``BudgetBreached``) in the window.
        refused_costs: costs enforcing it would have refused.
        refused_spend: their total.
        workflows_stopped: workflows it would have stopped.
        stopped_succeeded: of those, the ones that succeeded in reality.
        stopped_failed: the ones that failed in reality.
    """

    name: str
    budget: CostBudget | None
    breaches: tuple[tuple[int, str, Decimal, Decimal], ...]
    recorded_breaches: tuple[tuple[int, str, Decimal, Decimal], ...]
    refused_costs: int
    refused_spend: Decimal
    workflows_stopped: int
    stopped_succeeded: int
    stopped_failed: int

    @property
    def same_as_recorded(self) -> bool:
        """Whether it crosses exactly the recorded limits, at the recorded times, with the recorded spend."""
        return self.breaches == self.recorded_breaches

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON (money as decimal strings)."""

        def rows(items: tuple[tuple[int, str, Decimal, Decimal], ...]) -> list[dict[str, str]]:
            return [
                {"at": from_epoch_us(t).isoformat(), "scope": s, "limit": str(lim), "spend": str(sp)}
                for t, s, lim, sp in items
            ]

        b = self.budget
        return {
            "name": self.name,
            "budget": None
            if b is None
            else {
                "total_limit": str(b.total_limit),
                "period_hours": b.period_hours,
                "category_limits": {k: str(v) for k, v in b.category_limits.items()},
                "agent_limits": {k: str(v) for k, v in b.agent_limits.items()},
                "currency": b.currency,
            },
            "first_exceeded": rows(self.breaches[:1])[0]["at"] if self.breaches else None,
            "breaches": rows(self.breaches),
            "recorded_breaches": rows(self.recorded_breaches),
            "same_as_recorded": self.same_as_recorded,
            "refused_costs": self.refused_costs,
            "refused_spend": str(self.refused_spend),
            "workflows_stopped": self.workflows_stopped,
            "stopped_succeeded": self.stopped_succeeded,
            "stopped_failed": self.stopped_failed,
        }


def simulate(collected: BudgetCollector, setting: BudgetSetting) -> BudgetOutcome:
    """Walk the collected costs under the setting's budget (or the recorded ones of its name)."""
    budget = setting.budget
    spent, admitted = _Spend(), _Spend()
    breaches: list[tuple[int, str, Decimal, Decimal]] = []
    refused = 0
    refused_spend = ZERO
    stopped: set[str] = set()
    for entry in collected.entries:
        if not isinstance(entry, Cost):
            if setting.budget is None and entry[0] == setting.name:
                budget = entry[1]  # the recorded limits from now on (None: removed)
            continue
        cost = entry
        if budget is None or cost.currency != budget.currency:
            spent.add(cost)
            admitted.add(cost)
            continue
        period = None if budget.period_hours is None else round(budget.period_hours * HOUR_US)
        blocked = cost.workflow_id is not None and cost.workflow_id in stopped
        scopes = list(_scopes(budget, cost))
        before = [spent.spend(cost.currency, scope, cost.t, period) for scope, _ in scopes]
        spent.add(cost)
        for (scope, limit), was in zip(scopes, before, strict=True):
            now = spent.spend(cost.currency, scope, cost.t, period)
            if was <= limit < now:
                breaches.append((cost.t, scope, limit, now))
            if not blocked and admitted.spend(cost.currency, scope, cost.t, period) + cost.amount > limit:
                blocked = True
        if blocked:
            refused += 1
            refused_spend += cost.amount
            if cost.workflow_id is not None:
                stopped.add(cost.workflow_id)
        else:
            admitted.add(cost)
    recorded = tuple((t, s, lim, sp) for t, b, s, lim, sp in collected.breaches if b == setting.name)
    outcomes = [collected.outcomes.get(w) for w in stopped]
    return BudgetOutcome(
        name=setting.name,
        budget=setting.budget,
        breaches=tuple(breaches),
        recorded_breaches=recorded,
        refused_costs=refused,
        refused_spend=refused_spend,
        workflows_stopped=len(stopped),
        stopped_succeeded=sum(1 for o in outcomes if o is True),
        stopped_failed=sum(1 for o in outcomes if o is False),
    )
