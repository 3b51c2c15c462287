"""Anomaly detection back-tested: the recorded metric values examined again under other rules.

The collector folds the metric series (``MetricSeriesProjection``, what the detector reads), the
anomalies recorded (``AnomalyProjection``) and the incidents marked in the ledger
(``IncidentDeclared``/``IncidentResolved``). :func:`simulate` examines every value with
``examine_value`` — the detector's own rules — so the detector's settings reproduce the recorded
anomalies, id for id (an anomaly's id names its value and its rule). Against incidents it scores
precision (anomalies inside an incident / anomalies), recall (incidents with an anomaly / incidents)
and detection delay (an incident's start to its first anomaly); with no incidents these are
unmeasured (``None``), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

import msgspec

from ledger import IncidentDeclared, IncidentResolved, from_epoch_us, to_epoch_us
from projections.fold import Handler, fields_of
from projections.signals import AnomalyFinding, AnomalyRules, examine_value
from replay.backtest.config import AnomalySetting, Incident
from replay.backtest.scan import Collector


@fields_of(IncidentDeclared)
class DeclaredFields(msgspec.Struct, frozen=True):
    """What the back-test reads of an ``IncidentDeclared``."""

    incident_id: str


@fields_of(IncidentResolved)
class ResolvedFields(msgspec.Struct, frozen=True):
    """What the back-test reads of an ``IncidentResolved``."""

    incident_id: str


class IncidentCollector(Collector):
    """The incidents marked in the ledger, each ``[declared, resolved)``."""

    name = "backtest_incidents"
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "IncidentDeclared": DeclaredFields,
        "IncidentResolved": ResolvedFields,
    }

    def __init__(self) -> None:
        super().__init__()
        self.spans: dict[str, list[int | None]] = {}

    def _handlers(self) -> dict[str, Handler]:
        return {"IncidentDeclared": self._declared, "IncidentResolved": self._resolved}

    def _declared(self, t: int, e: DeclaredFields) -> None:
        self.spans.setdefault(e.incident_id, [t, None])

    def _resolved(self, t: int, e: ResolvedFields) -> None:
        span = self.spans.get(e.incident_id)
        if span is not None and span[1] is None:
            span[1] = t

    def incidents(self) -> list[Incident]:
        """The incidents, in the order they were declared (one still open has no end)."""
        return [
            Incident(i, from_epoch_us(start), None if end is None else from_epoch_us(end))
            for i, (start, end) in self.spans.items()
            if start is not None
        ]


@dataclass(frozen=True)
class Score:
    """Detections scored against incidents (``None``: no incidents, or no detections, to score)."""

    incidents: int
    detected: int
    precision: float | None
    recall: float | None
    delays_seconds: tuple[float | None, ...]

    def to_json(self) -> dict[str, Any]:
        """The score as JSON."""
        delays = [d for d in self.delays_seconds if d is not None]
        return {
            "incidents": self.incidents,
            "incidents_detected": self.detected,
            "precision": self.precision,
            "recall": self.recall,
            "delays_seconds": list(self.delays_seconds),
            "mean_delay_seconds": sum(delays) / len(delays) if delays else None,
        }


def score(times_us: Sequence[int], incidents: Sequence[Incident], end_us: int) -> Score:
    """Score detections at ``times_us`` against ``incidents`` (an open one ends at ``end_us``)."""
    spans = [(to_epoch_us(i.start), end_us + 1 if i.end is None else to_epoch_us(i.end)) for i in incidents]
    inside = sum(1 for t in times_us if any(a <= t < b for a, b in spans))
    delays: list[float | None] = []
    for a, b in spans:
        hits = [t for t in times_us if a <= t < b]
        delays.append((min(hits) - a) / 1_000_000 if hits else None)
    detected = sum(1 for d in delays if d is not None)
    return Score(
        incidents=len(spans),
        detected=detected,
        precision=inside / len(times_us) if spans and times_us else None,
        recall=detected / len(spans) if spans else None,
        delays_seconds=tuple(delays),
    )


@dataclass(frozen=True)
class AnomalyOutcome:
    """The anomalies the rules would have raised, beside the recorded ones.

    Attributes:
        rules: the rules decided with.
        values: metric values examined.
        findings: what they would have raised, each stamped with its value's time.
        recorded: ``(id, metric, type, severity, detected at)`` of the anomalies recorded.
        score: the findings against the incidents; ``recorded_score`` the recorded anomalies'.
    """

    rules: AnomalyRules
    values: int
    findings: tuple[tuple[int, AnomalyFinding], ...]
    recorded: tuple[tuple[UUID, str, str, str, int], ...]
    score: Score
    recorded_score: Score

    @property
    def new(self) -> int:
        """Findings not recorded."""
        known = {r[0] for r in self.recorded}
        return sum(1 for _, f in self.findings if f.event_id not in known)

    @property
    def gone(self) -> int:
        """Recorded anomalies it would not have raised."""
        ids = {f.event_id for _, f in self.findings}
        return sum(1 for r in self.recorded if r[0] not in ids)

    @property
    def same_as_recorded(self) -> bool:
        """Whether it raises exactly the recorded anomalies (same values, rules and verdicts)."""
        mine = sorted(
            (str(f.event_id), f.metric_name, f.anomaly_type.value, f.severity.value) for _, f in self.findings
        )
        theirs = sorted((str(i), m, k, s) for i, m, k, s, _ in self.recorded)
        return mine == theirs

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON."""
        r = self.rules
        by_metric: dict[str, int] = {}
        for _, f in self.findings:
            by_metric[f.metric_name] = by_metric.get(f.metric_name, 0) + 1
        return {
            "rules": {
                "z": r.z_thresholds[0],
                "min_baseline": r.min_baseline_samples,
                "baseline_size": r.baseline_size,
                "thresholds": [
                    {
                        "metric": t.metric_name,
                        "min": t.min_value,
                        "max": t.max_value,
                        "severity": t.severity.value,
                    }
                    for t in r.thresholds
                ],
            },
            "values": self.values,
            "anomalies": len(self.findings),
            "by_metric": dict(sorted(by_metric.items())),
            "recorded_anomalies": len(self.recorded),
            "new": self.new,
            "gone": self.gone,
            "same_as_recorded": self.same_as_recorded,
            "score": self.score.to_json(),
            "recorded_score": self.recorded_score.to_json(),
            "findings": [
                {
                    "at": from_epoch_us(t).isoformat(),
                    "metric": f.metric_name,
                    "type": f.anomaly_type.value,
                    "severity": f.severity.value,
                    "value": f.current_value,
                    "detail": f.detail,
                }
                for t, f in self.findings
            ],
        }


def simulate(
    series: Any, recorded: Any, setting: AnomalySetting, incidents: Sequence[Incident], end_us: int
) -> AnomalyOutcome:
    """Examine every collected value under ``setting.rules``; score against ``incidents``.

    ``series`` is the folded ``MetricSeriesProjection``, ``recorded`` the ``AnomalyProjection``.
    """
    rules = setting.rules
    found: list[tuple[int, AnomalyFinding]] = []
    values = 0
    for name in sorted(series.series):
        s = series.series[name]
        array, times = s.values.array(), s.times.array()
        thresholds = rules.for_metric(name)
        values += len(array)
        for i in range(len(array)):
            found.extend(
                (int(times[i]), f) for f in examine_value(rules, name, array, i, s.ids[i], thresholds)
            )
    rec = tuple(
        (a.id, a.metric_name, a.type.value, a.severity.value, to_epoch_us(a.timestamp))
        for a in recorded.anomalies
    )
    return AnomalyOutcome(
        rules=rules,
        values=values,
        findings=tuple(found),
        recorded=rec,
        score=score([t for t, _ in found], incidents, end_us),
        recorded_score=score([r[4] for r in rec], incidents, end_us),
    )
