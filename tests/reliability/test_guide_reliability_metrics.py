"""The guide's "Reliability Metrics" blocks, run as written, and what they print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger import StepRecorded, WorkflowCompleted
from tests.reliability import guide
from tests.reliability.guide import block, run

SECTION = "Reliability Metrics"


def test_basic_per_agent_and_performance_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    ns: dict[str, Any] = {}
    run(block(SECTION, "Basic Usage"), ns)

    # What was recorded: one successful, compliant step; one workflow with 2 retries.
    steps = [r.event for r in ns["metrics"].ledger.read(types="StepRecorded")]
    assert all(isinstance(s, StepRecorded) for s in steps) and len(steps) == 1
    svr = sum(s.success for s in steps) / len(steps)
    assert capsys.readouterr().out.splitlines() == [
        f"SVR: {svr:.2%} (target >95%)",
        "CR: 0.00% (target <10%)",
        "PC: 2.0 (target <2)",
        "HIR: 0.00% (target <5%)",
        "MA: 100.00% (target >90%)",
        "✗ Violations:",
        "  - PC too high: 2.00 (target <2)",
    ]
    assert svr == 1.0

    run(block(SECTION, "Per-Agent Metrics"), ns)
    assert capsys.readouterr().out.splitlines() == [
        "",
        "data_processor:",
        "  SVR: 100.00%",
        "  CR: 0.00%",
        "  MA: 100.00%",
        "  Total steps: 1",
    ]

    run(block(SECTION, "Performance Metrics"), ns)
    completed = [r.event for r in ns["metrics"].ledger.read(types="WorkflowCompleted")]
    assert all(isinstance(w, WorkflowCompleted) for w in completed)
    timed = [w.duration_ms for w in completed if w.duration_ms is not None]
    assert timed == [5000]  # workflow-001 gave no duration: it stays out of the mean
    assert capsys.readouterr().out.splitlines() == [
        "Average Tool Latency: 250ms",
        f"Average Workflow Time: {sum(timed) / len(timed):.0f}ms",
    ]
    assert ns["report"].svr == 1.0 and ns["report"].total_steps == 2


def test_an_unmeasured_metric_prints_n_a_in_the_guides_lines(capsys: pytest.CaptureFixture[str]) -> None:
    # The guide's print lines on a report with steps but no mode observations, no workflows.
    ns: dict[str, Any] = {}
    run(block(SECTION, "Basic Usage"), ns)
    capsys.readouterr()
    report = ns["metrics"].report(until=None)
    empty = type(ns["metrics"])().report()
    assert f"{empty.svr:.2%} {empty.pc:.1f} {empty.ma:.2%}" == "n/a n/a n/a"
    assert empty.svr == None and report.svr == 1.0  # noqa: E711 - Measure equals None unmeasured


def test_a_missing_guide_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(guide, "GUIDE", tmp_path / "reliability-guide.md")
    with pytest.raises(AssertionError, match="the user's guide is missing"):
        guide.block(SECTION, "Basic Usage")
