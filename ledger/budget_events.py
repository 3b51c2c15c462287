"""Budget events: budgets set and removed, reservations, their release and breaches.

Reservations, releases and breaches share one stream per budget (``budget:<name>``, the
reservations' optimistic-concurrency version); a budget's limits live on a stream of their own
(``budget-limits:<name>``), so setting a budget never moves the version a reservation was
checked at, and setting it again is decided at the version of its limits alone.

Part of the event contract (wire format v1) like :mod:`ledger.events`, which joins them into the
union: never rename a type or a field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from ledger.event_base import LedgerEvent, Name, UTCDateTime

__all__ = [
    "BudgetBreached",
    "BudgetRemoved",
    "BudgetReservationReleased",
    "BudgetReserved",
    "BudgetSet",
]

_Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
_Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _BudgetEvent(LedgerEvent):
    budget: Name

    @property
    def stream(self) -> str:
        """Budget events share one stream per budget, for optimistic concurrency."""
        return f"budget:{self.budget}"


class BudgetReserved(_BudgetEvent):
    """An estimated cost was reserved against a budget before an expensive call."""

    type: Literal["BudgetReserved"] = "BudgetReserved"
    reservation_id: UUID
    amount: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    category: Name | None = None
    expires_at: UTCDateTime | None = None


class BudgetReservationReleased(_BudgetEvent):
    """A reservation ended: settled by a recorded cost, or released unused."""

    type: Literal["BudgetReservationReleased"] = "BudgetReservationReleased"
    reservation_id: UUID
    settled_amount: Decimal | None = None


class BudgetBreached(_BudgetEvent):
    """Spend went over a budget limit (total, a category's or an agent's)."""

    type: Literal["BudgetBreached"] = "BudgetBreached"
    scope: Name = "total"
    limit: Decimal
    spend: Decimal
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"


class _BudgetLimitsEvent(LedgerEvent):
    budget: Name

    @property
    def stream(self) -> str:
        """A budget's limits have a stream of their own, apart from its reservations."""
        return f"budget-limits:{self.budget}"


class BudgetSet(_BudgetLimitsEvent):
    """A budget was set, or changed: its limits from now on (the latest one of a name holds)."""

    type: Literal["BudgetSet"] = "BudgetSet"
    total_limit: _Money
    period_hours: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    category_limits: dict[Name, _Money] = Field(default_factory=dict)
    agent_limits: dict[Name, _Money] = Field(default_factory=dict)
    currency: _Currency = "USD"


class BudgetRemoved(_BudgetLimitsEvent):
    """A budget was removed: no limit of that name holds any more (until it is set again)."""

    type: Literal["BudgetRemoved"] = "BudgetRemoved"
