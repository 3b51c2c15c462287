"""A frozen clock must not hide what was just recorded (issue #12, section 2).

Every guide object is driven twice: with a ``clock=`` that always returns one instant, and
under ``freezegun.freeze_time`` with the default clock. A report whose ``until`` is not given
includes every event recorded so far, including events stamped at the clock's now; explicit
windows stay half-open ``[since, until)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from ledger import Clock, utc_now
from projections import (
    AgentMode,
    AlertManager,
    AnomalyDetector,
    CostTracker,
    ModeEnforcer,
    ReliabilityMetrics,
    SLOTracker,
    TrendAnalyzer,
)
from projections.signals import AnomalyThreshold

T = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def fixed() -> datetime:
    return T


@pytest.fixture(params=["fixed-clock", "freezegun"])
def clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    """A clock that never moves: a ``clock=`` returning T, or the default clock frozen at T."""
    if request.param == "fixed-clock":
        yield fixed
    else:
        with freeze_time(T):
            yield utc_now


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_metrics_report_counts_steps_recorded_at_the_clocks_now(clock: Clock) -> None:
    metrics = ReliabilityMetrics(clock=clock)
    run(metrics.record_step("agent-a", success=True, tool_duration_ms=40.0))
    run(metrics.record_step("agent-a", success=False))
    run(metrics.record_workflow("wf-1", 2, 0, success=True, required_human=True))

    report = run(metrics.get_report())

    assert report.total_steps == 2  # type: ignore[attr-defined]
    assert report.svr == 0.5  # type: ignore[attr-defined]
    assert report.hir == 1.0  # type: ignore[attr-defined]
    assert report.tcl == 40.0  # type: ignore[attr-defined]
    assert not report.is_healthy()  # type: ignore[attr-defined]
    metrics.close()


def test_an_explicit_window_stays_half_open(clock: Clock) -> None:
    metrics = ReliabilityMetrics(clock=clock)
    run(metrics.record_step("agent-a", success=True))

    assert metrics.report(until=T).total_steps == 0
    assert metrics.report(since=T, until=T + timedelta(microseconds=1)).total_steps == 1
    assert metrics.report(since=T).total_steps == 1
    metrics.close()


def test_slo_report_counts_explanations_and_replays_at_the_clocks_now(clock: Clock) -> None:
    slo = SLOTracker(clock=clock)
    run(slo.record_mtte(thread_id="wf-1", checkpoint_id=None, duration_ms=1200, success=True))
    run(slo.record_rsr(thread_id="wf-1", checkpoint_id=None, replay_mode="strict", success=False))

    report = run(slo.get_report())

    assert report.explanations == 1  # type: ignore[attr-defined]
    assert report.mtte_p95_ms == 1200  # type: ignore[attr-defined]
    assert report.rsr == 0.0  # type: ignore[attr-defined]
    assert not report.is_rsr_compliant()  # type: ignore[attr-defined]
    slo.close()


def test_cost_report_counts_costs_recorded_at_the_clocks_now(clock: Clock) -> None:
    costs = CostTracker(clock=clock)
    costs.record_llm_cost("agent-a", 1000, 500, "gpt-4o", workflow_id="wf-1")

    report = costs.report()

    assert report.total_cost > 0
    assert report.workflows == 1
    assert report.total_tokens == 1500
    costs.close()


def test_anomalies_are_found_in_values_recorded_at_the_clocks_now(clock: Clock) -> None:
    detector = AnomalyDetector(clock=clock)
    detector.add_threshold(AnomalyThreshold("svr", min_value=0.9))
    detector.record_value("svr", 0.5)

    found = detector.detect_anomalies()

    assert [a.metric_name for a in found] == ["svr"]
    assert [a.metric_name for a in detector.get_anomalies(since=T)] == ["svr"]
    detector.close()


def test_trends_see_values_recorded_at_the_clocks_now(clock: Clock) -> None:
    trends = TrendAnalyzer(clock=clock)
    trends.record_value("svr", 0.9)
    trends.record_value("svr", 0.8, timestamp=T - timedelta(hours=1))

    assert [v for _, v in trends.points("svr")] == [0.8, 0.9]
    trends.close()


def test_alerts_raised_at_the_clocks_now_are_listed(clock: Clock) -> None:
    alerts = AlertManager(clock=clock)
    run(alerts.trigger_alert("svr_low", "agent-a", "critical", "SVR low"))

    assert [a.alert_type for a in alerts.get_alerts(since=T)] == ["svr_low"]
    assert [a.alert_type for a in alerts.get_alerts()] == ["svr_low"]
    alerts.close()


def test_mode_violations_recorded_at_the_clocks_now_are_listed(clock: Clock) -> None:
    modes = ModeEnforcer(clock=clock)
    modes.set_mode("agent-a", AgentMode.EXPLORE)
    modes.record_action("agent-a", "write_file", allowed=False)

    assert [v.agent for v in modes.get_violations()] == ["agent-a"]
    assert [v.agent for v in modes.get_violations(since=T)] == ["agent-a"]
    assert modes.get_violations(until=T) == []
    modes.close()
