"""The workflow list behind ``GET /v1/workflows``: each workflow's outcome, steps and cost, kept current.

A fold over the four event types it needs (started, completed, steps, costs), kept by the server
and advanced by the events that are new since the last request, so a listing costs O(new
events). Money is summed as exact decimals; a workflow with unpriced costs says how many.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from ledger import Ledger, PrunedRangeError, ReadQuery, from_epoch_us, to_epoch_us

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


WANTED = frozenset(TYPES)


def _rows(ledger: Ledger, after: int, through: int) -> Iterator[tuple[int, str, int, bytes]]:
    """The stored events of :data:`TYPES` in ``(after, through]``: offset, type, time (µs), JSON.

    Their stored JSON, not validated models (they were validated when written), read by a scan
    of every row in offset order that skips the other types before decoding: both several times
    faster than ``Ledger.read`` by type (bench/dashboard.py's first answers at 1M events). A
    pruned range cannot be scanned; then the rows are read by type, which skips what is gone.
    """
    try:
        for row in ledger.scan(after=after, through=through):
            if row[1] in WANTED:
                yield row
    except PrunedRangeError:
        query = ReadQuery(after=after, through=through, types=TYPES)
        for r in ledger.read_rows(query, page_size=5000):
            yield r.offset, r.type, to_epoch_us(r.occurred_at), r.state


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
        for offset, kind, at, state in _rows(ledger, self.position, head):
            event = orjson.loads(state)
            wid = event.get("workflow_id")
            if wid is None:
                continue
            summary = self._by_id.get(wid)
            if summary is None:
                summary = self._by_id[wid] = WorkflowSummary(workflow_id=wid, first_offset=offset)
            if kind == "WorkflowStarted":
                summary.started_at = from_epoch_us(at).isoformat()
                summary.replay_of = event.get("replay_of")
            elif kind == "WorkflowCompleted":
                # A later completion of the same id replaces the earlier one (docs/semantics.md).
                summary.completed_at = from_epoch_us(at).isoformat()
                summary.success = event.get("success", True)
            elif kind == "StepRecorded":
                summary.steps += 1
                summary.failed_steps += 0 if event["success"] else 1
                summary.agents.add(event["agent"])
            elif event.get("amount") is None:
                summary.unpriced_costs += 1
            else:
                summary.cost += Decimal(event["amount"])
                summary.currencies.add(event.get("currency", "USD"))
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
