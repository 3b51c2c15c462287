"""The event contract (wire format v1): frozen pydantic models, one discriminated union.

Every fact an orchestrator reports is one of these events. On the wire each is a JSON object
whose ``"type"`` names the class. The type names and the fields below are a public, stored
contract: add optional fields and new types freely, never rename or remove these (see
``LEGACY_TYPE_NAMES`` for how a renamed type would keep loading).

The orchestrators' facts and the union of every event are defined here; the base and field types
are in :mod:`ledger.event_base`, budget reservations in :mod:`ledger.budget_events`, model calls
in :mod:`ledger.model_events`, the guards' and alerts' events in :mod:`ledger.guard_events`, time
helpers in :mod:`ledger.timeutil`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, TypeAlias, get_args
from uuid import UUID

from pydantic import Field, NonNegativeFloat, NonNegativeInt, StringConstraints, TypeAdapter, model_validator

from ledger.backtest_events import BacktestRecorded, IncidentDeclared, IncidentResolved
from ledger.budget_events import (
    BudgetBreached,
    BudgetRemoved,
    BudgetReservationReleased,
    BudgetReserved,
    BudgetSet,
)
from ledger.event_base import Confidence, LedgerEvent, Mode, Name
from ledger.guard_events import (
    AgentModeSet,
    AlertAcknowledged,
    AlertDelivered,
    AlertRaised,
    AnomalyDetected,
    BreakerCallRecorded,
    BreakerConfigured,
    BreakerProbeStarted,
    CircuitTransitioned,
    MetricRecorded,
    ModeChecked,
)
from ledger.model_events import ModelCalled
from ledger.privacy_events import SubjectForgotten


def _unset(value: Any) -> bool:
    """Whether an added field holds its default (``None`` or empty): then it is not stored."""
    return value is None or value == ()


class WorkflowStarted(LedgerEvent):
    """A workflow (agent run) began with a goal and its inputs."""

    type: Literal["WorkflowStarted"] = "WorkflowStarted"
    goal: str | None = None
    input: Any = None
    replay_of: Name | None = None
    replay_mode: Literal["strict", "simulated", "counterfactual"] | None = None


class WorkflowCompleted(LedgerEvent):
    """A workflow finished, successfully or not, with its reported totals."""

    type: Literal["WorkflowCompleted"] = "WorkflowCompleted"
    success: bool = True
    total_steps: NonNegativeInt | None = None
    total_retries: NonNegativeInt | None = None
    required_human: bool = False
    required_compensation: bool = False
    duration_ms: NonNegativeFloat | None = None
    outcome: Any = None
    agents_involved: tuple[Name, ...] = ()


class StepRecorded(LedgerEvent):
    """An agent took one step; ``mode``/``declared_mode`` feed mode adherence.

    ``duration_ms`` is how long the step itself took (a LangGraph node run, an Agents SDK agent
    turn), when the recorder measured it. No reliability metric reads it: TCL is tool latency
    (``tool_duration_ms``, ``ToolCalled``) and WCT workflow time; it is on the trail.
    """

    type: Literal["StepRecorded"] = "StepRecorded"
    agent: Name
    success: bool
    required_compensation: bool = False
    required_human: bool = False
    mode: Mode | None = None
    declared_mode: Mode | None = None
    tool_duration_ms: NonNegativeFloat | None = None
    error: str | None = None
    # Added after steps were stored: left out while unset, so an older step encodes as it did.
    duration_ms: NonNegativeFloat | None = Field(default=None, exclude_if=_unset)


class ToolCalled(LedgerEvent):
    """A tool was called: arguments, result or error, duration and its ordinal in the run.

    ``call_id`` is the caller's own id of the call (a model's tool-call id), when it has one.
    """

    type: Literal["ToolCalled"] = "ToolCalled"
    tool: Name
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    success: bool = True
    duration_ms: NonNegativeFloat | None = None
    error: str | None = None
    call_index: NonNegativeInt | None = None
    # Fields added after events were stored are left out of the stored form while unset, so an
    # event recorded before them encodes (and digests, for idempotency) byte for byte as it did.
    call_id: Name | None = Field(default=None, exclude_if=_unset)


class EvidenceCollected(LedgerEvent):
    """A piece of evidence, graded by confidence; inferred evidence names its sources."""

    type: Literal["EvidenceCollected"] = "EvidenceCollected"
    evidence_type: Name
    source: Name
    content: Any = None
    content_hash: str | None = None
    confidence: Confidence
    based_on: tuple[UUID, ...] = ()

    @model_validator(mode="after")
    def _inferred_needs_sources(self) -> EvidenceCollected:
        if self.confidence == "inferred" and not self.based_on:
            raise ValueError("inferred evidence must list the evidence ids it is based_on")
        return self


class ModeViolated(LedgerEvent):
    """An agent acted outside its declared mode (or was blocked from doing so)."""

    type: Literal["ModeViolated"] = "ModeViolated"
    agent: Name
    declared_mode: Mode
    attempted_action: Name
    violation_type: Name = "blocked"


class PlanRevised(LedgerEvent):
    """The workflow's plan was revised (a replan; counts towards plan churn)."""

    type: Literal["PlanRevised"] = "PlanRevised"
    reason: str | None = None


class HumanIntervened(LedgerEvent):
    """A human had to step in."""

    type: Literal["HumanIntervened"] = "HumanIntervened"
    reason: str | None = None


