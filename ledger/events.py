"""The event contract (wire format v1): frozen pydantic models, one discriminated union.

Every fact an orchestrator reports is one of these events. On the wire each is a JSON object
whose ``"type"`` names the class. The type names and the fields below are a public, stored
contract: add optional fields and new types freely, never rename or remove these (see
``LEGACY_TYPE_NAMES`` for how a renamed type would keep loading).

Time: ``occurred_at`` is always timezone-aware UTC. A naive datetime is taken as UTC (the
user's guide passes ``datetime.utcnow()``), converted once here at the door.
"""

from __future__ import annotations

import itertools
import math
import operator
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, TypeAlias
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    StringConstraints,
    TypeAdapter,
    model_validator,
)


def new_event_id() -> UUID:
    """Return a new time-ordered (version 7 layout) UUID.

    Time-ordered ids keep the unique index on ``event_id`` append-mostly, which keeps bulk
    inserts fast on large tables; random (v4) ids supplied by callers work too.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return UUID(int=value)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default clock)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_ONE_US = timedelta(microseconds=1)


def to_epoch_us(value: datetime) -> int:
    """Return microseconds since 1970-01-01 UTC (exact, also before 1970; naive = UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _ONE_US


def to_epoch_us_column(values: Iterable[datetime]) -> Iterator[int]:
    """:func:`to_epoch_us` of many aware datetimes, without a Python call for each.

    For columns of validated event times (always aware): C-level ``map``s of the same
    subtraction and floor division, saving a Python call per value.
    """
    return map(
        operator.floordiv, map(operator.sub, values, itertools.repeat(EPOCH)), itertools.repeat(_ONE_US)
    )


def from_epoch_us(value: int) -> datetime:
    """Return the aware UTC datetime ``value`` microseconds after 1970-01-01 UTC."""
    return EPOCH + timedelta(microseconds=value)


_FREE_FORM_FIELDS = ("input", "outcome", "arguments", "result", "content")


def non_finite_field(event: BaseModel) -> str | None:
    """Return the dotted path of the first non-finite float in an event's free-form fields."""
    for name in _FREE_FORM_FIELDS:
        if hasattr(event, name):
            where = _non_finite(getattr(event, name), name)
            if where is not None:
                return where
    return None


def _non_finite(value: Any, path: str) -> str | None:
    """Return the path of the first non-finite float inside a JSON-like value, if any."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _utc_field(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError("time cannot be held in UTC (out of the representable range)") from None


UTCDateTime = Annotated[datetime, AfterValidator(_utc_field)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Mode = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Confidence = Literal["verified", "claimed", "inferred"]


class LedgerEvent(BaseModel):
    """Fields every event carries.

    Attributes:
        event_id: the idempotency key; generated when absent.
        occurred_at: when it happened (aware UTC; defaults to now).
        workflow_id: the workflow (run) it belongs to, if any; its stream.
        agent: the agent that did or reported it, if any.
    """

    # JSON has no Infinity or NaN: typed numbers refuse them here; free-form values encode them
    # as bare tokens, which the codec detects and refuses (never stored as something else).
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=False, allow_inf_nan=False, ser_json_inf_nan="constants"
    )

    event_id: UUID = Field(default_factory=new_event_id)
    occurred_at: UTCDateTime = Field(default_factory=utc_now)
    workflow_id: Name | None = None
    agent: Name | None = None

    # Every instance is a validated one: the two pydantic routes around validation validate
    # here, so the ledger can store any instance without checking that it reads back.
    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:  # type: ignore[override]
        """Build an event from values — validated (events are never built unchecked)."""
        return cls.model_validate(values)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Return a copy; an ``update`` is validated like any new event."""
        if not update:
            return self  # frozen: a copy would be indistinguishable
        return self.model_validate({**self.model_dump(), **update})

    def stream_key(self) -> str:
        """Return the stream of this event: its workflow, else its agent, else ``ledger``."""
        if self.workflow_id is not None:
            return f"wf:{self.workflow_id}"
        if self.agent is not None:
            return f"agent:{self.agent}"
        return "ledger"


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
    """An agent took one step; ``mode``/``declared_mode`` feed mode adherence."""

    type: Literal["StepRecorded"] = "StepRecorded"
    agent: Name
    success: bool
    required_compensation: bool = False
    required_human: bool = False
    mode: Mode | None = None
    declared_mode: Mode | None = None
    tool_duration_ms: NonNegativeFloat | None = None
    error: str | None = None


class ToolCalled(LedgerEvent):
    """A tool was called: arguments, result or error, duration and its ordinal in the run."""

    type: Literal["ToolCalled"] = "ToolCalled"
    tool: Name
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    success: bool = True
    duration_ms: NonNegativeFloat | None = None
    error: str | None = None
    call_index: NonNegativeInt | None = None


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
    """Money or tokens were spent; ``amount`` is ``None`` exactly when status is unpriced."""

    type: Literal["CostIncurred"] = "CostIncurred"
    category: Name = "llm"
    model: Name | None = None
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

    def stream_key(self) -> str:
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

    def stream_key(self) -> str:
        """Replays of a workflow have their own stream: they are not part of its run."""
        return f"replays:{self.workflow_id}" if self.workflow_id else "replays"


class _BudgetEvent(LedgerEvent):
    budget: Name

    def stream_key(self) -> str:
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


Polarity = Literal["higher_is_better", "lower_is_better"]
Severity = Literal["info", "low", "medium", "warning", "high", "critical"]


class AgentModeSet(LedgerEvent):
    """An agent was put in a mode (explore, execute or escalate)."""

    type: Literal["AgentModeSet"] = "AgentModeSet"
    agent: Name
    mode: Mode


class ModeChecked(LedgerEvent):
    """An action was checked against the agent's mode and allowed (a compliant observation).

    A blocked or violating action is a ``ModeViolated`` event instead.
    """

    type: Literal["ModeChecked"] = "ModeChecked"
    agent: Name
    declared_mode: Mode
    action: Name
    approved_by: str | None = None


class BreakerCallRecorded(LedgerEvent):
    """A call guarded by a circuit breaker succeeded, failed, or was rejected."""

    type: Literal["BreakerCallRecorded"] = "BreakerCallRecorded"
    breaker: Name
    outcome: Literal["success", "failure", "rejected"]

    def stream_key(self) -> str:
        """A breaker's events share one stream."""
        return f"breaker:{self.breaker}"


class BreakerConfigured(LedgerEvent):
    """The thresholds a circuit breaker decides with, recorded before its first decision and
    again whenever a breaker of that name decides with other ones.

    Readers of the ledger (``rledger breakers``, audits) then judge a breaker by its own
    thresholds, not by defaults.
    """

    type: Literal["BreakerConfigured"] = "BreakerConfigured"
    breaker: Name
    failure_threshold: Annotated[int, Field(ge=1)]
    success_threshold: Annotated[int, Field(ge=1)]
    timeout_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    window_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    half_open_max_calls: Annotated[int, Field(ge=1)]

    def stream_key(self) -> str:
        """A breaker's events share one stream."""
        return f"breaker:{self.breaker}"


class BreakerProbeStarted(LedgerEvent):
    """A half-open circuit breaker let one call through as a probe.

    Probes are events so that every process sharing the ledger counts them: a half-open breaker
    lets ``half_open_max_calls`` probes through in all, not that many per process.
    """

    type: Literal["BreakerProbeStarted"] = "BreakerProbeStarted"
    breaker: Name

    def stream_key(self) -> str:
        """A breaker's events share one stream."""
        return f"breaker:{self.breaker}"


class CircuitTransitioned(LedgerEvent):
    """A circuit breaker changed state."""

    type: Literal["CircuitTransitioned"] = "CircuitTransitioned"
    breaker: Name
    from_state: Literal["closed", "open", "half_open"]
    to_state: Literal["closed", "open", "half_open"]
    reason: str | None = None

    def stream_key(self) -> str:
        """A breaker's events share one stream."""
        return f"breaker:{self.breaker}"


class MetricRecorded(LedgerEvent):
    """A value of a named metric, recorded by hand for anomaly detection or trends."""

    type: Literal["MetricRecorded"] = "MetricRecorded"
    metric_name: Name
    value: float
    polarity: Polarity | None = None


class AnomalyDetected(LedgerEvent):
    """An anomaly detector flagged a value."""

    type: Literal["AnomalyDetected"] = "AnomalyDetected"
    metric_name: Name
    anomaly_type: Name
    severity: Severity
    current_value: float
    expected_value: float | None = None
    z_score: float | None = None
    detail: str | None = None


class AlertRaised(LedgerEvent):
    """An alert fired (delivered, or suppressed by a cooldown)."""

    type: Literal["AlertRaised"] = "AlertRaised"
    alert_id: UUID
    alert_type: Name
    source: Name
    severity: Severity
    title: str
    message: str = ""
    metric_name: Name | None = None
    current_value: float | None = None
    threshold: float | None = None
    suppressed: bool = False


class AlertDelivered(LedgerEvent):
    """An alert was handed to a channel (or the channel failed)."""

    type: Literal["AlertDelivered"] = "AlertDelivered"
    alert_id: UUID
    channel: Name
    success: bool
    error: str | None = None


class AlertAcknowledged(LedgerEvent):
    """Someone acknowledged an alert."""

    type: Literal["AlertAcknowledged"] = "AlertAcknowledged"
    alert_id: UUID
    by: str | None = None
    note: str | None = None


Event: TypeAlias = Annotated[
    WorkflowStarted
    | WorkflowCompleted
    | StepRecorded
    | ToolCalled
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
    | AlertAcknowledged,
    Field(discriminator="type"),
]
"""Any ledger event; validate input with :data:`EVENT_ADAPTER`."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: dict[str, type[LedgerEvent]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        WorkflowStarted,
        WorkflowCompleted,
        StepRecorded,
        ToolCalled,
        EvidenceCollected,
        ModeViolated,
        PlanRevised,
        HumanIntervened,
        CostIncurred,
        ExplanationRecorded,
        ReplayAttempted,
        BudgetReserved,
        BudgetReservationReleased,
        BudgetBreached,
        CheckpointMarked,
        StateChanged,
        AgentModeSet,
        ModeChecked,
        BreakerCallRecorded,
        BreakerConfigured,
        BreakerProbeStarted,
        CircuitTransitioned,
        MetricRecorded,
        AnomalyDetected,
        AlertRaised,
        AlertDelivered,
        AlertAcknowledged,
    )
}
"""Stored type name → event class."""

LEGACY_TYPE_NAMES: dict[str, str] = {}
"""Old stored type name → current type name. Register here before renaming a type."""


def event_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the event union (what ``rledger schema`` prints)."""
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["title"] = "reliability-ledger event (wire format v1)"
    return schema
