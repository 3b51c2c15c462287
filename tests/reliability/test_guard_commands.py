"""``rledger alerts``, ``breakers``, ``violations``, ``trends`` and ``monitor`` on a SQLite ledger."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cli
from ledger import Ledger, StepRecorded, open_ledger
from projections import (
    AgentMode,
    AlertManager,
    AlertSeverity,
    CircuitBreaker,
    CircuitBreakerConfig,
    ModeEnforcer,
    TrendAnalyzer,
)
from tests.conftest import ManualClock, sqlite_url

START = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "cli.db")


@pytest.fixture
def db(url: str, clock: ManualClock) -> Iterator[Ledger]:
    with open_ledger(url, clock=clock) as ledger:
        yield ledger


def rledger(url: str, *argv: str) -> int:
    return cli.main(["--db", url, *argv])


def test_alerts_lists_alerts_at_a_severity_or_above(
    url: str, db: Ledger, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    manager = AlertManager(ledger=db, clock=clock)
    asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10, AlertSeverity.WARNING))
    shown = asyncio.run(manager.trigger_metric_alert("latency", 900, 500, AlertSeverity.CRITICAL))
    hidden = asyncio.run(manager.trigger_metric_alert("latency", 950, 500, AlertSeverity.CRITICAL))
    assert hidden.suppressed

    assert rledger(url, "alerts", "--severity", "high") == 0
    table = capsys.readouterr().out
    assert "latency is 900 (threshold 500)" in table
    # The table's cells, cut where its header rule's dashes are: the ids are random UUIDs,
    # which may contain "950", so the suppressed alert is looked for in every other cell.
    header, rule, *body = table.rstrip().splitlines()
    starts = [i for i, c in enumerate(rule) if c == "-" and (i == 0 or rule[i - 1] == " ")]
    names = header.split()
    rows = [
        dict(
            zip(
                names,
                [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)],
                strict=True,
            )
        )
        for line in body[:-1]
    ]
    assert [row["id"] for row in rows] == [str(shown.id)]
    assert "error_rate" not in table and str(hidden.id) not in table
    assert not any("950" in cell for row in rows for name, cell in row.items() if name != "id")
    assert table.rstrip().endswith("1 alert(s); 1 suppressed by cooldowns in all")

    assert rledger(url, "alerts", "--all", "--format", "json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(a["source"], a["severity"], a["suppressed"]) for a in lines] == [
        ("error_rate", "warning", False),
        ("latency", "critical", False),
        ("latency", "critical", True),
    ]


def test_breakers_shows_each_breakers_state_and_counters(
    url: str, db: Ledger, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    breaker = CircuitBreaker("payments", ledger=db, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    breaker.can_execute()
    CircuitBreaker("search", ledger=db, clock=clock).record_success()

    # The hand clock is in the past: against the wall clock the open breaker is overdue.
    assert rledger(url, "breakers", "--format", "json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["breaker"], r["state"], r["half_open_due"], r["failures"], r["rejected"]) for r in rows] == [
        ("payments", "open", True, 5, 1),
        ("search", "closed", False, 0, 0),
    ]
    assert rledger(url, "breakers", "--timeout-seconds", str(10**10)) == 0
    assert "payments  open" in capsys.readouterr().out


def test_breakers_judges_each_breaker_by_its_recorded_timeout(
    url: str, db: Ledger, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Opened ten minutes before the wall clock: overdue for a 60 s timeout, not for an hour.
    clock.now = datetime.now(UTC) - timedelta(minutes=10)
    short = CircuitBreaker("short", CircuitBreakerConfig(timeout_seconds=60), ledger=db, clock=clock)
    long = CircuitBreaker("long", CircuitBreakerConfig(timeout_seconds=3600), ledger=db, clock=clock)
    for breaker in (short, long):
        for _ in range(5):
            breaker.record_failure()

    assert rledger(url, "breakers", "--format", "json") == 0
    rows = {
        r["breaker"]: (r["state"], r["half_open_due"])
        for r in map(json.loads, capsys.readouterr().out.splitlines())
    }
    assert rows == {"long": ("open", False), "short": ("open", True)}


def test_violations_lists_blocked_actions_for_an_agent(
    url: str, db: Ledger, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    enforcer = ModeEnforcer(ledger=db, clock=clock)
    enforcer.set_mode("researcher", AgentMode.EXPLORE)
    enforcer.can_execute("researcher", "database_write")
    enforcer.can_execute("writer", "send_email")

    assert rledger(url, "violations", "--agent", "researcher") == 0
    out = capsys.readouterr().out
    assert "database_write" in out and "send_email" not in out
    assert out.rstrip().endswith("1 violation(s)")


def test_trends_fits_a_recorded_series_and_predicts_the_breach(
    url: str, db: Ledger, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    analyzer = TrendAnalyzer(ledger=db, clock=clock)
    for i in range(20):
        analyzer.record_value("success_rate", 0.99 - 0.001 * i, START + timedelta(hours=i))

    assert rledger(url, "trends", "success_rate", "--threshold", "0.95", "--forecast", "24") == 0
    out = capsys.readouterr().out
    assert "success_rate (recorded values): DEGRADING over 20 point(s)" in out
    assert "breach of 0.95 in 21.0 h (at 2024-06-02T16:00:00+00:00" in out

    assert rledger(url, "trends", "success_rate", "--format", "json", "--threshold", "0.95") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trend"]["direction"] == "degrading"
    assert data["degradation"]["hours_until_breach"] == pytest.approx(21.0)


def test_trends_computes_a_built_in_metric_hourly(
    url: str, db: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    db.append(
        [
            StepRecorded(
                agent="a", success=k < 10 - h // 2, occurred_at=START + timedelta(hours=h, minutes=k)
            )
            for h in range(12)
            for k in range(10)
        ]
    )

    assert rledger(url, "trends", "svr", "--hours", "12") == 0
    out = capsys.readouterr().out
    assert "svr (hourly SVR from the reliability projection): DEGRADING over 12 point(s)" in out


def test_trends_of_an_unknown_metric_or_too_little_data_is_an_error(
    url: str, db: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rledger(url, "trends", "nps") == 2
    assert "not a built-in" in capsys.readouterr().err
    assert rledger(url, "trends", "svr") == 1
    assert "not enough data" in capsys.readouterr().err


def test_monitor_once_raises_and_prints_alerts(
    url: str, db: Ledger, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Stamped an hour ago by the wall clock, so the monitor (which uses it) sees them.
    at = datetime.now(UTC) - timedelta(hours=1)
    db.append([StepRecorded(agent="a", success=i < 5, occurred_at=at) for i in range(10)])

    assert rledger(url, "monitor", "--once", "--budget", "daily=100/24", "--strict") == 1
    out = capsys.readouterr().out
    assert "ALERT [warning] SVR too low: 50.00% (target >95%)" in out
    assert "1 alert(s) delivered, 0 suppressed" in out
    assert rledger(url, "monitor", "--once") == 0  # within the cooldown: suppressed
    assert "0 alert(s) delivered, 1 suppressed" in capsys.readouterr().out
