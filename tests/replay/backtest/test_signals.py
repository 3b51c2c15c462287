"""Anomalies, alerts and modes back-tested: the components' recorded verdicts reproduced, incidents scored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import IncidentDeclared, IncidentResolved, open_ledger
from projections import (
    AgentMode,
    AlertManager,
    AlertSeverity,
    AnomalyDetector,
    AnomalyThreshold,
    ModeEnforcer,
)
from projections.alerting import LogAlertChannel
from projections.signals import AnomalyRules
from replay import AlertSetting, AnomalySetting, BacktestConfig, BacktestError, ModeSetting, run_backtest
from replay.backtest import parse_incidents
from tests.conftest import ManualClock

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_the_detectors_settings_reproduce_its_anomalies_and_an_incident_detected_late() -> None:
    clock = ManualClock(T0)
    with open_ledger("memory://", clock=clock) as ledger:
        detector = AnomalyDetector(ledger=ledger, clock=clock, min_baseline_samples=5)
        detector.add_threshold(AnomalyThreshold("latency", max_value=400))
        values = [100, 102, 98, 101, 99, 100, 103, 97, 350, 380, 420, 101, 99]
        for i, v in enumerate(values):
            clock.now = T0 + timedelta(minutes=i)
            detector.record_value("latency", v)
            if i == 7:
                ledger.append(IncidentDeclared(incident_id="inc-1", occurred_at=clock.now))
            detector.detect_anomalies()
        ledger.append(IncidentResolved(incident_id="inc-1", occurred_at=T0 + timedelta(minutes=11)))
        recorded = {r.event.event_id for r in ledger.read(types="AnomalyDetected")}
        rules = AnomalyRules(5, 100, (3.0, 4.0, 5.0), None, (AnomalyThreshold("latency", max_value=400),))
        result = run_backtest(ledger, BacktestConfig(anomalies=AnomalySetting(rules)))
    a = result.outcomes.anomalies
    assert a is not None and recorded and a.same_as_recorded
    assert {f.event_id for _, f in a.findings} == recorded
    # The incident began at minute 7; the first anomaly is the value of minute 8 (350): 60 s late.
    data = result.to_json()["anomalies"]["score"]
    assert (data["incidents"], data["incidents_detected"], data["delays_seconds"]) == (1, 1, [60.0])
    assert data["precision"] == 1.0 and data["recall"] == 1.0


def test_a_file_of_incidents_scores_detection_and_a_missed_one_counts() -> None:
    with open_ledger("memory://") as ledger:
        from ledger import MetricRecorded

        ledger.append(
            [
                MetricRecorded(metric_name="err", value=v, occurred_at=T0 + timedelta(minutes=i))
                for i, v in enumerate([0.01, 0.02, 0.5, 0.01, 0.01, 0.02])
            ]
        )
        incidents = (
            *parse_incidents_text("inc-a,2025-01-01T12:01:00+00:00,2025-01-01T12:04:00+00:00\n"),
            *parse_incidents_text("inc-b,2025-01-01T12:05:00+00:00,\n"),
        )
        rules = AnomalyRules(thresholds=(AnomalyThreshold("err", max_value=0.1),))
        result = run_backtest(ledger, BacktestConfig(anomalies=AnomalySetting(rules), incidents=incidents))
    score = result.to_json()["anomalies"]["score"]
    assert score["delays_seconds"] == [60.0, None] and score["recall"] == 0.5 and score["precision"] == 1.0


def parse_incidents_text(text: str) -> tuple:
    import tempfile

    path = Path(tempfile.mkstemp(suffix=".csv")[1])
    path.write_text(text)
    try:
        return parse_incidents(path)
    finally:
        path.unlink()


def test_the_managers_cooldown_reproduces_its_suppressions_and_another_cooldown_pages_less() -> None:
    clock = ManualClock(T0)
    with open_ledger("memory://", clock=clock) as ledger:
        manager = AlertManager(ledger=ledger, clock=clock, cooldown_seconds=120)
        manager.add_channel("log", LogAlertChannel())
        severities = ["warning", "warning", "high", "warning", "warning", "critical", "warning"]
        for i, severity in enumerate(severities):
            clock.now = T0 + timedelta(seconds=50 * i)
            asyncio.run(
                manager.trigger_alert("metric", "latency", AlertSeverity.parse(severity), f"slow {i}", "")
            )
        suppressed = sum(1 for r in ledger.read(types="AlertRaised") if r.event.suppressed)
        same = run_backtest(ledger, BacktestConfig(alerts=AlertSetting(120)))
        longer = run_backtest(ledger, BacktestConfig(alerts=AlertSetting(600)))
        none = run_backtest(ledger, BacktestConfig(alerts=AlertSetting(0)))
    s = same.to_json()["alerts"]
    assert (
        suppressed >= 1
        and s["same_as_recorded"]
        and s["suppressed"] == s["recorded_suppressed"] == suppressed
    )
    assert s["per_channel"] == s["recorded_per_channel"] == {"log": len(severities) - suppressed}
    # Escalations pass any cooldown: 600 s delivers the same three; none suppresses nothing.
    assert longer.to_json()["alerts"]["delivered"] == s["delivered"] == 3
    assert longer.to_json()["alerts"]["suppressed"] == 4
    assert none.to_json()["alerts"]["delivered"] == len(severities)


def test_modes_recorded_are_reproduced_and_another_mode_denies_writes() -> None:
    with open_ledger("memory://") as ledger:
        enforcer = ModeEnforcer(ledger=ledger)
        enforcer.set_mode("bot", AgentMode.EXPLORE)
        for action in ["get_user", "search_docs", "delete_user", "list_items", "write_file"]:
            enforcer.can_execute("bot", action)
        enforcer.set_mode("ops", AgentMode.EXECUTE)
        for action in ["deploy", "read_logs", "run_job"]:
            enforcer.can_execute("ops", action)
        same = run_backtest(ledger, BacktestConfig(modes=ModeSetting({"bot": AgentMode.EXPLORE})))
        stricter = run_backtest(ledger, BacktestConfig(modes=ModeSetting({"ops": AgentMode.EXPLORE})))
        with pytest.raises(BacktestError, match="agent 'nobody'"):
            run_backtest(ledger, BacktestConfig(modes=ModeSetting({"nobody": AgentMode.EXPLORE})))
    m = same.to_json()["modes"]
    assert m["same_as_recorded"] and m["ma"] == m["recorded_ma"] == 6 / 8
    s = stricter.to_json()["modes"]
    assert (s["newly_denied"], s["newly_allowed"], s["ma"]) == (2, 0, 4 / 8)
    assert {d["action"] for d in s["denied_actions"]} == {"deploy", "run_job"}


def test_bad_signal_input_is_named() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append(IncidentDeclared(incident_id="x"))
        with pytest.raises(BacktestError, match="no metric values"):
            run_backtest(ledger, BacktestConfig(anomalies=AnomalySetting()))
        # The metric asked about is named, not a placeholder.
        with pytest.raises(BacktestError, match=r"^metric 'latency': no metric values"):
            run_backtest(ledger, BacktestConfig(anomalies=AnomalySetting(metrics=("latency",))))
        with pytest.raises(BacktestError, match="no alerts"):
            run_backtest(ledger, BacktestConfig(alerts=AlertSetting()))
