"""Small builders shared by the projection tests: event times before the hand clock, event makers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ledger import (
    HumanIntervened,
    ModeChecked,
    ModeViolated,
    PlanRevised,
    StepRecorded,
    ToolCalled,
    WorkflowCompleted,
    WorkflowStarted,
)

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
"""Three hours before the hand clock's "now" (2025-01-01 12:00 UTC)."""


def at(minutes: float = 0, **more: float) -> datetime:
    """Return ``T0`` plus ``minutes`` (and any other ``timedelta`` fields)."""
    return T0 + timedelta(minutes=minutes, **more)


def step(agent: str = "agent", success: bool = True, minute: float = 0, **fields: Any) -> StepRecorded:
    """A step by ``agent`` at ``at(minute)``."""
    return StepRecorded(agent=agent, success=success, occurred_at=at(minute), **fields)


def tool(duration_ms: float | None, agent: str = "agent", minute: float = 0, **fields: Any) -> ToolCalled:
    """A tool call by ``agent`` that took ``duration_ms``."""
    return ToolCalled(tool="search", agent=agent, duration_ms=duration_ms, occurred_at=at(minute), **fields)


def violation(agent: str = "agent", minute: float = 0) -> ModeViolated:
    """A blocked action by ``agent`` in explore mode."""
    return ModeViolated(
        agent=agent, declared_mode="explore", attempted_action="database_write", occurred_at=at(minute)
    )


def started(workflow_id: str, minute: float = 0) -> WorkflowStarted:
    """The start of ``workflow_id``."""
    return WorkflowStarted(workflow_id=workflow_id, occurred_at=at(minute))


def completed(workflow_id: str, minute: float = 0, **fields: Any) -> WorkflowCompleted:
    """The completion of ``workflow_id`` with its reported totals."""
    return WorkflowCompleted(workflow_id=workflow_id, occurred_at=at(minute), **fields)


def replanned(workflow_id: str, minute: float = 0) -> PlanRevised:
    """A plan revision in ``workflow_id``."""
    return PlanRevised(workflow_id=workflow_id, occurred_at=at(minute))


def human(workflow_id: str, minute: float = 0) -> HumanIntervened:
    """A human stepping into ``workflow_id``."""
    return HumanIntervened(workflow_id=workflow_id, occurred_at=at(minute))


def allowed(agent: str = "agent", minute: float = 0) -> ModeChecked:
    """An action the mode enforcer checked and allowed (a compliant mode observation)."""
    return ModeChecked(agent=agent, declared_mode="explore", action="database_read", occurred_at=at(minute))
