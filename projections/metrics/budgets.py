"""Budgets and reservations: the limits, the errors, and how spend and reservations are checked against them.

A budget limits spend over a rolling window of ``period_hours`` ending at now, ``now - period < t
<= now``: it includes its end instant (a cost stamped now counts now, also under a frozen clock)
and excludes its start (consecutive windows of one period never share an event). Limits hold for
the total and for each category and agent limit. The checks here read the cost projection and the
time they are given; :class:`~projections.metrics.costs.CostTracker` records what they decide, and
records the budgets themselves (``BudgetSet``, ``BudgetRemoved``; :class:`CostBudget.to_event`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger import BudgetSet, LedgerError, to_epoch_us
from projections.metrics.cost_fold import CostProjection
from projections.metrics.reports import BudgetStatus


def money(value: Decimal | float | int | str) -> Decimal:
    # str() first: Decimal(0.1) would carry the float's binary error into the ledger.
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class CostBudget:
    """A spending limit over a rolling window ``now - period_hours < t <= now`` (``None``: all time).

    Within budget means spend <= limit, for the total and for every category and agent limit.
    Two budgets are equal when their values are (limits compare as numbers: ``1`` == ``"1.00"``).
    """

    name: str
    total_limit: Decimal
    period_hours: float | None = None
    category_limits: Mapping[str, Decimal] = field(default_factory=dict)
    agent_limits: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str = "USD"

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_limit", money(self.total_limit))
        object.__setattr__(self, "category_limits", {k: money(v) for k, v in self.category_limits.items()})
        object.__setattr__(self, "agent_limits", {k: money(v) for k, v in self.agent_limits.items()})
        if self.total_limit < 0:
            raise ValueError(f"budget '{self.name}': total_limit must not be negative")
        if self.period_hours is not None and self.period_hours <= 0:
            raise ValueError(f"budget '{self.name}': period_hours must be positive (or None for all time)")

    def to_event(self, occurred_at: datetime | None = None) -> BudgetSet:
        """The ``BudgetSet`` event that records this budget (at ``occurred_at``, default now)."""
        return BudgetSet(
            **({} if occurred_at is None else {"occurred_at": occurred_at}),
            budget=self.name,
            total_limit=self.total_limit,
            period_hours=self.period_hours,
            category_limits=dict(self.category_limits),
            agent_limits=dict(self.agent_limits),
            currency=self.currency,
        )


class UnknownBudgetError(LedgerError, KeyError):
    """No budget of that name was set."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        super().__init__(f"no budget named '{name}' (set ones: {', '.join(known) or 'none'})")

    def __str__(self) -> str:
        return str(self.args[0])


class BudgetExceededError(LedgerError):
    """A reservation would take a budget over a limit; nothing was reserved."""

    def __init__(
        self, budget: str, scope: str, limit: Decimal, committed: Decimal, requested: Decimal
    ) -> None:
        self.budget = budget
        self.scope = scope
        self.limit = limit
        self.committed = committed
        self.requested = requested
        super().__init__(
            f"budget '{budget}' ({scope}): {committed} spent or reserved + {requested} requested "
            f"exceeds the limit {limit}; nothing reserved"
        )


@dataclass(frozen=True)
class Reservation:
    """A granted reservation; pass it to a ``record_*_cost`` call or :meth:`CostTracker.release`."""

    reservation_id: UUID
    budget: str
    amount: Decimal
    expires_at: datetime | None


def budget_window(budget: CostBudget, now: datetime) -> tuple[int | None, int]:
    """The budget's window ``now - period < t <= now`` as half-open µs bounds ``[since, until)``.

    Event times are whole microseconds, so ``t > start`` is ``t >= start + 1µs`` and ``t <= now``
    is ``t < now + 1µs``. ``since`` is ``None`` for an all-time budget.
    """
    until = to_epoch_us(now) + 1
    if budget.period_hours is None:
        return None, until
    return to_epoch_us(now - timedelta(hours=budget.period_hours)) + 1, until


def breaches(p: CostProjection, budget: CostBudget, now: datetime) -> dict[str, tuple[Decimal, Decimal]]:
    """Scope (``total``, ``category:<c>``, ``agent:<a>``) → (limit, spend) of each limit spend exceeds."""
    since, until = budget_window(budget, now)
    limits: list[tuple[str, Decimal, str | None, str | None]] = [("total", budget.total_limit, None, None)]
    limits += [(f"category:{c}", v, c, None) for c, v in budget.category_limits.items()]
    limits += [(f"agent:{a}", v, None, a) for a, v in budget.agent_limits.items()]
    out = {}
    for scope, limit, category, agent in limits:
        spend = p.spend(
            currency=budget.currency,
            since_us=since,
            until_us=until,
            category=category,
            agent=agent,
        )
        if spend > limit:
            out[scope] = (limit, spend)
    return out


def budget_status(p: CostProjection, budget: CostBudget, now: datetime) -> BudgetStatus:
    """One budget's spend, reservations and verdict at ``now``."""
    since, until = budget_window(budget, now)
    spend = p.spend(currency=budget.currency, since_us=since, until_us=until)
    exceeded = breaches(p, budget, now)
    return BudgetStatus(
        name=budget.name,
        currency=budget.currency,
        limit=budget.total_limit,
        spend=spend,
        reserved=p.reserved(budget.name, now_us=to_epoch_us(now)),
        period_hours=budget.period_hours,
        within_budget=not exceeded,
        breaches=[f"{scope}: spent {spend_} > limit {limit}" for scope, (limit, spend_) in exceeded.items()],
    )


def check_reservation(
    p: CostProjection,
    b: CostBudget,
    budget: str,
    requested: Decimal,
    category: str | None,
    agent: str | None,
    now: datetime,
) -> int:
    """The budget stream's version a reservation of ``requested`` was checked at.

    Raises:
        BudgetExceededError: spend plus live reservations plus ``requested`` exceeds the total,
            the category's or the agent's limit.
    """
    version = p.budget_versions.get(budget, 0)
    since, until = budget_window(b, now)
    checks: list[tuple[str, Decimal, str | None, str | None]] = [("total", b.total_limit, None, None)]
    if category is not None and category in b.category_limits:
        checks.append((f"category:{category}", b.category_limits[category], category, None))
    if agent is not None and agent in b.agent_limits:
        checks.append((f"agent:{agent}", b.agent_limits[agent], None, agent))
    for scope, limit, cat, ag in checks:
        committed = p.spend(
            currency=b.currency, since_us=since, until_us=until, category=cat, agent=ag
        ) + p.reserved(budget, now_us=to_epoch_us(now), category=cat, agent=ag)
        if committed + requested > limit:
            raise BudgetExceededError(budget, scope, limit, committed, requested)
    return version
