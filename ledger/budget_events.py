"""Budget events: reservations, their release and breaches, on one stream per budget.

Part of the event contract (wire format v1) like :mod:`ledger.events`, which joins them into the
union: never rename a type or a field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from ledger.event_base import LedgerEvent, Name, UTCDateTime

__all__ = ["BudgetBreached", "BudgetReservationReleased", "BudgetReserved"]


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
