"""The anomaly rules as data and one pure function that applies them to a value of a series.

:class:`AnomalyRules` is everything a detector decides with (thresholds, the z-score levels,
the baseline sizes, the relative-change limit); :func:`examine_value` decides one value against the
values before it. The detector (:mod:`projections.signals.anomalies`) and the back-test
(``replay.backtest``) both call it, so a what-if is the same rules with other numbers, not
another implementation (``docs/semantics.md``, Anomaly detection).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import numpy as np
import numpy.typing as npt

from ledger import AnomalyDetected
from projections.signals.anomaly_fold import AnomalySeverity, AnomalyThreshold, AnomalyType


@dataclass(frozen=True)
class AnomalyRules:
    """What an anomaly detector decides with.

    Attributes:
        min_baseline_samples: previous values needed before the z-score test applies.
        baseline_size: at most this many previous values form the baseline.
        z_thresholds: z-scores above which an anomaly is MEDIUM, HIGH, CRITICAL.
        max_deviation_percent: a relative-change limit for every metric (``None``: off).
        thresholds: per-metric bounds, in the order they were added.
    """

    min_baseline_samples: int = 10
    baseline_size: int = 100
    z_thresholds: tuple[float, float, float] = (3.0, 4.0, 5.0)
    max_deviation_percent: float | None = None
    thresholds: tuple[AnomalyThreshold, ...] = ()

    def __post_init__(self) -> None:
        if self.min_baseline_samples < 2 or self.baseline_size < self.min_baseline_samples:
            raise ValueError("need 2 <= min_baseline_samples <= baseline_size")

    def for_metric(self, name: str) -> list[AnomalyThreshold]:
        """The thresholds of one metric, in order."""
        return [t for t in self.thresholds if t.metric_name == name]

    def z_severity(self, z: float) -> AnomalySeverity | None:
        """The severity of an absolute z-score, or ``None`` below the MEDIUM level."""
        medium, high, critical = self.z_thresholds
        if z > critical:
            return AnomalySeverity.CRITICAL
        if z > high:
            return AnomalySeverity.HIGH
        if z > medium:
            return AnomalySeverity.MEDIUM
        return None


@dataclass(frozen=True)
class AnomalyFinding:
    """One rule's verdict on one value; its id names the value and the rule."""

    event_id: UUID
    metric_name: str
    anomaly_type: AnomalyType
    severity: AnomalySeverity
    current_value: float
    expected_value: float | None
    detail: str
    z_score: float | None = None

    def to_event(self, occurred_at: datetime) -> AnomalyDetected:
        """The ``AnomalyDetected`` event that records this finding at ``occurred_at``."""
        return AnomalyDetected(
            event_id=self.event_id,
            metric_name=self.metric_name,
            anomaly_type=self.anomaly_type.value,
            severity=self.severity.value,
            current_value=self.current_value,
            expected_value=self.expected_value,
            detail=self.detail,
            z_score=self.z_score,
            occurred_at=occurred_at,
        )


def examine_value(
    rules: AnomalyRules,
    name: str,
    values: npt.NDArray[np.float64],
    i: int,
    value_id: str,
    thresholds: list[AnomalyThreshold] | None = None,
) -> list[AnomalyFinding]:
    """The anomalies of ``values[i]`` (metric ``name``) against the values before it.

    Args:
        rules: what to decide with.
        name: the metric.
        values: the metric's values in arrival order.
        i: the index of the value examined.
        value_id: the ``MetricRecorded`` event id of that value (anomaly ids derive from it).
        thresholds: the metric's thresholds (default: looked up in ``rules``; pass them to
            skip the look-up when examining a whole series).
    """
    value = float(values[i])
    out: list[AnomalyFinding] = []

    def found(
        rule: str,
        kind: AnomalyType,
        severity: AnomalySeverity,
        expected: float | None,
        detail: str,
        z_score: float | None = None,
    ) -> None:
        # The id names the value and the rule: the same finding is the same event everywhere.
        event_id = uuid5(NAMESPACE_URL, f"rledger:anomaly/{value_id}/{rule}")
        if any(f.event_id == event_id for f in out):
            return  # two configured rules that are the same rule find the same thing once
        out.append(AnomalyFinding(event_id, name, kind, severity, value, expected, detail, z_score))

    previous = float(values[i - 1]) if i > 0 else None
    for t in rules.for_metric(name) if thresholds is None else thresholds:
        if t.min_value is not None and value < t.min_value:
            found(
                f"min:{t.min_value!r}",
                AnomalyType.THRESHOLD_BREACH,
                t.severity,
                t.min_value,
                f"{value:g} below min {t.min_value:g}",
            )
        if t.max_value is not None and value > t.max_value:
            found(
                f"max:{t.max_value!r}",
                AnomalyType.THRESHOLD_BREACH,
                t.severity,
                t.max_value,
                f"{value:g} above max {t.max_value:g}",
            )
        if t.max_deviation_percent is not None and previous is not None:
            _pattern(found, value, previous, t.max_deviation_percent, t.severity)
    if rules.max_deviation_percent is not None and previous is not None:
        _pattern(found, value, previous, rules.max_deviation_percent, AnomalySeverity.MEDIUM)

    baseline = values[max(0, i - rules.baseline_size) : i]
    if len(baseline) >= rules.min_baseline_samples:
        mean = float(np.mean(baseline))
        std = float(np.std(baseline, ddof=1))
        if std > 1e-12 * max(1.0, abs(mean)):
            z = (value - mean) / std
            severity = rules.z_severity(abs(z))
            if severity is not None:
                kind = AnomalyType.SUDDEN_SPIKE if z > 0 else AnomalyType.SUDDEN_DROP
                detail = f"z-score {z:+.2f} against the mean {mean:g} of {len(baseline)} values"
                found("z", kind, severity, mean, detail, z)
    return out


def _pattern(
    found: Callable[..., None],
    value: float,
    previous: float,
    limit: float,
    severity: AnomalySeverity,
) -> None:
    change = math.inf if previous == 0 else abs(value - previous) / abs(previous) * 100
    if value != previous and change > limit:
        shown = "from 0" if previous == 0 else f"{change:.1f}%"
        found(
            f"change:{limit!r}",
            AnomalyType.PATTERN_CHANGE,
            severity,
            previous,
            f"changed {shown} from the previous value {previous:g} (limit {limit:g}%)",
        )
