"""A report in which no health metric had data is no verdict: not healthy, not unhealthy."""

from __future__ import annotations

from ledger import Ledger
from projections import ReliabilityMetrics
from tests.projections.support import step


def test_a_report_without_data_is_neither_healthy_nor_unhealthy(metrics: ReliabilityMetrics) -> None:
    report = metrics.report()
    assert report.insufficient_data == ["svr", "cr", "pc", "hir", "ma"]
    assert report.health is None
    assert report.verdict == "NO DATA"
    assert not report.is_healthy()
    assert report.get_violations() == []


def test_one_measured_metric_gives_a_verdict(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(success=True, minute=i) for i in range(3)])
    report = metrics.report()
    assert (report.health, report.verdict, report.is_healthy()) == (True, "HEALTHY", True)
    ledger.append([step(success=False, minute=4)])
    report = metrics.report()
    assert (report.health, report.verdict, report.is_healthy()) == (False, "UNHEALTHY", False)