class CostIncurred(LedgerEvent):
    """Money or tokens were spent; ``amount`` is ``None`` exactly when status is unpriced.

    ``provider`` is who served the model (``openai``, ``anthropic``…), when known;
    ``usage_attributes`` names the telemetry attributes the token counts were read from (OTLP
    ingest), so an audit can tell which of the conventions' spellings an emitter sent.
    """

    type: Literal["CostIncurred"] = "CostIncurred"
    category: Name = "llm"
    model: Name | None = None
    provider: Name | None = Field(default=None, exclude_if=_unset)
    tool: Name | None = None
    prompt_tokens: NonNegativeInt = 0
    completion_tokens: NonNegativeInt = 0
    cached_tokens: NonNegativeInt = 0
    cache_write_tokens: NonNegativeInt = 0
    reasoning_tokens: NonNegativeInt = 0
    amount: Decimal | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    price_version: str | None = None
    status: Literal["priced", "unpriced"] = "priced"
    usage_attributes: tuple[Name, ...] = Field(default=(), exclude_if=_unset)

    @model_validator(mode="after")
    def _amount_matches_status(self) -> CostIncurred:
        if self.status == "priced" and self.amount is None:
            raise ValueError("a priced cost needs an amount (use status 'unpriced' if unknown)")
        if self.status == "unpriced" and self.amount is not None:
            raise ValueError("an unpriced cost must not carry an amount")
        if self.amount is not None and (not self.amount.is_finite() or self.amount < 0):
            raise ValueError("amount must be a finite, non-negative decimal")
        return self


class ExplanationRecorded(LedgerEvent):
    """A decision trail was built and explained (one MTTE measurement).

    ``workflow_id`` is the explained workflow (the guide's ``thread_id``).
    """

    type: Literal["ExplanationRecorded"] = "ExplanationRecorded"
    checkpoint_id: str | None = None
    duration_ms: NonNegativeFloat
    success: bool = True
    error: str | None = None

    @property
    def stream(self) -> str:
        """Explanations of a workflow have their own stream: they are not part of its run."""
        return f"explain:{self.workflow_id}" if self.workflow_id else "explain"


class ReplayAttempted(LedgerEvent):
    """A recorded workflow was replayed (one RSR observation).

    ``workflow_id`` is the original workflow; ``replay_workflow_id`` the replay's own run.
    """

    type: Literal["ReplayAttempted"] = "ReplayAttempted"
    checkpoint_id: str | None = None
    replay_mode: Literal["strict", "simulated", "counterfactual"]
    success: bool
    replay_workflow_id: Name | None = None
    differences: NonNegativeInt = 0
    critical_differences: NonNegativeInt = 0
    error: str | None = None
    # Values the recording holds redacted (replay.redacted); left out while 0, as added fields are.
    not_comparable: NonNegativeInt = Field(default=0, exclude_if=lambda n: n == 0)

    @property
    def stream(self) -> str:
        """Replays of a workflow have their own stream: they are not part of its run."""
        return f"replays:{self.workflow_id}" if self.workflow_id else "replays"


class CheckpointMarked(LedgerEvent):
    """A named point in a workflow that a decision trail can be built up to."""

    type: Literal["CheckpointMarked"] = "CheckpointMarked"
    checkpoint_id: Name
    label: str | None = None


class StateChanged(LedgerEvent):
    """The workflow's state changed: ``key`` now holds ``value``."""

    type: Literal["StateChanged"] = "StateChanged"
    key: Name
    value: Any = None


Event: TypeAlias = Annotated[
    WorkflowStarted
    | WorkflowCompleted
    | StepRecorded
    | ToolCalled
    | ModelCalled
    | EvidenceCollected
    | ModeViolated
    | PlanRevised
    | HumanIntervened
    | CostIncurred
    | ExplanationRecorded
    | ReplayAttempted
    | BudgetReserved
    | BudgetReservationReleased
    | BudgetBreached
    | BudgetSet
    | BudgetRemoved
    | CheckpointMarked
    | StateChanged
    | AgentModeSet
    | ModeChecked
    | BreakerCallRecorded
    | BreakerConfigured
    | BreakerProbeStarted
    | CircuitTransitioned
    | MetricRecorded
    | AnomalyDetected
    | AlertRaised
    | AlertDelivered
    | AlertAcknowledged
    | IncidentDeclared
    | IncidentResolved
    | BacktestRecorded
    | SubjectForgotten,
    Field(discriminator="type"),
]
"""Any ledger event; validate input with :data:`EVENT_ADAPTER`."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: dict[str, type[LedgerEvent]] = {
    cls.model_fields["type"].default: cls for cls in get_args(get_args(Event)[0])
}
"""Stored type name → event class."""

LEGACY_TYPE_NAMES: dict[str, str] = {}
"""Old stored type name → current type name. Register here before renaming a type."""


def event_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the event union (what ``rledger schema`` prints)."""
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["title"] = "reliability-ledger event (wire format v1)"
    return schema


__all__ = [
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "LEGACY_TYPE_NAMES",
    "CheckpointMarked",
    "CostIncurred",
    "Event",
    "EvidenceCollected",
    "ExplanationRecorded",
    "HumanIntervened",
    "ModeViolated",
    "PlanRevised",
    "ReplayAttempted",
    "StateChanged",
    "StepRecorded",
    "ToolCalled",
    "WorkflowCompleted",
    "WorkflowStarted",
    "event_json_schema",
]
