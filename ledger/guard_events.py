"""The events the reliability machinery records: mode checks, breakers, metrics, anomalies and alerts.

Part of the event contract (wire format v1) like :mod:`ledger.events`, which joins them into the
one discriminated union; the same rule holds: never rename or remove a type or field.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from ledger.event_base import LedgerEvent, Mode, Name

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

    @property
    def stream(self) -> str:
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

    @property
    def stream(self) -> str:
        """A breaker's events share one stream."""
        return f"breaker:{self.breaker}"


class BreakerProbeStarted(LedgerEvent):
    """A half-open circuit breaker let one call through as a probe.

    Probes are events so that every process sharing the ledger counts them: a half-open breaker
    lets ``half_open_max_calls`` probes through in all, not that many per process.
    """

    type: Literal["BreakerProbeStarted"] = "BreakerProbeStarted"
    breaker: Name

    @property
    def stream(self) -> str:
        """A breaker's events share one stream."""
        return f"breaker:{self.breaker}"


class CircuitTransitioned(LedgerEvent):
    """A circuit breaker changed state."""

    type: Literal["CircuitTransitioned"] = "CircuitTransitioned"
    breaker: Name
    from_state: Literal["closed", "open", "half_open"]
    to_state: Literal["closed", "open", "half_open"]
    reason: str | None = None

    @property
    def stream(self) -> str:
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
