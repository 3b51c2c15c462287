"""Alerts as recorded: severities, the alert record, the channel interface, and the fold of alert events.

An alert is an ``AlertRaised`` event (delivered, or suppressed by a cooldown), then one
``AlertDelivered`` per channel it was handed to, then any ``AlertAcknowledged``. The fold keeps
every alert with its deliveries and acknowledgement, and — per (type, source) — the last
delivered alert's time and severity and how many were suppressed, which is what de-duplication
decides on.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID

import msgspec

from ledger import AlertAcknowledged, AlertDelivered, AlertRaised, from_epoch_us, to_epoch_us
from projections.fold.event_schema import fields_of
from projections.fold.projection import Arrays, Handler, Projection

_RANK = {"info": 0, "warning": 1, "high": 2, "critical": 3}
# The event's severity vocabulary also has the anomaly levels; they map onto the alert order.
_FROM_ANOMALY = {"low": "info", "medium": "warning"}


@functools.total_ordering
class AlertSeverity(Enum):
    """Alert severities, ordered INFO < WARNING < HIGH < CRITICAL; ``ERROR`` is an alias of HIGH."""

    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"
    ERROR = "high"

    @property
    def rank(self) -> int:
        """Position in the order (INFO is 0)."""
        return _RANK[self.value]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, AlertSeverity):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def parse(cls, value: AlertSeverity | str) -> AlertSeverity:
        """Accept a member or a name/value in any case (``"error"`` is HIGH; ``"low"`` INFO,
        ``"medium"`` WARNING, as anomaly severities map)."""
        if isinstance(value, AlertSeverity):
            return value
        key = value.strip().upper()
        if key in cls.__members__:
            return cls.__members__[key]
        lowered = value.strip().lower()
        return cls(_FROM_ANOMALY.get(lowered, lowered))


@dataclass(frozen=True)
class Delivery:
    """One channel's attempt to deliver an alert."""

    channel: str
    success: bool
    error: str | None
    timestamp: datetime


@dataclass(frozen=True)
class Alert:
    """An alert as recorded.

    Attributes:
        id: the alert id.
        alert_type: ``metric``, ``anomaly``, ``health``, ``slo``, ``budget`` or a caller's own.
        source: what it is about (a metric, an SLO, a budget); with the type, the de-duplication key.
        severity: how bad.
        title: one line.
        message: the details.
        timestamp: when it was raised (aware UTC).
        metric_name: the metric, if any.
        current_value: the value that triggered it, if any.
        threshold: the threshold or expected value, if any.
        suppressed: raised within the cooldown of an equal or worse alert, so not delivered.
        deliveries: each channel's outcome.
        acknowledged_by: who acknowledged it (``None`` if nobody has).
        acknowledged_at: when.
    """

    id: UUID
    alert_type: str
    source: str
    severity: AlertSeverity
    title: str
    message: str
    timestamp: datetime
    metric_name: str | None = None
    current_value: float | None = None
    threshold: float | None = None
    suppressed: bool = False
    deliveries: tuple[Delivery, ...] = ()
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    @property
    def acknowledged(self) -> bool:
        """True once someone acknowledged it."""
        return self.acknowledged_at is not None

    def to_json(self) -> dict[str, Any]:
        """Return the alert as JSON-able data (what webhooks and ``rledger alerts`` show)."""
        return {
            "id": str(self.id),
            "alert_type": self.alert_type,
            "source": self.source,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "timestamp": self.timestamp.isoformat(),
            "metric_name": self.metric_name,
            "current_value": self.current_value,
            "threshold": self.threshold,
            "suppressed": self.suppressed,
            "deliveries": [
                {
                    "channel": d.channel,
                    "success": d.success,
                    "error": d.error,
                    "timestamp": d.timestamp.isoformat(),
                }
                for d in self.deliveries
            ],
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": None if self.acknowledged_at is None else self.acknowledged_at.isoformat(),
        }


class AlertChannel(ABC):
    """Somewhere alerts are delivered. ``send`` raises when delivery failed."""

    @abstractmethod
    async def send(self, alert: Alert) -> None:
        """Deliver one alert."""


@fields_of(AlertRaised)
class RaisedFields(msgspec.Struct, frozen=True):
    """What the alert fold reads of an ``AlertRaised``."""

    alert_id: UUID
    alert_type: str
    source: str
    severity: str
    title: str
    message: str = ""
    metric_name: str | None = None
    current_value: float | None = None
    threshold: float | None = None
    suppressed: bool = False


