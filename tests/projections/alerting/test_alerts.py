"""Alerts: recorded first, de-duplicated by cooldown with escalation, delivered to every channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar
from uuid import uuid4

import pytest

from ledger import AlertDelivered, AlertRaised, Ledger
from projections import (
    Alert,
    AlertChannel,
    AlertManager,
    AlertSeverity,
    AnomalyDetector,
    AnomalyThreshold,
    BudgetStatus,
    CallbackAlertChannel,
    LogAlertChannel,
    MetricsReport,
    Severity,
    SLOReport,
    UnknownAlertError,
)
from tests.conftest import ManualClock

T = TypeVar("T")
WARNING, HIGH, CRITICAL, INFO = (
    AlertSeverity.WARNING,
    AlertSeverity.HIGH,
    AlertSeverity.CRITICAL,
    AlertSeverity.INFO,
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Inbox(AlertChannel):
    """A channel that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.received.append(alert)


class Broken(AlertChannel):
    async def send(self, alert: Alert) -> None:
        raise ConnectionError("pager service unreachable")


@pytest.fixture
def manager(ledger: Ledger, clock: ManualClock) -> AlertManager:
    return AlertManager(ledger=ledger, clock=clock, cooldown_seconds=300)


def raised(ledger: Ledger) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    for r in ledger.read(types="AlertRaised"):
        assert isinstance(r.event, AlertRaised)
        out.append((r.event.source, r.event.severity, r.event.suppressed))
    return out


def test_severities_are_ordered_and_error_is_high() -> None:
    assert INFO < WARNING < HIGH < CRITICAL
    assert AlertSeverity.ERROR is HIGH
    assert sorted([CRITICAL, INFO, HIGH, WARNING]) == [INFO, WARNING, HIGH, CRITICAL]
    assert AlertSeverity.parse("error") is HIGH
    assert AlertSeverity.parse("Critical") is CRITICAL


def test_get_alerts_returns_those_at_the_severity_or_above_since_a_time(
    manager: AlertManager, clock: ManualClock
) -> None:
    run(manager.trigger_metric_alert("a", 1, 0, INFO))
    run(manager.trigger_metric_alert("b", 1, 0, WARNING))
    later = clock.advance(hours=1)
    run(manager.trigger_metric_alert("c", 1, 0, AlertSeverity.ERROR))
    run(manager.trigger_metric_alert("d", 1, 0, CRITICAL))

    assert [a.source for a in manager.get_alerts(severity=HIGH)] == ["c", "d"]
    assert [a.source for a in manager.get_alerts(severity="warning")] == ["b", "c", "d"]
    naive = later.replace(tzinfo=None)  # the guide passes datetime.utcnow(): naive is UTC
    assert [a.source for a in manager.get_alerts(since=naive)] == ["c", "d"]
    assert [a.source for a in manager.get_alerts(since=naive, severity=CRITICAL)] == ["d"]


def test_an_alert_is_recorded_before_any_channel_sees_it(manager: AlertManager, ledger: Ledger) -> None:
    seen_in_ledger: list[bool] = []

    def check(alert: Alert) -> None:
        ids = [r.event.alert_id for r in ledger.read(types="AlertRaised") if isinstance(r.event, AlertRaised)]
        seen_in_ledger.append(alert.id in ids)

    manager.add_channel("check", CallbackAlertChannel(check))
    run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))

    assert seen_in_ledger == [True]


def test_a_failing_channel_loses_nothing_and_stops_no_other_channel(
    manager: AlertManager, ledger: Ledger
) -> None:
    first, last = Inbox(), Inbox()
    manager.add_channel("first", first)
    manager.add_channel("pager", Broken())
    manager.add_channel("last", last)

    alert = run(manager.trigger_metric_alert("error_rate", 0.15, 0.10, HIGH))

    assert [a.id for a in first.received] == [alert.id]
    assert [a.id for a in last.received] == [alert.id]
    assert [(d.channel, d.success) for d in alert.deliveries] == [
        ("first", True),
        ("pager", False),
        ("last", True),
    ]
    delivered = [r.event for r in ledger.read(types="AlertDelivered")]
    assert all(isinstance(e, AlertDelivered) for e in delivered)
    assert [(e.channel, e.success, e.error) for e in delivered if isinstance(e, AlertDelivered)] == [
        ("first", True, None),
        ("pager", False, "ConnectionError: pager service unreachable"),
        ("last", True, None),
    ]
    (stored,) = manager.get_alerts()
    assert stored.id == alert.id and stored.deliveries == alert.deliveries


