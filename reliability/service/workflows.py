"""The workflow list behind ``GET /v1/workflows``: each workflow's outcome, steps and cost, kept current.

A fold over the four event types it needs (started, completed, steps, costs), kept by the server
and advanced by the events that are new since the last request, so a listing costs O(new
events). Money is summed as exact decimals; a workflow with unpriced costs says how many.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledger import Ledger

__all__ = ["WorkflowIndex", "WorkflowSummary"]

TYPES = ("WorkflowStarted", "WorkflowCompleted", "StepRecorded", "CostIncurred")


@dataclass
class WorkflowSummary:
    """One workflow as the list shows it."""

    workflow_id: str
    first_offset: int
    started_at: str | None = None
    completed_at: str | None = None
    success: bool | None = None
    replay_of: str | None = None
    steps: int = 0
    failed_steps: int = 0
    cost: Decimal = Decimal(0)
    currencies: set[str] = field(default_factory=set)
    unpriced_costs: int = 0
    agents: set[str] = field(default_factory=set)
    """The agents that recorded a step in it."""

    @property
    def outcome(self) -> str:
        """``running`` until completed, then ``succeeded`` or ``failed``."""
        if self.completed_at is None:
            return "running"
        return "succeeded" if self.success else "failed"

    def to_json(self) -> dict[str, Any]:
        """The summary as the API writes it (money as an exact decimal string)."""
        return {
            "workflow_id": self.workflow_id,
            "first_offset": self.first_offset,
            "outcome": self.outcome,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "replay_of": self.replay_of,
            "steps": self.steps,
            "failed_steps": self.failed_steps,
            "cost": f"{self.cost:f}",
            "currency": ",".join(sorted(self.currencies)) or None,
            "unpriced_costs": self.unpriced_costs,
            "agents": sorted(self.agents),
        }


class WorkflowIndex:
    """Every workflow seen so far, in the order of its first event."""

    def __init__(self) -> None:
        self.position = 0
        self._by_id: dict[str, WorkflowSummary] = {}

    def catch_up(self, ledger: Ledger) -> None:
        """Fold the events after :attr:`position` (call with the server's report lock held)."""
        head = ledger.latest_offset()
        if head <= self.position:
            return
        for rec in ledger.read(after=self.position, through=head, types=TYPES):
            event: Any = rec.event
            wid = event.workflow_id
            if wid is None:
                continue
            summary = self._by_id.get(wid)
            if summary is None:
                summary = self._by_id[wid] = WorkflowSummary(workflow_id=wid, first_offset=rec.offset)
            kind = event.type
            if kind == "WorkflowStarted":
                summary.started_at = event.occurred_at.isoformat()
                summary.replay_of = event.replay_of
            elif kind == "WorkflowCompleted":
                # A later completion of the same id replaces the earlier one (docs/semantics.md).
                summary.completed_at = event.occurred_at.isoformat()
                summary.success = event.success
            elif kind == "StepRecorded":
                summary.steps += 1
                summary.agents.add(event.agent)
                summary.failed_steps += 0 if event.success else 1
            elif event.amount is None:
                summary.unpriced_costs += 1
            else:
                summary.cost += event.amount
                summary.currencies.add(event.currency)
        self.position = head

    def page(
        self, after: int, limit: int, outcome: str | None, agent: str | None = None
    ) -> list[WorkflowSummary]:
        """Workflows whose first event is after offset ``after``, at most ``limit``."""
        out: list[WorkflowSummary] = []
        for summary in self._by_id.values():  # insertion order is first-offset order
            if summary.first_offset <= after or (outcome is not None and summary.outcome != outcome):
                continue
            if agent is not None and agent not in summary.agents:
                continue
            out.append(summary)
            if len(out) >= limit:
                break
        return out
