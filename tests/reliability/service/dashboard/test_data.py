"""The dashboard's data: series are the report over each bucket, signals fold breakers and alerts, --html."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger import AlertDelivered, AlertRaised, CircuitTransitioned, StepRecorded, open_ledger
from projections import ReliabilityMetrics
from projections.metrics import value_of
from reliability.service.dashboard import STATIC_FILES, DashboardData, SignalIndex, bucket_for
from tests.reliability.service.conftest import ROOT

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOUR = 3_600_000_000


def step(hours: float, success: bool, agent: str = "planner") -> StepRecorded:
    at = START + timedelta(hours=hours)
    return StepRecorded(workflow_id="wf-1", agent=agent, success=success, occurred_at=at)


def test_each_bucket_of_a_series_is_the_report_over_that_hour_and_an_empty_hour_is_null() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append([step(0.1, True), step(0.5, False), step(0.7, True), step(2.2, False, "coder")])
        series = DashboardData(ledger).series()
        metrics = ReliabilityMetrics(ledger=ledger)
        assert series["bucket_seconds"] == 3600
        assert [datetime.fromtimestamp(t, UTC) for t in series["times"]] == [
            START + timedelta(hours=h) for h in range(3)
        ]
        for k, t in enumerate(series["times"]):
            start = datetime.fromtimestamp(t, UTC)
            report = metrics.report(start, start + timedelta(hours=1))
            expected = value_of(report.svr)
            assert series["metrics"]["svr"][k] == expected
        assert series["metrics"]["svr"] == [2 / 3, None, 0.0]  # the empty hour is no data, not 0
        assert series["agents"]["coder"]["svr"] == [None, None, 0.0]
        assert series["agents"]["planner"]["total_steps"] == [3.0, None, None]


def test_a_series_follows_new_events() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append([step(0.1, True)])
        data = DashboardData(ledger)
        before = data.series()
        assert before["metrics"]["svr"] == [1.0]
        ledger.append([step(0.2, False)])  # a new event in the same hour
        after = data.series()
        assert after["metrics"]["svr"] == [0.5] and after["as_of_offset"] > before["as_of_offset"]


def test_spans_up_to_eight_days_are_hourly_longer_ones_daily() -> None:
    assert bucket_for(0, 8 * 24 * HOUR) == HOUR
    assert bucket_for(0, 8 * 24 * HOUR + 1) == 24 * HOUR


def test_signals_fold_breaker_states_and_attach_deliveries_to_their_alert() -> None:
    with open_ledger("memory://") as ledger:
        raised = AlertRaised(
            alert_id="6f1d3c1e-0000-4000-8000-000000000001",
            alert_type="health",
            source="monitor",
            severity="warning",
            title="SVR too low",
        )
        ledger.append(
            [
                CircuitTransitioned(breaker="api", from_state="closed", to_state="open"),
                raised,
                AlertDelivered(alert_id=raised.alert_id, channel="log", success=False, error="disk full"),
                CircuitTransitioned(breaker="api", from_state="open", to_state="half_open"),
            ]
        )
        signals = SignalIndex()
        signals.catch_up(ledger)
        document = signals.document()
    assert [b["state"] for b in document["breakers"]] == ["half_open"]
    assert len(document["transitions"]) == 2
    (alert,) = document["alerts"]
    assert alert["deliveries"] == [{"channel": "log", "success": False, "error": "disk full"}]


def test_the_static_files_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["reliability.service.dashboard"]
    for name in STATIC_FILES:
        assert any(fnmatch.fnmatch(f"static/{name}", g) for g in globs), name
        assert (ROOT / "reliability/service/dashboard/static" / name).stat().st_size > 0


def _rledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_html_writes_one_self_contained_file_and_refuses_what_it_cannot_show(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/l.db"
    with open_ledger(db) as ledger:
        ledger.append([step(0.1, True), step(0.5, False)])
    out = tmp_path / "r.html"
    done = _rledger("--db", db, "report", "--html", str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert 'src="' not in html and 'href="/' not in html and "http://" not in html.split("</style>")[0]
    assert html.count("<script") == 3  # the data, uPlot, the page script: all inline
    assert "wf-1" in html
    refused = _rledger("--db", db, "report", "--html", str(tmp_path / "x.html"), "--since", "2026-01-01")
    assert refused.returncode == 2 and "--since does not apply to --html" in refused.stderr
    replays = _rledger("--db", db, "report", "--html", str(tmp_path / "z.html"), "--include-replays")
    assert replays.returncode == 2 and "--include-replays does not apply to --html" in replays.stderr
    unknown = _rledger("--db", db, "report", "--html", str(tmp_path / "y.html"), "--workflow", "nope")
    assert unknown.returncode == 2 and "--workflow nope: no such workflow" in unknown.stderr
    assert not any((tmp_path / f"{n}.html").exists() for n in "xyz")


def test_series_kept_bucket_by_bucket_equal_series_computed_afresh_after_late_events() -> None:
    from decimal import Decimal

    from ledger import (
        CostIncurred,
        HumanIntervened,
        LedgerEvent,
        PlanRevised,
        ToolCalled,
        WorkflowCompleted,
        WorkflowStarted,
    )

    def at(hours: float) -> datetime:
        return START + timedelta(hours=hours)

    batches: list[list[LedgerEvent]] = [
        [
            WorkflowStarted(workflow_id="a", occurred_at=at(0)),
            StepRecorded(workflow_id="a", agent="p", success=True, tool_duration_ms=40, occurred_at=at(0.5)),
            WorkflowCompleted(workflow_id="a", success=True, occurred_at=at(1.5)),
            StepRecorded(workflow_id="b", agent="q", success=False, occurred_at=at(3.2)),
            WorkflowCompleted(workflow_id="b", success=False, duration_ms=9, occurred_at=at(3.5)),
            CostIncurred(workflow_id="r", agent="p", model="m", amount=Decimal("0.25"), occurred_at=at(1)),
        ],
        # Late facts of workflow a, stamped hours after its completion: its hour-1 bucket changes.
        [
            PlanRevised(workflow_id="a", occurred_at=at(4.1)),
            HumanIntervened(workflow_id="a", occurred_at=at(4.2)),
        ],
        # a's first ToolCalled retracts its step's duration from TCL in hour 0.
        [ToolCalled(workflow_id="a", agent="p", tool="t", duration_ms=7, occurred_at=at(4.5))],
        # A later completion of b replaces the earlier one (hour 3) with one in hour 5.
        [
            WorkflowCompleted(workflow_id="b", success=True, duration_ms=5, occurred_at=at(5.1)),
            CostIncurred(workflow_id="b", agent="q", model="m", amount=Decimal("1.5"), occurred_at=at(25)),
        ],
        # An event stamped in the past, without a workflow, and a replay's start arriving after its rows.
        [
            StepRecorded(agent="q", success=False, occurred_at=at(0.2)),
            StepRecorded(workflow_id="r", agent="p", success=False, occurred_at=at(2.5)),
            WorkflowStarted(workflow_id="r", replay_of="a", occurred_at=at(2.4)),
        ],
    ]
    with open_ledger("memory://") as ledger:
        kept = DashboardData(ledger)
        for batch in batches:
            ledger.append(batch)
            incremental = kept.series()
            fresh = DashboardData(ledger).series()
            assert incremental == fresh
        assert kept._buckets.recomputed < len(incremental["times"])  # not every bucket again
        assert incremental["metrics"]["pc"][1] == 1.0 and incremental["metrics"]["hir"][1] == 1.0
        # r's cost is left out of day 1 once r turns out to be a replay; b's counts on day 2.
        assert incremental["costs"]["total"] == ["0", "1.5"]
