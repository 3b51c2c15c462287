"""The user guide's examples for mode enforcement, evidence, breakers, anomalies, alerts, trends,
the best practices that use them, and the complete example — run as written, with what they print.

Only the import changes (``from projections import …`` instead of ``from reliability import …``);
top-level ``await`` runs inside a coroutine. What the examples leave undefined (``execute_write``,
``call_external_api``, ``search_results``, the orchestrator's ``execute_workflow`` …) is a small
stand-in defined just before; lines added to make a branch of an example run are marked "added".
``datetime.utcnow()`` (deprecated since Python 3.12) is spelled ``utcnow()``: the same naive UTC
value.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger import CheckpointMarked, WorkflowStarted
from projections import (
    AgentMode,
    AlertManager,
    AlertSeverity,
    AnomalyDetector,
    AnomalyThreshold,
    AnomalyType,
    CallbackAlertChannel,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerRegistry,
    CircuitState,
    CostBudget,
    CostTracker,
    EvidenceCollector,
    ModeEnforcer,
    Monitor,
    ReliabilityMetrics,
    Severity,
    TrendAnalyzer,
    TrendDirection,
)
from replay import DecisionTrailBuilder


def utcnow() -> datetime:
    """``datetime.utcnow()`` without its deprecation: naive, UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def test_mode_enforcement(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []

    def execute_write() -> None:
        written.append("write")

    prompts: list[str] = []

    def answer_yes(prompt: str) -> str:
        prompts.append(prompt)
        return "y"

    monkeypatch.setattr("builtins.input", answer_yes)

    # -- Agent Modes --
    enforcer = ModeEnforcer()

    # EXPLORE mode - Read-only research
    enforcer.set_mode("researcher", AgentMode.EXPLORE)

    # EXECUTE mode - Can take actions
    enforcer.set_mode("executor", AgentMode.EXECUTE)

    # ESCALATE mode - Requires human approval
    enforcer.set_mode("reviewer", AgentMode.ESCALATE)

    # -- Validate Actions --
    # Check if action is allowed
    if enforcer.can_execute("researcher", "database_write"):
        # Execute action
        execute_write()
    else:
        print("✗ Action blocked - agent in EXPLORE mode")

    # Record mode adherence
    enforcer.record_action(agent="researcher", action="database_read", allowed=True)

    # Get violations
    violations = enforcer.get_violations(agent="researcher")
    for v in violations:
        print(f"Violation: {v.attempted_action} at {v.timestamp}")

    # -- Mode Rules --
    # ESCALATE mode
    # - Requires human approval callback
    enforcer.require_approval("reviewer", lambda action: input(f"Approve {action}? (y/n): ") == "y")
    assert enforcer.can_execute("reviewer", "deploy_release")  # added: the reviewer acts

    (violation,) = violations
    assert capsys.readouterr().out == (
        f"✗ Action blocked - agent in EXPLORE mode\nViolation: database_write at {violation.timestamp}\n"
    )
    assert written == []
    assert prompts == ["Approve deploy_release? (y/n): "]
    assert [r.event.type for r in enforcer.ledger.read(types=("ModeChecked", "ModeViolated"))] == [
        "ModeViolated",
        "ModeChecked",
        "ModeChecked",
    ]


def test_evidence_collection(capsys: pytest.CaptureFixture[str]) -> None:
    search_results = {"hits": [{"title": "Refund policy", "url": "https://example.com/refunds"}]}
    query_result = [{"id": 7, "name": "Ada"}]
    api_response = {"city": "Oslo", "temp_c": 4}
    user_input = "Can I get a refund for order 42?"
    plan_output = "1. look up the order 2. check the policy 3. answer"

    # -- Manual Collection --
    collector = EvidenceCollector()

    # From tool result (verified)
    evidence = collector.from_tool_result("search_api", search_results)

    # From database (verified)
    evidence = collector.from_database_read("users_table", query_result)

    # From API (verified)
    evidence = collector.from_api_response("weather_api", api_response)

    # From user input (verified)
    evidence = collector.from_user_input(user_input)

    # From agent output (claimed)
    evidence = collector.from_agent_output("planner", plan_output)

    # Get verified evidence only
    verified = collector.get_verified_evidence()
    print(f"Verified facts: {len(verified)}")

    assert capsys.readouterr().out == "Verified facts: 4\n"
    assert evidence.confidence == "claimed"
    assert [e.source for e in verified] == ["search_api", "users_table", "weather_api", "user"]


def test_evidence_in_decision_trails(capsys: pytest.CaptureFixture[str]) -> None:
    thread_id, checkpoint_id = "workflow-123", "checkpoint-456"
    collector = EvidenceCollector(workflow_id=thread_id)  # evidence of this workflow
    ledger = collector.ledger
    ledger.append(WorkflowStarted(workflow_id=thread_id, goal="answer a refund question"))
    collector.from_tool_result("search_api", {"hits": 3})
    collector.from_agent_output("planner", "refund is allowed")
    ledger.append(CheckpointMarked(workflow_id=thread_id, checkpoint_id=checkpoint_id))
    collector.from_tool_result("late_tool", "after the checkpoint")
    trail_builder = DecisionTrailBuilder(ledger)

    async def guide() -> None:
        # Evidence is automatically collected in decision trails
        trail = await trail_builder.build_trail(thread_id, checkpoint_id)

        # Filter by confidence
        verified = [e for e in trail.evidence if e.confidence == "verified"]
        claimed = [e for e in trail.evidence if e.confidence == "claimed"]

        # Audit trail
        for evidence in verified:
            print(f"Fact from {evidence.source}: {evidence.content}")
        print(f"Agent claims: {len(claimed)}")  # added

    asyncio.run(guide())

    assert capsys.readouterr().out == "Fact from search_api: {'hits': 3}\nAgent claims: 1\n"


def test_circuit_breaker_basic_usage(capsys: pytest.CaptureFixture[str]) -> None:
    def call_external_api() -> str:
        raise ConnectionError("connection reset by peer")

    # Create circuit breaker for external API
    breaker = CircuitBreaker(
        name="external_api",
        config=CircuitBreakerConfig(
            failure_threshold=5,  # Open after 5 failures
            success_threshold=2,  # Close after 2 successes
            timeout_seconds=60,  # Try again after 60s
        ),
    )

    for _ in range(6):  # added: call until the breaker opens
        # Use circuit breaker
        if breaker.can_execute():
            try:
                result = call_external_api()  # noqa: F841 (the guide's code keeps it)
                breaker.record_success()
            except Exception as e:
                breaker.record_failure()
                print(f"API call failed: {e}")
        else:
            print("Circuit open - API unavailable")

    # Check state
    if breaker.state == CircuitState.OPEN:
        print("Circuit protecting system from failures")
    elif breaker.state == CircuitState.HALF_OPEN:
        print("Circuit testing recovery")
    else:
        print("Circuit closed - operating normally")

    assert capsys.readouterr().out == (
        "API call failed: connection reset by peer\n" * 5
        + "Circuit open - API unavailable\nCircuit protecting system from failures\n"
    )


def test_circuit_breaker_registry(capsys: pytest.CaptureFixture[str]) -> None:
    registry = CircuitBreakerRegistry()

    # Get/create breakers
    api_breaker = registry.get_breaker("external_api")
    db_breaker = registry.get_breaker("database")
    cache_breaker = registry.get_breaker("redis_cache")
    for _ in range(5):  # added: the external API fails
        api_breaker.record_failure()

    # Check overall status
    status = registry.get_status()
    for name, state in status.items():
        print(f"{name}: {state}")

    # Get open circuits
    open_circuits = registry.get_open_breakers()
    if open_circuits:
        print(f"Warning: {len(open_circuits)} circuits are open")
        for name in open_circuits:
            print(f"  - {name}")

    assert capsys.readouterr().out == (
        "database: closed\nexternal_api: open\nredis_cache: closed\n"
        "Warning: 1 circuits are open\n  - external_api\n"
    )
    assert db_breaker.state is cache_breaker.state is CircuitState.CLOSED


def test_best_practice_use_circuit_breakers_for_external_services() -> None:
    calls: list[str] = []

    def call_api() -> str:
        calls.append("api")
        return "fresh"

    def use_cached_data() -> None:
        calls.append("cache")

    # Create breakers for all external dependencies
    registry = CircuitBreakerRegistry()

    api_breaker = registry.get_breaker("external_api")
    db_breaker = registry.get_breaker("database")

    for _ in range(5):  # added: the API went down a moment ago
        api_breaker.record_failure()

    # Check before calling
    if api_breaker.can_execute():
        result = call_api()  # noqa: F841 (the guide's code keeps it)
        api_breaker.record_success()
    else:
        # Fallback or queue for later
        use_cached_data()

    assert calls == ["cache"]
    assert db_breaker.can_execute()


def test_anomaly_detection_thresholds_and_statistics(capsys: pytest.CaptureFixture[str]) -> None:
    # -- Threshold-Based Detection --
    detector = AnomalyDetector(min_baseline_samples=10)

    # Configure thresholds
    detector.add_threshold(
        AnomalyThreshold(
            metric_name="error_rate",
            max_value=0.10,  # Max 10% errors
            severity=Severity.HIGH,
        )
    )

    detector.add_threshold(
        AnomalyThreshold(
            metric_name="success_rate",
            min_value=0.95,  # Min 95% success
            severity=Severity.HIGH,
        )
    )

    # Record values
    detector.record_value("error_rate", 0.05)
    detector.record_value("success_rate", 0.98)

    # Detect anomalies
    anomalies = detector.detect_anomalies()

    for anomaly in anomalies:
        print(f"{anomaly.severity.value}: {anomaly.metric_name}")
        print(f"  Current: {anomaly.current_value}")
        print(f"  Expected: {anomaly.expected_value}")

    print("---")
    detector.record_value("error_rate", 0.15)  # added: a breach
    for anomaly in detector.detect_anomalies():
        print(f"{anomaly.severity.value}: {anomaly.metric_name}")
        print(f"  Current: {anomaly.current_value}")
        print(f"  Expected: {anomaly.expected_value}")

    print("---")
    # -- Statistical Detection --
    # Build baseline (normal operation)
    for i in range(20):
        detector.record_value("latency", 100 + i)  # 100-120ms normal

    # Record spike
    detector.record_value("latency", 500)  # Anomaly!

    # Detect
    anomalies = detector.detect_anomalies()

    spikes = [a for a in anomalies if a.type == AnomalyType.SUDDEN_SPIKE]
    if spikes:
        print(f"Detected {len(spikes)} latency spikes")

    assert capsys.readouterr().out == (
        "---\nhigh: error_rate\n  Current: 0.15\n  Expected: 0.1\n---\nDetected 1 latency spikes\n"
    )
    assert spikes[0].severity is Severity.CRITICAL


def test_alert_system(capsys: pytest.CaptureFixture[str]) -> None:
    detector = AnomalyDetector()
    for i in range(20):
        detector.record_value("latency", 100 + i)
    detector.record_value("latency", 500)
    anomalies = detector.detect_anomalies()

    async def guide() -> None:
        manager = AlertManager()

        # Add custom alert handler
        def send_to_slack(alert: Any) -> None:
            print(f"🚨 ALERT: {alert.title}")
            print(f"Severity: {alert.severity.value}")
            print(f"Message: {alert.message}")
            # Send to Slack, PagerDuty, etc.

        manager.add_channel("slack", CallbackAlertChannel(send_to_slack))

        # Trigger metric alert
        await manager.trigger_metric_alert(
            metric_name="error_rate", current_value=0.15, threshold=0.10, severity=AlertSeverity.WARNING
        )

        # Trigger anomaly alert
        for anomaly in anomalies:
            await manager.trigger_anomaly_alert(anomaly)

        # Get recent alerts
        recent = manager.get_alerts(since=utcnow() - timedelta(hours=1), severity=AlertSeverity.HIGH)

        print(f"High-severity alerts in last hour: {len(recent)}")

    asyncio.run(guide())

    assert capsys.readouterr().out == (
        "🚨 ALERT: error_rate is 0.15 (threshold 0.1)\n"
        "Severity: warning\n"
        "Message: Metric error_rate is 0.15, past its threshold 0.1.\n"
        "🚨 ALERT: sudden spike in latency: 500\n"
        "Severity: critical\n"
        "Message: z-score +66.01 against the mean 109.5 of 20 values\n"
        "High-severity alerts in last hour: 1\n"
    )


def test_trend_analysis(capsys: pytest.CaptureFixture[str]) -> None:
    # -- Detect Trends --
    analyzer = TrendAnalyzer(min_data_points=10)

    # Record values over time
    base_time = utcnow()
    for i in range(20):
        timestamp = base_time + timedelta(hours=i)
        value = 0.99 - (i * 0.01)  # Degrading trend
        analyzer.record_value("success_rate", value, timestamp)

    # Analyze trend
    trend = analyzer.analyze("success_rate")

    if trend.direction == TrendDirection.DEGRADING:
        print("⚠️ Success rate degrading!")
        print(f"  Slope: {trend.slope}")
        print(f"  Confidence: {trend.confidence:.2%}")
        print(f"  Current: {trend.current_value:.2%}")
        print(f"  Predicted next: {trend.predicted_value:.2%}")

    print("---")
    # -- Forecast Values --
    # Forecast 24 hours ahead
    forecast = analyzer.forecast("success_rate", hours_ahead=24)

    for timestamp, predicted_value in forecast:
        print(f"{timestamp}: {predicted_value:.2%}")

    print("---")
    # -- Predict Degradation --
    # Check if will drop below threshold
    degradation = analyzer.detect_degradation("success_rate", threshold=0.90, forecast_hours=24)

    if degradation:
        print(f"⚠️ Will breach threshold in {degradation['hours_until_breach']:.1f} hours")
        print(f"Breach value: {degradation['breach_value']:.2%}")

    detected, forecasted, breach = capsys.readouterr().out.split("---\n")
    assert re.fullmatch(
        r"⚠️ Success rate degrading!\n  Slope: -0\.0099999\d*\n  Confidence: 100\.00%\n"
        r"  Current: 80\.00%\n  Predicted next: 79\.00%\n",
        detected,
    )
    newest = base_time.replace(tzinfo=UTC) + timedelta(hours=19)
    assert forecasted.splitlines() == [
        f"{newest + timedelta(hours=h)}: {0.80 - 0.01 * h:.2%}" for h in range(1, 25)
    ]
    # The series is at 80% already: below 90% now.
    assert breach == "⚠️ Will breach threshold in 0.0 hours\nBreach value: 80.00%\n"


def test_best_practice_monitor_continuously(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = ReliabilityMetrics()
    alert_manager = AlertManager(ledger=metrics.ledger)
    alert_manager.add_channel("log", CallbackAlertChannel(lambda a: print(f"Alert: {a.title}")))

    async def guide() -> None:
        for success in (True, False, True):  # added: some steps, one failed
            await metrics.record_step("agent", success)

        # Regular health checks
        async def monitor_health() -> None:
            report = await metrics.get_report()

            if not report.is_healthy():
                # the guide's loop over get_violations(), one alert per violation:
                await alert_manager.trigger_health_alerts(report)

        # Run every 5 minutes
        await monitor_health()
        waits: list[float] = []

        async def sleep(seconds: float) -> None:  # added: a stand-in for the 5-minute wait
            waits.append(seconds)

        # ... or let the monitor do it (health, SLOs, budgets, breakers, anomalies)
        monitor = Monitor(ledger=metrics.ledger, alerts=alert_manager, metrics=metrics)
        await monitor.run(iterations=2, sleep=sleep)
        assert waits == [300.0]

    asyncio.run(guide())

    # The monitor's runs raise the same alert within the cooldown: recorded, suppressed.
    assert capsys.readouterr().out == "Alert: SVR too low: 66.67% (target >95%)\n"
    assert alert_manager.suppressed_count("health", "svr") == 2


@pytest.mark.parametrize("works", [True, False], ids=["workflow-succeeds", "workflow-fails"])
def test_complete_example(works: bool, capsys: pytest.CaptureFixture[str]) -> None:
    async def execute_workflow() -> str:
        if not works:
            raise RuntimeError("tool failed")
        return "done"

    async def main() -> None:
        # Setup
        metrics = ReliabilityMetrics()
        breakers = CircuitBreakerRegistry()
        cost_tracker = CostTracker()
        detector = AnomalyDetector()
        alerts = AlertManager()

        # Configure
        cost_tracker.set_budget(CostBudget("daily", 100.0, 24))  # type: ignore[arg-type] # a float, as written
        detector.add_threshold(AnomalyThreshold("error_rate", max_value=0.10, severity=Severity.HIGH))
        alerts.add_channel("log", CallbackAlertChannel(lambda a: print(f"Alert: {a.title}")))

        # Execute workflow
        api_breaker = breakers.get_breaker("external_api")

        if api_breaker.can_execute() and cost_tracker.is_within_budget():
            try:
                # Do work
                result = await execute_workflow()  # noqa: F841 (the guide's code keeps it)

                # Record success
                await metrics.record_step("agent", True, "execute", "execute")
                cost_tracker.record_llm_cost("agent", 1000, 500, "gpt-4")
                api_breaker.record_success()

            except Exception:
                # Record failure
                await metrics.record_step("agent", False, "execute", "execute")
                api_breaker.record_failure()

        # Monitor
        report = await metrics.get_report()
        detector.record_value("error_rate", 1.0 - report.svr)  # type: ignore[operator] # a step was recorded

        if not report.is_healthy():
            print("⚠️ Health check failed:")
            for v in report.get_violations():
                print(f"  - {v}")

        anomalies = detector.detect_anomalies()
        for anomaly in anomalies:
            await alerts.trigger_anomaly_alert(anomaly)

        spent.append(cost_tracker.get_report().total_cost)  # added

    spent: list[Decimal] = []
    asyncio.run(main())

    if works:
        assert capsys.readouterr().out == ""
        assert spent[0] > 0
    else:
        assert spent == [Decimal(0)]
        assert capsys.readouterr().out == (
            "⚠️ Health check failed:\n  - SVR too low: 0.00% (target >95%)\n"
            "Alert: threshold breach in error_rate: 1\n"
        )