@fields_of(AlertDelivered)
class DeliveredFields(msgspec.Struct, frozen=True):
    """What the alert fold reads of an ``AlertDelivered``."""

    alert_id: UUID
    channel: str
    success: bool
    error: str | None = None


@fields_of(AlertAcknowledged)
class AcknowledgedFields(msgspec.Struct, frozen=True):
    """What the alert fold reads of an ``AlertAcknowledged``."""

    alert_id: UUID
    by: str | None = None


@dataclass
class KeyState:
    """De-duplication state of one (type, source): the last delivered alert and the suppressed count."""

    last_us: int | None = None
    last_rank: int = -1
    suppressed: int = 0

    def suppresses(self, now_us: int, cooldown_seconds: float, rank: int) -> bool:
        """Whether an alert of ``rank`` raised at ``now_us`` is suppressed: within the cooldown of
        the last delivered alert of this key and no more severe than it (the one statement of the
        rule: the manager and the back-test both decide by it)."""
        return (
            self.last_us is not None
            and now_us - self.last_us < round(cooldown_seconds * 1_000_000)
            and rank <= self.last_rank
        )


class AlertProjection(Projection):
    """Every alert with its deliveries and acknowledgement, and the de-duplication state per key."""

    name = "alerts"
    version = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "AlertRaised": RaisedFields,
        "AlertDelivered": DeliveredFields,
        "AlertAcknowledged": AcknowledgedFields,
    }

    def __init__(self) -> None:
        super().__init__()
        self.alerts: dict[UUID, Alert] = {}
        self.keys: dict[tuple[str, str], KeyState] = {}

    def _handlers(self) -> dict[str, Handler]:
        return {
            "AlertRaised": self._raised,
            "AlertDelivered": self._delivered,
            "AlertAcknowledged": self._acked,
        }

    def _raised(self, t: int, e: RaisedFields) -> None:
        alert = alert_from_event(t, e)
        self.alerts[alert.id] = alert
        key = self.keys.setdefault((alert.alert_type, alert.source), KeyState())
        if alert.suppressed:
            key.suppressed += 1
        else:
            key.last_us, key.last_rank = t, alert.severity.rank

    def _delivered(self, t: int, e: DeliveredFields) -> None:
        alert = self.alerts.get(e.alert_id)
        if alert is not None:
            delivery = Delivery(e.channel, e.success, e.error, from_epoch_us(t))
            self.alerts[alert.id] = replace(alert, deliveries=(*alert.deliveries, delivery))

    def _acked(self, t: int, e: AcknowledgedFields) -> None:
        alert = self.alerts.get(e.alert_id)
        if alert is not None and alert.acknowledged_at is None:
            self.alerts[alert.id] = replace(alert, acknowledged_by=e.by, acknowledged_at=from_epoch_us(t))

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as JSON-able metadata."""
        return {"alerts": [a.to_json() for a in self.alerts.values()]}, {}

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump` (de-duplication keys are rebuilt from the alerts)."""
        self.alerts, self.keys = {}, {}
        for data in meta["alerts"]:
            t = to_epoch_us(datetime.fromisoformat(data["timestamp"]))
            self._raised(t, msgspec.convert({**data, "alert_id": data["id"]}, RaisedFields))
            alert = self.alerts[UUID(data["id"])]
            deliveries = tuple(
                Delivery(d["channel"], d["success"], d["error"], datetime.fromisoformat(d["timestamp"]))
                for d in data["deliveries"]
            )
            acked = data["acknowledged_at"]
            self.alerts[alert.id] = replace(
                alert,
                deliveries=deliveries,
                acknowledged_by=data["acknowledged_by"],
                acknowledged_at=None if acked is None else datetime.fromisoformat(acked),
            )


def alert_from_event(t_us: int, e: RaisedFields) -> Alert:
    """Build an :class:`Alert` from a stored ``AlertRaised`` event (its decoded fields)."""
    return Alert(
        id=e.alert_id,
        alert_type=e.alert_type,
        source=e.source,
        severity=AlertSeverity.parse(e.severity),
        title=e.title,
        message=e.message or "",
        timestamp=from_epoch_us(t_us),
        metric_name=e.metric_name,
        current_value=e.current_value,
        threshold=e.threshold,
        suppressed=e.suppressed,
    )
