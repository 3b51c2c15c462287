"""The fields of each event the metric folds read, as structs checked against the event models.

Decoding only these fields skips the rest unparsed (a tool call's result, say). A type folded
by two metric projections has one struct here, so a rebuild folding both decodes it once.
"""

from __future__ import annotations

import msgspec

from ledger import (
    BudgetBreached,
    BudgetReservationReleased,
    BudgetReserved,
    CostIncurred,
    ExplanationRecorded,
    HumanIntervened,
    ModeChecked,
    ModeViolated,
    PlanRevised,
    ReplayAttempted,
    StepRecorded,
    ToolCalled,
    WorkflowCompleted,
    WorkflowStarted,
)
from projections.fold.event_schema import fields_of


@fields_of(StepRecorded)
class StepFields(msgspec.Struct, frozen=True):
    """What the reliability fold reads of a ``StepRecorded`` (the most frequent event)."""

    success: bool
    workflow_id: str | None = None
    agent: str | None = None
    required_compensation: bool = False
    required_human: bool = False
    mode: str | None = None
    declared_mode: str | None = None
    tool_duration_ms: float | None = None


@fields_of(ToolCalled)
class ToolFields(msgspec.Struct, frozen=True):
    """What the reliability fold reads of a ``ToolCalled``: not its arguments or result."""

    agent: str | None = None
    duration_ms: float | None = None
    workflow_id: str | None = None


@fields_of(CostIncurred)
class CostFields(msgspec.Struct, frozen=True):
    """What the cost fold reads of a ``CostIncurred`` (``amount`` is a decimal string)."""

    status: str = "priced"
    amount: str | int | float | None = None
    agent: str | None = None
    model: str | None = None
    workflow_id: str | None = None
    category: str | None = None
    currency: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@fields_of(WorkflowCompleted)
class CompletionFields(msgspec.Struct, frozen=True):
    """What the reliability and cost folds read of a ``WorkflowCompleted``."""

    workflow_id: str | None = None
    success: bool = True
    total_retries: int | None = None
    required_human: bool = False
    duration_ms: float | None = None


@fields_of(WorkflowStarted)
class StartFields(msgspec.Struct, frozen=True):
    """What the reliability and cost folds read of a ``WorkflowStarted`` (a replay names its original)."""

    workflow_id: str | None = None
    replay_of: str | None = None


@fields_of(PlanRevised)
class ReplanFields(msgspec.Struct, frozen=True):
    """What the reliability fold reads of a ``PlanRevised``."""

    workflow_id: str | None = None


@fields_of(HumanIntervened)
class InterventionFields(msgspec.Struct, frozen=True):
    """What the reliability fold reads of a ``HumanIntervened``."""

    workflow_id: str | None = None


@fields_of(ModeChecked)
class ModeCheckFields(msgspec.Struct, frozen=True):
    """What the reliability fold reads of a ``ModeChecked``."""

    agent: str | None = None
    workflow_id: str | None = None


@fields_of(ModeViolated)
class ModeViolationFields(msgspec.Struct, frozen=True):
    """What the reliability fold reads of a ``ModeViolated``."""

    agent: str | None = None
    workflow_id: str | None = None


@fields_of(ExplanationRecorded)
class ExplanationFields(msgspec.Struct, frozen=True):
    """What the SLO fold reads of an ``ExplanationRecorded``."""

    duration_ms: float
    success: bool = True


@fields_of(ReplayAttempted)
class ReplayFields(msgspec.Struct, frozen=True):
    """What the SLO fold reads of a ``ReplayAttempted``."""

    replay_mode: str
    success: bool


@fields_of(BudgetReserved)
class ReservedFields(msgspec.Struct, frozen=True):
    """What the cost fold reads of a ``BudgetReserved`` (``amount`` is a decimal string)."""

    budget: str
    reservation_id: str
    amount: str | int | float
    currency: str | None = None
    category: str | None = None
    agent: str | None = None
    expires_at: str | None = None


@fields_of(BudgetReservationReleased)
class ReleasedFields(msgspec.Struct, frozen=True):
    """What the cost fold reads of a ``BudgetReservationReleased``."""

    budget: str
    reservation_id: str


@fields_of(BudgetBreached)
class BreachFields(msgspec.Struct, frozen=True):
    """What the cost fold reads of a ``BudgetBreached``."""

    budget: str
