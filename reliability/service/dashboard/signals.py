"""Breaker transitions, alerts with deliveries, mode violations and replays, kept current for the pages.

A fold over the event types it shows, read by type (an index lookup, not a scan of the ledger)
and advanced by the events that are new since the last request, so a request costs O(new
events of these types).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger import Ledger

__all__ = ["SignalIndex"]

TYPES = (
    "CircuitTransitioned",
    "AlertRaised",
    "AlertDelivered",
    "AlertAcknowledged",
    "ModeViolated",
    "ReplayAttempted",
)
KEEP = 500
"""The newest alerts and the newest violations per agent kept for display; the counts cover all."""


class SignalIndex:
    """What the breaker, alert and agent pages list, folded from the ledger."""

    def __init__(self) -> None:
        self.position = 0
        self.transitions: list[dict[str, Any]] = []
        self.alerts: dict[str, dict[str, Any]] = {}
        self.alert_count = 0
        self.violations: dict[str, deque[dict[str, Any]]] = {}
        self.violation_counts: dict[str, int] = {}
        self.replays: dict[str, list[dict[str, Any]]] = {}

    def catch_up(self, ledger: Ledger) -> None:
        """Fold the events of :data:`TYPES` after :attr:`position`."""
        head = ledger.latest_offset()
        if head <= self.position:
            return
        for rec in ledger.read(after=self.position, through=head, types=TYPES):
            event: Any = rec.event
            at = event.occurred_at.isoformat()
            kind = event.type
            if kind == "CircuitTransitioned":
                self.transitions.append(
                    {
                        "breaker": event.breaker,
                        "from_state": event.from_state,
                        "to_state": event.to_state,
                        "reason": event.reason,
                        "at": at,
                        "offset": rec.offset,
                    }
                )
            elif kind == "AlertRaised":
                self._alert(event, at, rec.offset)
            elif kind in ("AlertDelivered", "AlertAcknowledged"):
                alert = self.alerts.get(str(event.alert_id))
                if alert is None:  # its alert was dropped from the kept window
                    continue
                if kind == "AlertDelivered":
                    alert["deliveries"].append(
                        {"channel": event.channel, "success": event.success, "error": event.error}
                    )
                else:
                    alert["acknowledged_by"] = event.by or "someone"
            elif kind == "ModeViolated":
                agent = event.agent
                self.violation_counts[agent] = self.violation_counts.get(agent, 0) + 1
                self.violations.setdefault(agent, deque(maxlen=KEEP)).append(
                    {
                        "workflow_id": event.workflow_id,
                        "declared_mode": event.declared_mode,
                        "attempted_action": event.attempted_action,
                        "violation_type": event.violation_type,
                        "at": at,
                        "offset": rec.offset,
                    }
                )
            elif event.workflow_id is not None:  # ReplayAttempted
                self.replays.setdefault(event.workflow_id, []).append(
                    {
                        "replay_mode": event.replay_mode,
                        "success": event.success,
                        "replay_workflow_id": event.replay_workflow_id,
                        "differences": event.differences,
                        "critical_differences": event.critical_differences,
                        "checkpoint_id": event.checkpoint_id,
                        "error": event.error,
                        "at": at,
                        "offset": rec.offset,
                    }
                )
        self.position = head

    def _alert(self, event: Any, at: str, offset: int) -> None:
        self.alert_count += 1
        self.alerts[str(event.alert_id)] = {
            "alert_id": str(event.alert_id),
            "alert_type": event.alert_type,
            "source": event.source,
            "severity": str(event.severity),
            "title": event.title,
            "message": event.message,
            "metric_name": event.metric_name,
            "current_value": event.current_value,
            "threshold": event.threshold,
            "suppressed": event.suppressed,
            "at": at,
            "offset": offset,
            "deliveries": [],
            "acknowledged_by": None,
        }
        while len(self.alerts) > KEEP:
            del self.alerts[next(iter(self.alerts))]

    def document(self) -> dict[str, Any]:
        """The JSON ``GET /v1/signals`` answers."""
        states: dict[str, dict[str, Any]] = {}
        for t in self.transitions:
            states[t["breaker"]] = {"breaker": t["breaker"], "state": t["to_state"], "since": t["at"]}
        return {
            "as_of_offset": self.position,
            "breakers": sorted(states.values(), key=lambda b: b["breaker"]),
            "transitions": self.transitions,
            "alerts": list(reversed(self.alerts.values())),
            "alert_count": self.alert_count,
            "violations": {a: list(reversed(v)) for a, v in sorted(self.violations.items())},
            "violation_counts": dict(sorted(self.violation_counts.items())),
            "replays": self.replays,
        }
