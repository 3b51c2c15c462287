"""The guide's cost tracking: exact LLM and tool costs recorded as events, budgets guarded as they are spent.

``CostTracker`` records costs as events (LLM tokens priced with an effective-dated table, the
price version kept), reports from the cost projection, and guards budgets (``budgets.py``): a
breach is recorded once when spend crosses a limit, and reservations are appended with
optimistic concurrency on the budget's own stream, so concurrent spenders can never jointly
exceed it. Budgets themselves are events (``BudgetSet``, ``BudgetRemoved``, folded by
``budget_fold.py``), so every tracker on the ledger, in any process, judges by the same ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from ledger import (
    BudgetBreached,
    BudgetRemoved,
    BudgetReservationReleased,
    BudgetReserved,
    Clock,
    CostIncurred,
    Ledger,
    LedgerError,
    LedgerEvent,
    VersionConflictError,
    as_utc,
    new_event_id,
    utc_now,
)
from projections.fold.bound import Facade, fold_new
from projections.fold.runner import fold_range
from projections.fold.storage import MetricStorage
from projections.metrics.budget_fold import BudgetProjection
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

MAX_ATTEMPTS = 100


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
        self._budgets = BudgetProjection()
        self._overrides: dict[str, CostBudget] = {}  # set with record=False: this tracker only

    # -- budgets in force -----------------------------------------------------------------------

    def set_budget(self, budget: CostBudget, *, record: bool = True) -> None:
        """Add or replace a budget (by name), recorded in the ledger for every tracker on it.

        Setting a budget the ledger holds with the same values appends nothing; a change is a new
        ``BudgetSet``, decided at the version of its limits (a concurrent change decides again).

        Args:
            budget: the budget.
            record: ``False`` keeps it for this tracker only (an override of the ledger's budget of
                that name); nothing is appended. :meth:`overriding` holds overrides for one block.
        """
        with self._lock:
            if not record:
                self._overrides[budget.name] = budget
                return
            self._overrides.pop(budget.name, None)
            self._change_budget(budget.name, lambda: budget.to_event(self.now()), budget)

    @contextlib.contextmanager
    def overriding(self, budgets: Iterable[CostBudget]) -> Iterator[None]:
        """Hold ``budgets`` as overrides (``record=False``) in the block; the earlier ones after it."""
        with self._lock:
            before, self._overrides = self._overrides, {**self._overrides, **{b.name: b for b in budgets}}
        try:
            yield
        finally:
            self._overrides = before  # one reference swap: atomic, the lock adds nothing

    def remove_budget(self, name: str) -> None:
        """Remove a budget: a ``BudgetRemoved`` event (or, for one kept for this tracker only, forget it).

        Raises:
            UnknownBudgetError: no budget of that name is set.
        """
        with self._lock:
            dropped = self._overrides.pop(name, None)
            if name not in self._ledger_budgets():
                if dropped is None:
                    raise UnknownBudgetError(name, sorted(self.get_budgets()))
                return
            self._change_budget(name, lambda: BudgetRemoved(budget=name, occurred_at=self.now()), None)

    def _change_budget(self, name: str, event: Callable[[], LedgerEvent], after: CostBudget | None) -> None:
        for _ in range(MAX_ATTEMPTS):
            if self._ledger_budgets().get(name) == after:
                return
            stream = f"budget-limits:{name}"
            try:
                self.ledger.append(event(), expected_version={stream: self._budgets.versions.get(name, 0)})
            except VersionConflictError:
                continue
            return
        raise LedgerError(f"budget '{name}': no change after {MAX_ATTEMPTS} conflicting writes")

    def _ledger_budgets(self) -> dict[str, CostBudget]:
        with self._lock:
            fold_new(self.ledger, self._budgets)
            return self._budgets.budgets

    def get_budgets(self) -> dict[str, CostBudget]:
        """The budgets in force, by name: the ledger's, with this tracker's own overrides on top."""
        with self._lock:
            return dict(sorted({**self._ledger_budgets(), **self._overrides}.items()))

    @property
    def budgets(self) -> dict[str, CostBudget]:
        """The budgets in force (:meth:`get_budgets`)."""
        return self.get_budgets()

    def _budget(self, name: str) -> CostBudget:
        budgets = self.get_budgets()
        try:
            return budgets[name]
        except KeyError:
            raise UnknownBudgetError(name, sorted(budgets)) from None

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
        # Spend is judged over (now - period, now]; a cost stamped later than now (given
        # occurred_at) is judged by the window ending at it.
        now = self.now()
        after = max(now, event.occurred_at)
        budgets = self.get_budgets()
        before = {name: self._breaches(b, now) for name, b in budgets.items()}
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
        for name, budget in budgets.items():
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

    def get_budget_status(self, name: str) -> BudgetStatus:
        """The guide-style name of :meth:`budget_status`."""
        return self.budget_status(name)

    def _budget_status(self, name: str) -> BudgetStatus:
        return budget_status(self.projection(), self._budget(name), self.now())

    def is_within_budget(self, name: str | None = None) -> bool:
        """True when the named budget (or every budget in force) has spend <= each of its limits."""
        names = [name] if name is not None else list(self.get_budgets())
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
        self._budget(budget)  # an unknown name is the first error
        requested = money(amount)
        if not requested.is_finite() or requested <= 0:
            raise ValueError(f"budget '{budget}': a reservation must be a positive amount, got {requested}")
        for _ in range(max_attempts):
            with self._lock:
                now = self.now()
                b = self._budget(budget)
                # Checked against these limits: a concurrent change of them makes it check again.
                versions = {f"budget-limits:{budget}": self._budgets.versions.get(budget, 0)}
                versions[f"budget:{budget}"] = check_reservation(
                    self.projection(), b, budget, requested, category, agent, now
                )
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
                self.ledger.append(event, expected_version=versions)
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

        Costs of replay workflows are left out unless ``include_replays``. ``as_of`` judges the
        budgets as of that offset too: those the ledger held then (and this tracker's overrides),
        their spend and reservations folded through it, each window ending at the ``occurred_at``
        of the last event at that offset (the ledger's "now" then).
        """

        def run(p: CostProjection) -> CostReport:
            since_us, until_us = self.window(p, since, until)
            report = p.report(
                currency=self.currency, since_us=since_us, until_us=until_us, include_replays=include_replays
            )
            if as_of is None:
                return report
            budgets, now = self._as_of(p.position)
            return report.model_copy(update={"budgets": [budget_status(p, b, now) for b in budgets]})

        base = self.compute(run, as_of)
        if as_of is not None:
            return base
        with self._lock:
            budgets = [self._budget_status(n) for n in self.get_budgets()]
        return base.model_copy(update={"budgets": budgets})

    def _as_of(self, offset: int) -> tuple[list[CostBudget], datetime]:
        """The budgets in force at ``offset``, by name, and that offset's "now" (its event's time)."""
        held = BudgetProjection()
        fold_range(self.ledger, [held], through=offset)
        last = next(iter(self.ledger.read(after=offset - 1, through=offset)), None)
        now = last.event.occurred_at if last is not None else self.now()
        with self._lock:
            budgets = {**held.budgets, **self._overrides}
        return [budgets[name] for name in sorted(budgets)], now

    def get_report(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        as_of: int | None = None,
    ) -> CostReport:
        """The guide's name for :meth:`report` (synchronous, as in the guide)."""
        return self.report(since, until, as_of=as_of)
