"""Anomaly detection: thresholds from the first value, z-scores against a baseline, each value once."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from ledger import AnomalyDetected, Ledger, MetricRecorded
from projections import AnomalyDetector, AnomalyThreshold, AnomalyType, Severity
from tests.conftest import ManualClock

BASELINE = [9.0, 11.0] * 5
"""Ten values: mean 10, sample standard deviation sqrt(10/9)."""


@pytest.fixture
def detector(ledger: Ledger, clock: ManualClock) -> AnomalyDetector:
    return AnomalyDetector(ledger=ledger, clock=clock)


def record(detector: AnomalyDetector, metric: str, values: list[float]) -> None:
    for v in values:
        detector.record_value(metric, v)


def test_thresholds_apply_from_the_first_value(detector: AnomalyDetector) -> None:
    detector.add_threshold(AnomalyThreshold("error_rate", max_value=0.10, severity=Severity.HIGH))
    detector.add_threshold(AnomalyThreshold("success_rate", min_value=0.95, severity=Severity.HIGH))
    detector.record_value("error_rate", 0.15)
    detector.record_value("success_rate", 0.90)
    detector.record_value("success_rate", 0.95)  # on the bound: not below it

    found = detector.detect_anomalies()

    assert [(a.metric_name, a.type, a.severity, a.current_value, a.expected_value) for a in found] == [
        ("error_rate", AnomalyType.THRESHOLD_BREACH, Severity.HIGH, 0.15, 0.10),
        ("success_rate", AnomalyType.THRESHOLD_BREACH, Severity.HIGH, 0.90, 0.95),
    ]
    assert found[0].severity.value == "high"


def test_a_threshold_of_zero_works(detector: AnomalyDetector) -> None:
    detector.add_threshold(AnomalyThreshold("failed_payments", max_value=0))
    detector.add_threshold(AnomalyThreshold("balance", min_value=0))
    record(detector, "failed_payments", [0, 1])
    record(detector, "balance", [0, -5])

    found = detector.detect_anomalies()

    assert [(a.metric_name, a.current_value, a.expected_value) for a in found] == [
        ("balance", -5, 0),
        ("failed_payments", 1, 0),
    ]


@pytest.mark.parametrize(
    ("z", "severity"),
    [(2.9, None), (3.5, Severity.MEDIUM), (4.5, Severity.HIGH), (5.5, Severity.CRITICAL)],
)
def test_z_score_severities(detector: AnomalyDetector, z: float, severity: Severity | None) -> None:
    mean, std = statistics.mean(BASELINE), statistics.stdev(BASELINE)
    record(detector, "latency", [*BASELINE, mean + z * std])

    found = detector.detect_anomalies()

    if severity is None:
        assert found == []
    else:
        (anomaly,) = found
        assert (anomaly.type, anomaly.severity) == (AnomalyType.SUDDEN_SPIKE, severity)
        assert anomaly.z_score == pytest.approx(z)
        assert anomaly.expected_value == pytest.approx(mean)


def test_a_fall_is_a_sudden_drop(detector: AnomalyDetector) -> None:
    mean, std = statistics.mean(BASELINE), statistics.stdev(BASELINE)
    record(detector, "throughput", [*BASELINE, mean - 4.5 * std])

    (anomaly,) = detector.detect_anomalies()

    assert (anomaly.type, anomaly.severity) == (AnomalyType.SUDDEN_DROP, Severity.HIGH)
    assert anomaly.z_score == pytest.approx(-4.5)


def test_no_z_score_before_the_baseline_has_enough_values(ledger: Ledger, clock: ManualClock) -> None:
    detector = AnomalyDetector(min_baseline_samples=10, ledger=ledger, clock=clock)
    record(detector, "latency", [*BASELINE[:9], 1000.0])
    assert detector.detect_anomalies() == []

    detector.record_value("latency", 5000.0)  # now nine plus the 1000 before it: ten
    (anomaly,) = detector.detect_anomalies()
    assert anomaly.current_value == 5000.0


def test_the_baseline_is_the_latest_values_only(ledger: Ledger, clock: ManualClock) -> None:
    detector = AnomalyDetector(min_baseline_samples=10, baseline_size=10, ledger=ledger, clock=clock)
    # A wild early history falls out of the last-10 baseline; against 9/11 alone, 16 is z = 5.7.
    record(detector, "latency", [0.0, 100.0, 0.0, 100.0, *BASELINE, 16.0])

    (anomaly,) = detector.detect_anomalies()

    assert anomaly.expected_value == pytest.approx(10.0)
    assert anomaly.severity is Severity.CRITICAL


def test_a_flat_baseline_has_no_z_score_but_thresholds_still_catch_a_move(detector: AnomalyDetector) -> None:
    record(detector, "queue_depth", [0.0] * 10 + [3.0])
    assert detector.detect_anomalies() == []

    detector.add_threshold(AnomalyThreshold("queue_depth", max_deviation_percent=50))
    detector.record_value("queue_depth", 0.0)
    (anomaly,) = detector.detect_anomalies()
    assert (anomaly.type, anomaly.expected_value, anomaly.current_value) == (
        AnomalyType.PATTERN_CHANGE,
        3.0,
        0.0,
    )


def test_a_relative_change_above_the_limit_is_a_pattern_change(detector: AnomalyDetector) -> None:
    detector.add_threshold(AnomalyThreshold("cost", max_deviation_percent=50, severity=Severity.LOW))
    record(detector, "cost", [100.0, 140.0, 220.0, 0.0, 0.0, 5.0])

    found = detector.detect_anomalies()

    # 100→140 is +40%; 140→220 +57%; 220→0 -100%; 0→0 none; 0→5 from zero.
    assert [(a.expected_value, a.current_value) for a in found] == [(140.0, 220.0), (220.0, 0.0), (0.0, 5.0)]
    assert {a.type for a in found} == {AnomalyType.PATTERN_CHANGE}
    assert {a.severity for a in found} == {Severity.LOW}


def test_a_detector_wide_change_limit_applies_to_every_metric(ledger: Ledger, clock: ManualClock) -> None:
    detector = AnomalyDetector(ledger=ledger, clock=clock, max_deviation_percent=25)
    record(detector, "a", [10.0, 13.0])
    record(detector, "b", [10.0, 12.0])

    assert [(a.metric_name, a.type) for a in detector.detect_anomalies()] == [
        ("a", AnomalyType.PATTERN_CHANGE)
    ]


def test_the_same_rule_configured_twice_finds_a_value_once(ledger: Ledger, clock: ManualClock) -> None:
    detector = AnomalyDetector(ledger=ledger, clock=clock, max_deviation_percent=25)
    detector.add_threshold(AnomalyThreshold("a", max_deviation_percent=25, severity=Severity.HIGH))
    record(detector, "a", [10.0, 13.0])

    assert [(a.type, a.severity) for a in detector.detect_anomalies()] == [
        (AnomalyType.PATTERN_CHANGE, Severity.HIGH)
    ]


def test_detecting_twice_without_new_values_reports_nothing_new(detector: AnomalyDetector) -> None:
    detector.add_threshold(AnomalyThreshold("error_rate", max_value=0.1))
    detector.record_value("error_rate", 0.5)

    assert len(detector.detect_anomalies()) == 1
    assert detector.detect_anomalies() == []


def test_every_value_recorded_between_two_calls_is_examined(detector: AnomalyDetector) -> None:
    detector.add_threshold(AnomalyThreshold("error_rate", max_value=0.1))
    detector.record_value("error_rate", 0.2)
    assert [a.current_value for a in detector.detect_anomalies()] == [0.2]

    record(detector, "error_rate", [0.3, 0.05, 0.4])

    assert [a.current_value for a in detector.detect_anomalies()] == [0.3, 0.4]


def test_values_from_another_process_are_examined_and_anomalies_are_recorded_once(
    ledger: Ledger, clock: ManualClock
) -> None:
    first = AnomalyDetector(ledger=ledger, clock=clock)
    second = AnomalyDetector(ledger=ledger, clock=clock)
    for d in (first, second):
        d.add_threshold(AnomalyThreshold("error_rate", max_value=0.1))
    ledger.append(MetricRecorded(metric_name="error_rate", value=0.3))  # recorded elsewhere

    assert [a.current_value for a in first.detect_anomalies()] == [0.3]
    # The second detector examines the same value: the verdict is recorded already.
    assert second.detect_anomalies() == []
    assert [r.event.type for r in ledger.read(types="AnomalyDetected")] == ["AnomalyDetected"]
    assert [a.current_value for a in second.get_anomalies()] == [0.3]


def test_anomalies_are_events_and_can_be_read_back(
    detector: AnomalyDetector, ledger: Ledger, clock: ManualClock
) -> None:
    detector.add_threshold(AnomalyThreshold("error_rate", max_value=0.1, severity=Severity.LOW))
    detector.add_threshold(AnomalyThreshold("latency", max_value=500, severity=Severity.CRITICAL))
    detector.record_value("error_rate", 0.2)
    detector.record_value("latency", 900)
    found = detector.detect_anomalies()

    stored = [r.event for r in ledger.read(types="AnomalyDetected")]
    assert all(isinstance(e, AnomalyDetected) for e in stored)
    assert [e.event_id for e in stored] == [a.id for a in found]
    assert [(a.metric_name, a.severity) for a in detector.get_anomalies(severity=Severity.HIGH)] == [
        ("latency", Severity.CRITICAL)
    ]
    assert [a.metric_name for a in detector.get_anomalies("error_rate")] == ["error_rate"]
    assert detector.get_anomalies(since=clock.advance(seconds=1)) == []


def test_record_value_appends_a_metric_event_with_utc_time(detector: AnomalyDetector, ledger: Ledger) -> None:
    detector.record_value("latency", 120.5, datetime(2025, 3, 1, 8, 30), polarity="lower_is_better")

    (stored,) = [r.event for r in ledger.read()]
    assert isinstance(stored, MetricRecorded)
    assert (stored.metric_name, stored.value, stored.polarity) == ("latency", 120.5, "lower_is_better")
    assert stored.occurred_at == datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
