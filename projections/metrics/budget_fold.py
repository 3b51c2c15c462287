"""The budgets the ledger holds: each name's latest ``BudgetSet``, unless a ``BudgetRemoved`` came after it.

A budget's limits have a stream of their own (``budget-limits:<name>``) that holds only these two
event types, so the number folded of a name is that stream's version: a tracker sets or removes
a budget at the version it decided on, and a concurrent change makes it decide again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import msgspec

from ledger import BudgetRemoved, BudgetSet
from projections.fold.event_schema import fields_of
from projections.fold.projection import Arrays, Handler, Projection
from projections.metrics.budgets import CostBudget


@fields_of(BudgetSet)
class BudgetSetFields(msgspec.Struct, frozen=True):
    """What the budget fold reads of a ``BudgetSet`` (amounts are decimal strings)."""

    budget: str
    total_limit: str | int | float
    period_hours: float | None = None
    category_limits: dict[str, str | int | float] = {}
    agent_limits: dict[str, str | int | float] = {}
    currency: str | None = None


@fields_of(BudgetRemoved)
class BudgetRemovedFields(msgspec.Struct, frozen=True):
    """What the budget fold reads of a ``BudgetRemoved``."""

    budget: str


def _limits(values: dict[str, str | int | float]) -> dict[str, Decimal]:
    return {k: Decimal(str(v)) for k, v in values.items()}


class BudgetProjection(Projection):
    """The budgets in force, by name, and the version of each name's limits stream."""

    name = "budgets"
    version = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "BudgetSet": BudgetSetFields,
        "BudgetRemoved": BudgetRemovedFields,
    }

    def __init__(self) -> None:
        super().__init__()
        self.budgets: dict[str, CostBudget] = {}
        self.versions: dict[str, int] = {}

    def _handlers(self) -> dict[str, Handler]:
        return {"BudgetSet": self._set, "BudgetRemoved": self._removed}

    def _set(self, t: int, e: BudgetSetFields) -> None:
        self.versions[e.budget] = self.versions.get(e.budget, 0) + 1
        self.budgets[e.budget] = CostBudget(
            e.budget,
            Decimal(str(e.total_limit)),
            e.period_hours,
            category_limits=_limits(e.category_limits),
            agent_limits=_limits(e.agent_limits),
            currency=e.currency or "USD",
        )

    def _removed(self, t: int, e: BudgetRemovedFields) -> None:
        self.versions[e.budget] = self.versions.get(e.budget, 0) + 1
        self.budgets.pop(e.budget, None)

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as JSON-able metadata."""
        budgets = {
            name: {
                "budget": name,
                "total_limit": str(b.total_limit),
                "period_hours": b.period_hours,
                "category_limits": {k: str(v) for k, v in sorted(b.category_limits.items())},
                "agent_limits": {k: str(v) for k, v in sorted(b.agent_limits.items())},
                "currency": b.currency,
            }
            for name, b in sorted(self.budgets.items())
        }
        return {"budgets": budgets, "versions": dict(sorted(self.versions.items()))}, {}

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.budgets = {}
        for fields in meta["budgets"].values():
            self._set(0, msgspec.convert(fields, BudgetSetFields))
        self.versions = dict(meta["versions"])
