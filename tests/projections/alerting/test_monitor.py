"""The monitor: health, SLO, budget, breaker, cost and anomaly rules against the projections, as alerts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from ledger import CostIncurred, ExplanationRecorded, Ledger, StepRecorded
from projections import (
    AlertSeverity,
    AnomalyDetector,
    AnomalyThreshold,
    AnomalyType,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerRegistry,
    CostBudget,
    CostTracker,
    Monitor,
    MonitorConfig,
    MonitorResult,
    Severity,
)
from tests.conftest import ManualClock


@pytest.fixture
def monitor(ledger: Ledger, clock: ManualClock) -> Monitor:
    return Monitor(ledger=ledger, clock=clock)


def steps(ledger: Ledger, clock: ManualClock, ok: int, failed: int) -> None:
    ledger.append(
        [StepRecorded(agent="a", success=i < ok, occurred_at=clock.now) for i in range(ok + failed)]
    )


def once(monitor: Monitor) -> MonitorResult:
    return asyncio.run(monitor.run_once())


def test_a_health_violation_alerts_once_per_cooldown(
    monitor: Monitor, ledger: Ledger, clock: ManualClock
) -> None:
    steps(ledger, clock, ok=8, failed=2)
    clock.advance(seconds=1)

    first = once(monitor)
    clock.advance(seconds=60)
    second = once(monitor)

    assert first.health_violations == ["SVR too low: 80.00% (target >95%)"]
    assert [(a.alert_type, a.source, a.severity, a.suppressed) for a in first.alerts] == [
        ("health", "svr", AlertSeverity.WARNING, False)
    ]
    assert [a.suppressed for a in second.alerts] == [True]
    assert second.delivered == []


def test_an_exceeded_budget_alerts(ledger: Ledger, clock: ManualClock) -> None:
    costs = CostTracker(ledger=ledger, clock=clock)
    costs.set_budget(CostBudget("daily", Decimal("1.00"), period_hours=24))
    costs.record_tool_cost("imager", "dall_e", "1.50")
    clock.advance(seconds=1)

    result = once(Monitor(ledger=ledger, clock=clock, costs=costs))

    assert result.budgets_exceeded == ["daily"]
    (alert,) = result.alerts
    assert (alert.alert_type, alert.source, alert.current_value, alert.threshold) == (
        "budget",
        "daily",
        1.5,
        1.0,
    )


def test_an_slo_violation_alerts(monitor: Monitor, ledger: Ledger, clock: ManualClock) -> None:
    ledger.append(ExplanationRecorded(workflow_id="wf", duration_ms=400_000, occurred_at=clock.now))
    clock.advance(seconds=1)

    result = once(monitor)

    assert result.slo_violations == ["MTTE p95 too slow: 400.0s (target <=300s)"]
    assert [(a.alert_type, a.source, a.severity) for a in result.alerts] == [
        ("slo", "mtte", AlertSeverity.HIGH)
    ]


def test_costs_of_unpriced_models_alert(monitor: Monitor, ledger: Ledger, clock: ManualClock) -> None:
    ledger.append(
        CostIncurred(model="mystery-1", prompt_tokens=1000, status="unpriced", occurred_at=clock.now)
    )
    clock.advance(seconds=1)

    (alert,) = once(monitor).alerts

    assert (alert.alert_type, alert.source) == ("cost", "unpriced")
    assert alert.title == "1,000 tokens of unpriced models (mystery-1)"


def test_an_open_breaker_alerts_until_its_timeout(
    monitor: Monitor, ledger: Ledger, clock: ManualClock
) -> None:
    breaker = CircuitBreaker("payments", ledger=ledger, clock=clock)
    for _ in range(5):
        breaker.record_failure()

    assert once(monitor).open_breakers == ["payments"]
    clock.advance(seconds=60)
    assert once(monitor).open_breakers == []


def test_without_a_registry_each_breaker_is_judged_by_its_recorded_timeout(
    monitor: Monitor, ledger: Ledger, clock: ManualClock
) -> None:
    quick = CircuitBreaker("quick", CircuitBreakerConfig(timeout_seconds=5), ledger=ledger, clock=clock)
    slow = CircuitBreaker("slow", CircuitBreakerConfig(timeout_seconds=600), ledger=ledger, clock=clock)
    for breaker in (quick, slow):
        for _ in range(5):
            breaker.record_failure()
    clock.advance(seconds=120)  # past the default 60 s, past quick's 5 s, not past slow's 600 s

    assert once(monitor).open_breakers == ["slow"]


def test_a_registry_judges_its_breakers_with_their_own_configs(ledger: Ledger, clock: ManualClock) -> None:
    registry = CircuitBreakerRegistry(ledger=ledger, clock=clock)
    slow = registry.get_breaker("payments", CircuitBreakerConfig(timeout_seconds=600))
    for _ in range(5):
        slow.record_failure()
    clock.advance(seconds=120)

    assert once(Monitor(ledger=ledger, clock=clock, breakers=registry)).open_breakers == ["payments"]


def test_values_recorded_by_hand_are_checked_against_the_detectors_rules(
    ledger: Ledger, clock: ManualClock
) -> None:
    detector = AnomalyDetector(ledger=ledger, clock=clock)
    detector.add_threshold(AnomalyThreshold("error_rate", max_value=0.10, severity=Severity.CRITICAL))
    detector.record_value("error_rate", 0.25)

    result = once(Monitor(ledger=ledger, clock=clock, detector=detector))

    (anomaly,) = result.anomalies
    assert anomaly.metric_name == "error_rate"
    assert [(a.alert_type, a.source, a.severity) for a in result.alerts] == [
        ("anomaly", "error_rate/threshold_breach", AlertSeverity.CRITICAL)
    ]
    assert once(Monitor(ledger=ledger, clock=clock, detector=detector)).anomalies == []


def test_each_run_samples_the_interval_and_a_sudden_drop_alerts(
    monitor: Monitor, ledger: Ledger, clock: ManualClock
) -> None:
    for k in range(12):
        steps(ledger, clock, ok=10 - k % 2, failed=k % 2)  # SVR 100% and 90% by turns
        clock.advance(seconds=300)
        result = once(monitor)
        assert result.anomalies == []
    steps(ledger, clock, ok=3, failed=7)
    clock.advance(seconds=300)

    result = once(monitor)

    assert result.samples["svr"] == pytest.approx(0.3)
    (anomaly,) = result.anomalies
    assert (anomaly.metric_name, anomaly.type, anomaly.severity) == (
        "monitor.svr",
        AnomalyType.SUDDEN_DROP,
        Severity.CRITICAL,
    )
    assert ("anomaly", "monitor.svr/sudden_drop") in [(a.alert_type, a.source) for a in result.delivered]


def test_run_repeats_every_interval(ledger: Ledger, clock: ManualClock) -> None:
    monitor = Monitor(ledger=ledger, clock=clock, config=MonitorConfig(interval_seconds=60))
    waits: list[float] = []
    results: list[MonitorResult] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds=seconds)

    start = clock.now
    asyncio.run(monitor.run(iterations=3, on_result=results.append, sleep=sleep))

    assert waits == [60, 60]
    assert [r.at for r in results] == [start + timedelta(seconds=s) for s in (0, 60, 120)]


def test_a_ledger_without_data_is_not_called_healthy(
    monitor: Monitor, ledger: Ledger, clock: ManualClock
) -> None:
    empty = once(monitor)
    assert (empty.healthy, empty.health_violations) == (None, [])
    assert empty.insufficient_data == ["svr", "cr", "pc", "hir", "ma"]
    steps(ledger, clock, ok=10, failed=0)
    clock.advance(seconds=1)
    assert once(monitor).healthy is True
    steps(ledger, clock, ok=0, failed=5)
    clock.advance(seconds=1)
    assert once(monitor).healthy is False