def test_a_channel_that_hangs_times_out_without_holding_up_the_others(
    ledger: Ledger, clock: ManualClock
) -> None:
    manager = AlertManager(ledger=ledger, clock=clock, channel_timeout_seconds=0.01)
    inbox = Inbox()

    async def hang(alert: Alert) -> None:
        await asyncio.Event().wait()

    manager.add_channel("hangs", CallbackAlertChannel(hang))
    manager.add_channel("inbox", inbox)

    alert = run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))

    assert len(inbox.received) == 1
    assert [(d.channel, d.success) for d in alert.deliveries] == [("hangs", False), ("inbox", True)]
    assert alert.deliveries[0].error == "TimeoutError: no answer within 0.01s"


def test_within_the_cooldown_a_repeat_is_suppressed_recorded_and_counted(
    manager: AlertManager, ledger: Ledger, clock: ManualClock
) -> None:
    inbox = Inbox()
    manager.add_channel("inbox", inbox)

    run(manager.trigger_metric_alert("error_rate", 0.15, 0.10, WARNING))
    clock.advance(seconds=299)
    repeat = run(manager.trigger_metric_alert("error_rate", 0.16, 0.10, WARNING))
    milder = run(manager.trigger_metric_alert("error_rate", 0.11, 0.10, INFO))

    assert repeat.suppressed and milder.suppressed
    assert len(inbox.received) == 1
    assert raised(ledger) == [
        ("error_rate", "warning", False),
        ("error_rate", "warning", True),
        ("error_rate", "info", True),
    ]
    assert manager.suppressed_count() == 2
    assert manager.suppressed_count("metric", "error_rate") == 2
    assert [a.current_value for a in manager.get_alerts(include_suppressed=True)] == [0.15, 0.16, 0.11]
    assert [a.current_value for a in manager.get_alerts()] == [0.15]


def test_after_the_cooldown_the_alert_is_delivered_again(manager: AlertManager, clock: ManualClock) -> None:
    inbox = Inbox()
    manager.add_channel("inbox", inbox)
    run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))
    clock.advance(seconds=200)
    run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))  # suppressed: no new cooldown
    clock.advance(seconds=100)

    again = run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))

    assert not again.suppressed
    assert len(inbox.received) == 2


def test_an_escalation_is_delivered_at_once_through_the_cooldown(
    manager: AlertManager, ledger: Ledger, clock: ManualClock
) -> None:
    inbox = Inbox()
    manager.add_channel("inbox", inbox)

    run(manager.trigger_metric_alert("error_rate", 0.15, 0.10, WARNING))
    clock.advance(seconds=10)
    run(manager.trigger_metric_alert("error_rate", 0.30, 0.10, CRITICAL))
    clock.advance(seconds=10)
    run(manager.trigger_metric_alert("error_rate", 0.20, 0.10, HIGH))  # milder than the last delivered

    assert [a.severity for a in inbox.received] == [WARNING, CRITICAL]
    assert raised(ledger) == [
        ("error_rate", "warning", False),
        ("error_rate", "critical", False),
        ("error_rate", "high", True),
    ]


def test_cooldowns_are_per_type_and_source(manager: AlertManager) -> None:
    inbox = Inbox()
    manager.add_channel("inbox", inbox)

    run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))
    run(manager.trigger_metric_alert("latency", 900, 500))
    run(manager.trigger_alert("health", "error_rate", WARNING, "error rate too high"))

    assert [(a.alert_type, a.source) for a in inbox.received] == [
        ("metric", "error_rate"),
        ("metric", "latency"),
        ("health", "error_rate"),
    ]


def test_managers_on_one_ledger_share_the_cooldown(ledger: Ledger, clock: ManualClock) -> None:
    one = AlertManager(ledger=ledger, clock=clock)
    two = AlertManager(ledger=ledger, clock=clock)
    run(one.trigger_metric_alert("error_rate", 0.15, 0.10))

    assert run(two.trigger_metric_alert("error_rate", 0.15, 0.10)).suppressed
    assert one.suppressed_count() == 1


def test_a_channel_added_under_an_existing_name_replaces_it(manager: AlertManager) -> None:
    old, new = Inbox(), Inbox()
    manager.add_channel("slack", old)
    manager.add_channel("slack", new)

    run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))

    assert (len(old.received), len(new.received)) == (0, 1)
    assert list(manager.channels) == ["slack"]
    manager.remove_channel("slack")
    assert list(manager.channels) == []


def test_callbacks_may_be_plain_or_async(manager: AlertManager) -> None:
    plain: list[str] = []
    awaited: list[str] = []

    async def later(alert: Alert) -> None:
        await asyncio.sleep(0)
        awaited.append(alert.title)

    manager.add_channel("plain", CallbackAlertChannel(lambda a: plain.append(a.title)))
    manager.add_channel("async", CallbackAlertChannel(later))

    alert = run(manager.trigger_metric_alert("error_rate", 0.15, 0.1))

    assert plain == awaited == [alert.title] == ["error_rate is 0.15 (threshold 0.1)"]


