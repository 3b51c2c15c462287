"""Anomalies as recorded: severities, anomaly types, thresholds, the anomaly record and its fold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

import msgspec

from ledger import AnomalyDetected, from_epoch_us, to_epoch_us
from projections.fold.event_schema import fields_of
from projections.fold.projection import Arrays, Handler, Projection

_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class AnomalySeverity(StrEnum):
    """How bad an anomaly is, ordered LOW < MEDIUM < HIGH < CRITICAL."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order (LOW is 0)."""
        return _RANK[self.value]


Severity = AnomalySeverity
"""The guide's name for :class:`AnomalySeverity`; an alert's severity is ``AlertSeverity``."""


class AnomalyType(StrEnum):
    """What kind of anomaly a rule found."""

    SUDDEN_SPIKE = "sudden_spike"
    SUDDEN_DROP = "sudden_drop"
    PATTERN_CHANGE = "pattern_change"
    THRESHOLD_BREACH = "threshold_breach"


@dataclass(frozen=True)
class AnomalyThreshold:
    """Bounds (and an optional relative-change limit) for one metric.

    Attributes:
        metric_name: the metric.
        min_value: values below this breach.
        max_value: values above this breach.
        max_deviation_percent: a change from the previous value above this many percent is a
            PATTERN_CHANGE.
        severity: the severity of what this threshold finds.
    """

    metric_name: str
    min_value: float | None = None
    max_value: float | None = None
    max_deviation_percent: float | None = None
    severity: AnomalySeverity = AnomalySeverity.MEDIUM


@dataclass(frozen=True)
class Anomaly:
    """An anomaly as recorded."""

    id: UUID
    metric_name: str
    type: AnomalyType
    severity: AnomalySeverity
    current_value: float
    expected_value: float | None
    z_score: float | None
    timestamp: datetime
    message: str

    @classmethod
    def from_event(cls, e: AnomalyDetected) -> Anomaly:
        """Build from a recorded ``AnomalyDetected``."""
        return cls(
            id=e.event_id,
            metric_name=e.metric_name,
            type=AnomalyType(e.anomaly_type),
            severity=AnomalySeverity(e.severity),
            current_value=e.current_value,
            expected_value=e.expected_value,
            z_score=e.z_score,
            timestamp=e.occurred_at,
            message=e.detail or "",
        )


@fields_of(AnomalyDetected)
class DetectedFields(msgspec.Struct, frozen=True):
    """What the anomaly fold reads of an ``AnomalyDetected``."""

    event_id: UUID
    metric_name: str
    anomaly_type: str
    severity: str
    current_value: float
    expected_value: float | None = None
    z_score: float | None = None
    detail: str | None = None


class AnomalyProjection(Projection):
    """Every recorded anomaly, in order."""

    name = "anomalies"
    version = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {"AnomalyDetected": DetectedFields}

    def __init__(self) -> None:
        super().__init__()
        self.anomalies: list[Anomaly] = []

    def _handlers(self) -> dict[str, Handler]:
        return {"AnomalyDetected": self._detected}

    def _detected(self, t: int, e: DetectedFields) -> None:
        self.anomalies.append(
            Anomaly(
                id=e.event_id,
                metric_name=e.metric_name,
                type=AnomalyType(e.anomaly_type),
                severity=AnomalySeverity(e.severity),
                current_value=e.current_value,
                expected_value=e.expected_value,
                z_score=e.z_score,
                timestamp=from_epoch_us(t),
                message=e.detail or "",
            )
        )

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as JSON-able metadata."""
        rows = [
            [
                str(a.id),
                a.metric_name,
                a.type.value,
                a.severity.value,
                a.current_value,
                a.expected_value,
                a.z_score,
                to_epoch_us(a.timestamp),
                a.message,
            ]
            for a in self.anomalies
        ]
        return {"anomalies": rows}, {}

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.anomalies = [
            Anomaly(UUID(i), m, AnomalyType(k), AnomalySeverity(s), v, x, z, from_epoch_us(t), msg)
            for i, m, k, s, v, x, z, t, msg in meta["anomalies"]
        ]
