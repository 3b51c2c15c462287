"""The guide's cost tracking: exact LLM and tool costs recorded as events, budgets guarded as they are spent.

``CostTracker`` records costs as events (LLM tokens priced with an effective-dated table, the
price version kept), reports from the cost projection, and guards budgets (``budgets.py``): a
breach is recorded once when spend crosses a limit, and reservations are appended with
optimistic concurrency on the budget's own stream, so concurrent spenders can never jointly
exceed it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

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
from projections.fold.storage import MetricStorage
from projections.metrics.budgets import (
    CostBudget,
    Reservation,
    UnknownBudgetError,
    breaches,
    budget_status,
    check_reservation,
    money,
)
from projections.metrics.cost_fold import CostProjection
from projections.metrics.pricing import PriceTable
from projections.metrics.reports import BudgetStatus, CostReport


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
            amount=money(cost),
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

    def _breaches(
        self, budget: CostBudget, now: datetime | None = None
    ) -> dict[str, tuple[Decimal, Decimal]]:
        return breaches(self.projection(), budget, now or self.now())

    def budget_status(self, name: str) -> BudgetStatus:
        """Return one budget's spend, reservations and verdict now."""
        with self._lock:
            return self._budget_status(name)

    def _budget_status(self, name: str) -> BudgetStatus:
        return budget_status(self.projection(), self._budget(name), self.now())

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
        requested = money(amount)
        if not requested.is_finite() or requested <= 0:
            raise ValueError(f"budget '{budget}': a reservation must be a positive amount, got {requested}")
        for _ in range(max_attempts):
            with self._lock:
                now = self.now()
                version = check_reservation(self.projection(), b, budget, requested, category, agent, now)
            expires = now + timedelta(seconds=ttl_seconds)
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
        include_replays: bool = False,
    ) -> CostReport:
        """Return costs over ``[since, until)`` with the state of every budget now.

        Costs of replay workflows are left out unless ``include_replays``.
        """

        def run(p: CostProjection) -> CostReport:
            since_us, until_us = self.window(p, since, until)
            return p.report(
                currency=self.currency, since_us=since_us, until_us=until_us, include_replays=include_replays
            )

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