def test_the_log_channel_logs_at_the_severitys_level(
    manager: AlertManager, caplog: pytest.LogCaptureFixture
) -> None:
    manager.add_channel("log", LogAlertChannel("test.alerts"))

    with caplog.at_level(logging.INFO, logger="test.alerts"):
        run(manager.trigger_metric_alert("error_rate", 0.15, 0.1, HIGH))
        run(manager.trigger_metric_alert("latency", 900, 500, INFO))

    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.ERROR,
            "[HIGH] error_rate is 0.15 (threshold 0.1): Metric error_rate is 0.15, past its threshold 0.1.",
        ),
        (
            logging.INFO,
            "[INFO] latency is 900 (threshold 500): Metric latency is 900, past its threshold 500.",
        ),
    ]


def test_an_alert_is_acknowledged_once_with_who_and_when(
    manager: AlertManager, ledger: Ledger, clock: ManualClock
) -> None:
    alert = run(manager.trigger_metric_alert("error_rate", 0.15, 0.1))
    at = clock.advance(minutes=3)

    acked = manager.acknowledge(alert.id, by="ada")
    clock.advance(minutes=1)
    manager.acknowledge(str(alert.id), by="bob")

    assert (acked.acknowledged_by, acked.acknowledged_at) == ("ada", at)
    assert manager.get_alert(alert.id).acknowledged_by == "ada"
    assert [r.event.type for r in ledger.read(types="AlertAcknowledged")] == ["AlertAcknowledged"] * 2
    with pytest.raises(UnknownAlertError, match="no alert with id"):
        manager.acknowledge(uuid4(), by="ada")


def test_anomaly_alerts_map_the_anomalys_severity(
    manager: AlertManager, ledger: Ledger, clock: ManualClock
) -> None:
    detector = AnomalyDetector(ledger=ledger, clock=clock)
    detector.add_threshold(AnomalyThreshold("error_rate", max_value=0.1, severity=Severity.MEDIUM))
    detector.add_threshold(AnomalyThreshold("latency", max_value=500, severity=Severity.CRITICAL))
    detector.record_value("error_rate", 0.2)
    detector.record_value("latency", 900)

    alerts = [run(manager.trigger_anomaly_alert(a)) for a in detector.detect_anomalies()]

    assert [(a.alert_type, a.source, a.severity, a.current_value, a.threshold) for a in alerts] == [
        ("anomaly", "error_rate/threshold_breach", WARNING, 0.2, 0.1),
        ("anomaly", "latency/threshold_breach", CRITICAL, 900, 500),
    ]


def metrics_report(**values: Any) -> MetricsReport:
    fields: dict[str, Any] = dict.fromkeys(("svr", "cr", "pc", "hir", "ma", "tcl", "wct"))
    return MetricsReport(**{**fields, **values})


def test_health_alerts_come_one_per_violation_of_a_report(manager: AlertManager) -> None:
    report = metrics_report(svr=0.82, cr=0.05, ma=0.5)

    alerts = run(manager.trigger_health_alerts(report))

    assert [(a.alert_type, a.source, a.current_value, a.title) for a in alerts] == [
        ("health", "svr", 0.82, "SVR too low: 82.00% (target >95%)"),
        ("health", "ma", 0.5, "MA too low: 50.00% (target >90%)"),
    ]
    assert run(manager.trigger_health_alerts(metrics_report(svr=0.99))) == []


def test_slo_alerts_come_one_per_violated_slo(manager: AlertManager) -> None:
    report = SLOReport(
        mtte_mean_ms=1000.0,
        mtte_p50_ms=1000.0,
        mtte_p95_ms=400_000.0,
        mtte_p99_ms=500_000.0,
        explanations=10,
        explanation_failures=0,
        explanation_failure_rate=0.0,
        rsr=0.5,
        rsr_by_mode={"strict": 0.5},
        replay_attempts=2,
        replay_attempts_by_mode={"strict": 2},
    )

    alerts = run(manager.trigger_slo_alerts(report))

    assert [(a.source, a.severity, a.current_value, a.threshold) for a in alerts] == [
        ("mtte", HIGH, 400_000.0, 300_000.0),
        ("rsr", HIGH, 0.5, 0.99),
    ]


def test_a_budget_alert_names_the_budget_and_its_spend(manager: AlertManager) -> None:
    status = BudgetStatus(
        name="daily",
        currency="USD",
        limit=Decimal("100"),
        spend=Decimal("123.456"),
        reserved=Decimal(0),
        period_hours=24,
        within_budget=False,
        breaches=["total: spent 123.456 > limit 100"],
    )

    alert = run(manager.trigger_budget_alert(status))

    assert (alert.alert_type, alert.source, alert.severity) == ("budget", "daily", HIGH)
    assert alert.title == "budget daily exceeded: spent 123.46 of 100.00 USD"
    assert alert.message == "total: spent 123.456 > limit 100"
