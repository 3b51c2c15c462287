"""The guide's cost tracking: exact LLM and tool costs, budgets over rolling windows, reservations.

``CostTracker`` records costs as events (LLM tokens priced with an effective-dated table, the
price version kept), reports from the cost projection, and guards budgets: a breach is
recorded once when spend crosses a limit, and reservations are appended with optimistic
concurrency on the budget's own stream, so concurrent spenders can never jointly exceed it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger import (
    BudgetBreached,
    BudgetReservationReleased,
    BudgetReserved,
    Clock,
    CostIncurred,
    Ledger,
    LedgerError,
    VersionConflictError,
    as_utc,
    new_event_id,
    utc_now,
)
from projections.fold.bound import Facade
from projections.fold.projection import dt_to_us
from projections.fold.storage import MetricStorage
from projections.metrics.cost_fold import CostProjection
from projections.metrics.pricing import PriceTable
from projections.metrics.reports import BudgetStatus, CostReport


def _money(value: Decimal | float | int | str) -> Decimal:
    # str() first: Decimal(0.1) would carry the float's binary error into the ledger.
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class CostBudget:
    """A spending limit over a rolling window ``[now - period_hours, now)`` (all time if ``None``).

    Within budget means spend <= limit, for the total and for every category and agent limit.
    """

    name: str
    total_limit: Decimal
    period_hours: float | None = None
    category_limits: Mapping[str, Decimal] = field(default_factory=dict)
    agent_limits: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str = "USD"

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_limit", _money(self.total_limit))
        object.__setattr__(self, "category_limits", {k: _money(v) for k, v in self.category_limits.items()})
        object.__setattr__(self, "agent_limits", {k: _money(v) for k, v in self.agent_limits.items()})
        if self.total_limit < 0:
            raise ValueError(f"budget '{self.name}': total_limit must not be negative")
        if self.period_hours is not None and self.period_hours <= 0:
            raise ValueError(f"budget '{self.name}': period_hours must be positive (or None for all time)")


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


class CostTracker(Facade[CostProjection]):
    """LLM and tool costs, budgets and reservations (the guide's "Cost Tracking")."""

    projection_type = CostProjection

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        prices: PriceTable | None = None,
        currency: str = "USD",
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        self.prices = prices or PriceTable()
        self.currency = currency
        self.budgets: dict[str, CostBudget] = {}

    def set_budget(self, budget: CostBudget) -> None:
        """Add or replace a budget (by name)."""
        self.budgets[budget.name] = budget

    def _budget(self, name: str) -> CostBudget:
        try:
            return self.budgets[name]
        except KeyError:
            raise UnknownBudgetError(name, sorted(self.budgets)) from None

    # -- recording ----------------------------------------------------------------------------

    def record_llm_cost(
        self,
        agent: str,
        prompt_tokens: int,
        completion_tokens: int,
        model: str,
        workflow_id: str | None = None,
        *,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        reservation: Reservation | None = None,
        occurred_at: datetime | None = None,
    ) -> CostIncurred:
        """Price tokens with the table in force at ``occurred_at`` and append the cost.

        An unknown model is recorded as ``unpriced`` with its tokens kept, never as $0.
        """
        at = as_utc(occurred_at) if occurred_at is not None else self.now()
        price = self.prices.lookup(model, at)
        amount = None
        if price is not None:
            amount = price.cost(
                prompt_tokens,
                completion_tokens,
                cached_tokens,
                cache_write_tokens,
                reasoning_tokens,
            )
        event = CostIncurred(
            agent=agent,
            workflow_id=workflow_id,
            category="llm",
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
            amount=amount,
            currency=price.currency if price is not None else self.currency,
            price_version=price.version if price is not None else None,
            status="priced" if price is not None else "unpriced",
            occurred_at=at,
        )
        self._record(event, reservation)
        return event

    def record_tool_cost(
        self,
        agent: str,
        tool_name: str,
        cost: Decimal | float | str,
        workflow_id: str | None = None,
        *,
        category: str = "tool",
        reservation: Reservation | None = None,
        occurred_at: datetime | None = None,
    ) -> CostIncurred:
        """Append a tool's cost (an exact amount in the tracker's currency)."""
        event = CostIncurred(
            agent=agent,
            workflow_id=workflow_id,
            category=category,
            tool=tool_name,
            amount=_money(cost),
            currency=self.currency,
            status="priced",
            occurred_at=as_utc(occurred_at) if occurred_at is not None else self.now(),
        )
        self._record(event, reservation)
        return event

    def _record(self, event: CostIncurred, reservation: Reservation | None) -> None:
        with self._lock:
            self._record_locked(event, reservation)

    def _record_locked(self, event: CostIncurred, reservation: Reservation | None) -> None:
        # Spend is judged over [now - period, now). A cost stamped "now" falls at the window's
        # open end, so the check after it looks just past the newer of now and the cost.
        now = self.now()
        after = max(now, event.occurred_at) + timedelta(microseconds=1)
        before = {name: self._breaches(b, now) for name, b in self.budgets.items()}
        batch: list[CostIncurred | BudgetReservationReleased] = [event]
        if reservation is not None:
            batch.append(
                BudgetReservationReleased(
                    budget=reservation.budget,
                    reservation_id=reservation.reservation_id,
                    settled_amount=event.amount,
                    occurred_at=event.occurred_at,
                )
            )
        self.ledger.append(batch)
        # A breach is recorded once, when spend crosses a limit (not again on every later cost).
        breaches = []
        for name, budget in self.budgets.items():
            for scope, (limit, spend) in self._breaches(budget, after).items():
                if scope not in before[name]:
                    breaches.append(
                        BudgetBreached(
                            budget=name,
                            scope=scope,
                            limit=limit,
                            spend=spend,
                            currency=budget.currency,
                            occurred_at=self.now(),
                        )
                    )
        if breaches:
            self.ledger.append(breaches)

    # -- budgets ------------------------------------------------------------------------------

    def _window(self, budget: CostBudget, now: datetime | None = None) -> tuple[int | None, int]:
        now = now or self.now()
        since = None if budget.period_hours is None else now - timedelta(hours=budget.period_hours)
        return dt_to_us(since), dt_to_us(now) or 0

    def _breaches(
        self, budget: CostBudget, now: datetime | None = None
    ) -> dict[str, tuple[Decimal, Decimal]]:
        p = self.projection()
        since, until = self._window(budget, now)
        limits: list[tuple[str, Decimal, str | None, str | None]] = [
            ("total", budget.total_limit, None, None)
        ]
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

    def budget_status(self, name: str) -> BudgetStatus:
        """Return one budget's spend, reservations and verdict now."""
        with self._lock:
            return self._budget_status(name)

    def _budget_status(self, name: str) -> BudgetStatus:
        budget = self._budget(name)
        p = self.projection()
        since, until = self._window(budget)
        spend = p.spend(currency=budget.currency, since_us=since, until_us=until)
        breaches = self._breaches(budget)
        return BudgetStatus(
            name=name,
            currency=budget.currency,
            limit=budget.total_limit,
            spend=spend,
            reserved=p.reserved(name, now_us=until),
            period_hours=budget.period_hours,
            within_budget=not breaches,
            breaches=[
                f"{scope}: spent {spend_} > limit {limit}" for scope, (limit, spend_) in breaches.items()
            ],
        )

    def is_within_budget(self, name: str | None = None) -> bool:
        """True when the named budget (or every budget) has spend <= each of its limits."""
        names = [name] if name is not None else list(self.budgets)
        return all(self.budget_status(n).within_budget for n in names)

    def reserve(
        self,
        budget: str,
        amount: Decimal | float | str,
        *,
        category: str | None = None,
        agent: str | None = None,
        ttl_seconds: float = 300.0,
        max_attempts: int = 50,
    ) -> Reservation:
        """Reserve an estimated cost, or raise :class:`BudgetExceededError`.

        Reservations of one budget are appended to its own stream with the version the check
        was made against, so concurrent reservers — in any process — can never jointly exceed
        the limit: a loser of the race re-checks against the winner's reservation.
        """
        b = self._budget(budget)
        requested = _money(amount)
        if not requested.is_finite() or requested <= 0:
            raise ValueError(f"budget '{budget}': a reservation must be a positive amount, got {requested}")
        for _ in range(max_attempts):
            with self._lock:
                p = self.projection()
                checked = self._check_reservation(p, b, budget, requested, category, agent, ttl_seconds)
            version, expires = checked
            event = BudgetReserved(
                budget=budget,
                reservation_id=new_event_id(),
                amount=requested,
                currency=b.currency,
                category=category,
                agent=agent,
                expires_at=expires,
                occurred_at=self.now(),
            )
            try:
                self.ledger.append(event, expected_version=version)
            except VersionConflictError:
                continue
            return Reservation(event.reservation_id, budget, requested, expires)
        raise LedgerError(f"budget '{budget}': could not reserve after {max_attempts} conflicting attempts")

    def _check_reservation(
        self,
        p: CostProjection,
        b: CostBudget,
        budget: str,
        requested: Decimal,
        category: str | None,
        agent: str | None,
        ttl_seconds: float = 300.0,
    ) -> tuple[int, datetime]:
        version = p.budget_versions.get(budget, 0)
        since, until = self._window(b)
        checks: list[tuple[str, Decimal, str | None, str | None]] = [("total", b.total_limit, None, None)]
        if category is not None and category in b.category_limits:
            checks.append((f"category:{category}", b.category_limits[category], category, None))
        if agent is not None and agent in b.agent_limits:
            checks.append((f"agent:{agent}", b.agent_limits[agent], None, agent))
        for scope, limit, cat, ag in checks:
            committed = p.spend(
                currency=b.currency, since_us=since, until_us=until, category=cat, agent=ag
            ) + p.reserved(budget, now_us=until, category=cat, agent=ag)
            if committed + requested > limit:
                raise BudgetExceededError(budget, scope, limit, committed, requested)
        return version, self.now() + timedelta(seconds=ttl_seconds)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation that was not used."""
        self.ledger.append(
            BudgetReservationReleased(
                budget=reservation.budget,
                reservation_id=reservation.reservation_id,
                occurred_at=self.now(),
            )
        )

    # -- reports ------------------------------------------------------------------------------

    def report(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        as_of: int | None = None,
    ) -> CostReport:
        """Return costs over ``[since, until)`` with the state of every budget now."""

        def run(p: CostProjection) -> CostReport:
            since_us, until_us = self.window(p, since, until)
            return p.report(currency=self.currency, since_us=since_us, until_us=until_us)

        base = self.compute(run, as_of)
        with self._lock:
            budgets = [self.budget_status(n) for n in sorted(self.budgets)]
        return base.model_copy(update={"budgets": budgets})

    def get_report(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        as_of: int | None = None,
    ) -> CostReport:
        """The guide's name for :meth:`report` (synchronous, as in the guide)."""
        return self.report(since, until, as_of=as_of)
