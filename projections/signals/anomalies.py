"""Anomaly detection over recorded metric values; each anomaly an ``AnomalyDetected`` event, reported once.

Rules (``docs/semantics.md``, Anomaly detection):

- Thresholds apply from the first value: below ``min_value`` or above ``max_value`` is a
  THRESHOLD_BREACH (a bound of 0 works).
- The newest value is compared with a baseline of the previous values of its metric (the last
  ``baseline_size``, at least ``min_baseline_samples``): a z-score (sample standard deviation)
  above 3 is MEDIUM, above 4 HIGH, above 5 CRITICAL, typed SUDDEN_SPIKE (up) or SUDDEN_DROP
  (down). A baseline with no spread at all has no z-score; thresholds and relative changes still
  catch a move away from a flat line.
- A change from the previous value of more than ``max_deviation_percent`` (per threshold, or for
  every metric on the detector) is a PATTERN_CHANGE; from 0, any change is one.

Values are examined in the order they were recorded (ledger order), each exactly once per
detector: ``detect_anomalies()`` looks at every value recorded since its last call, values other
processes recorded included. Anomalies get ids derived from the value and the rule, so a value
examined again — after a restart, or by a second detector on the same ledger — is never reported
(or recorded) twice.
"""

from __future__ import annotations

import math
from datetime import datetime

from ledger import AnomalyDetected, Clock, DuplicateEventError, Ledger, MetricRecorded, as_utc, utc_now
from projections.fold.bound import Bound, fold_new
from projections.fold.storage import MetricStorage
from projections.signals.anomaly_fold import (
    Anomaly,
    AnomalyProjection,
    AnomalySeverity,
    AnomalyThreshold,
)
from projections.signals.anomaly_rules import AnomalyRules, examine_value
from projections.signals.polarity import Polarity
from projections.signals.series import MetricSeriesProjection, record_metric


class AnomalyDetector(Bound):
    """Threshold and statistical anomaly detection (the guide's "Anomaly Detection").

    Args:
        min_baseline_samples: previous values needed before the z-score test applies.
        storage: where events live; exclusive with ``ledger``.
        ledger: where values and anomalies are recorded (default: an in-memory ledger).
        clock: the time values and anomalies are stamped with.
        baseline_size: at most this many previous values form the baseline.
        z_thresholds: z-scores above which an anomaly is MEDIUM, HIGH, CRITICAL.
        max_deviation_percent: a relative-change limit for every metric (``None``: off).
    """

    def __init__(
        self,
        min_baseline_samples: int = 10,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        baseline_size: int = 100,
        z_thresholds: tuple[float, float, float] = (3.0, 4.0, 5.0),
        max_deviation_percent: float | None = None,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        AnomalyRules(min_baseline_samples, baseline_size)  # validates the sizes
        self.min_baseline_samples = min_baseline_samples
        self.baseline_size = baseline_size
        self.z_thresholds = z_thresholds
        self.max_deviation_percent = max_deviation_percent
        self._thresholds: dict[str, list[AnomalyThreshold]] = {}
        self._series = MetricSeriesProjection()
        self._recorded = AnomalyProjection()
        self._examined: dict[str, int] = {}

    def add_threshold(self, threshold: AnomalyThreshold) -> None:
        """Add a threshold for its metric (a metric may have several)."""
        with self._lock:
            self._thresholds.setdefault(threshold.metric_name, []).append(threshold)

    def record_value(
        self,
        metric_name: str,
        value: float,
        timestamp: datetime | None = None,
        *,
        polarity: Polarity | None = None,
    ) -> MetricRecorded:
        """Record one value (a ``MetricRecorded`` event; a naive ``timestamp`` is UTC)."""
        return record_metric(self.ledger, self.now(), metric_name, value, timestamp, polarity)

    def detect_anomalies(self, metric_name: str | None = None) -> list[Anomaly]:
        """Examine every value recorded since the last call; return the anomalies new to the ledger."""
        with self._lock:
            fold_new(self.ledger, self._series)
            names = [metric_name] if metric_name is not None else sorted(self._series.series)
            found: list[AnomalyDetected] = []
            rules = self.rules
            for name in names:
                series = self._series.get(name)
                start = self._examined.get(name, 0)
                for i in range(start, len(series)):
                    found.extend(self._examine(rules, name, i))
                self._examined[name] = len(series)
            return [Anomaly.from_event(e) for e in self._append_new(found)]

    def get_anomalies(
        self,
        metric_name: str | None = None,
        *,
        since: datetime | None = None,
        severity: AnomalySeverity | None = None,
    ) -> list[Anomaly]:
        """Return recorded anomalies (of every detector on the ledger), filtered, in order."""
        with self._lock:
            fold_new(self.ledger, self._recorded)
            lo = None if since is None else as_utc(since)
            return [
                a
                for a in self._recorded.anomalies
                if (metric_name is None or a.metric_name == metric_name)
                and (lo is None or a.timestamp >= lo)
                and (severity is None or a.severity.rank >= severity.rank)
            ]

    # -- rules --------------------------------------------------------------------------------

    @property
    def rules(self) -> AnomalyRules:
        """What this detector decides with, as data (the back-test's recorded configuration)."""
        with self._lock:
            thresholds = tuple(t for ts in self._thresholds.values() for t in ts)
        return AnomalyRules(
            self.min_baseline_samples,
            self.baseline_size,
            self.z_thresholds,
            self.max_deviation_percent,
            thresholds,
        )

    def _examine(self, rules: AnomalyRules, name: str, i: int) -> list[AnomalyDetected]:
        series = self._series.get(name)
        findings = examine_value(rules, name, series.values.array(), i, series.ids[i])
        return [f.to_event(self.now()) for f in findings]

    def _append_new(self, events: list[AnomalyDetected]) -> list[AnomalyDetected]:
        """Append; return the events this call wrote (not those already recorded)."""
        if not events:
            return []
        fold_new(self.ledger, self._recorded)
        known = {a.id for a in self._recorded.anomalies}
        fresh = [e for e in events if e.event_id not in known]
        if not fresh:
            return []
        try:
            result = self.ledger.append(fresh)
        except DuplicateEventError:
            # Another detector, configured differently, recorded one of these values' anomalies
            # with other details: keep its verdict and write the rest one by one.
            return [e for e in fresh if self._append_one(e)]
        if result.duplicates == 0:
            return fresh
        # A concurrent detector wrote some first. One transaction gives this call's new events
        # the highest offsets of the batch; duplicates keep their older offsets.
        cut = sorted(result.offsets)[-result.written] if result.written else math.inf
        return [e for e, off in zip(fresh, result.offsets, strict=True) if off >= cut]

    def _append_one(self, event: AnomalyDetected) -> bool:
        try:
            return self.ledger.append(event).written == 1
        except DuplicateEventError:
            return False
