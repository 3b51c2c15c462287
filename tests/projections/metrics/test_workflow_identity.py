"""One workflow id is one workflow: a later ``WorkflowCompleted`` of an id replaces the earlier one.

Its totals and flags count and the earlier completion's don't, in all-time and windowed reports
(a window counts an id when its latest completion, by that completion's own time, falls inside).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from ledger import Ledger
from projections import ReliabilityMetrics
from tests.conftest import ManualClock
from tests.projections.support import T0, completed


def test_a_workflow_completed_twice_is_one_workflow(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    asyncio.run(metrics.record_workflow("wf-1", 2, 1, required_human=True))
    asyncio.run(metrics.record_workflow("wf-1", 2, 1, required_human=True))
    asyncio.run(metrics.record_workflow("wf-2", 2, 0))
    report = metrics.report()
    assert report.total_workflows == 2
    assert report.hir == 0.5
    assert report.pc == 0.5


def test_the_later_completion_replaces_the_earlier_ones_totals_and_flags(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            completed("wf-1", minute=1, total_retries=4, required_human=True, duration_ms=100.0),
            completed("wf-1", minute=2, total_retries=0, required_human=False, duration_ms=300.0),
        ]
    )
    report = metrics.report()
    assert (report.total_workflows, report.pc, report.hir, report.wct) == (1, 0.0, 0.0, 300.0)


def test_a_window_counts_an_id_by_the_time_of_its_latest_completion(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            completed("wf-1", minute=1, total_retries=4),
            completed("wf-1", minute=10, total_retries=2),
            completed("wf-2", minute=2, total_retries=1),
        ]
    )
    early = metrics.report(T0, T0 + timedelta(minutes=5))
    assert (early.total_workflows, early.pc) == (1, 1.0)  # wf-1's earlier completion no longer counts
    late = metrics.report(T0 + timedelta(minutes=5), T0 + timedelta(minutes=20))
    assert (late.total_workflows, late.pc) == (1, 2.0)
    both = metrics.report(T0, T0 + timedelta(minutes=20))
    assert (both.total_workflows, both.pc) == (2, 1.5)
    assert both.pc == metrics.report().pc


def test_the_all_time_report_follows_a_completion_folded_after_it(
    ledger: Ledger, metrics: ReliabilityMetrics, clock: ManualClock
) -> None:
    ledger.append([completed("wf-1", minute=1, total_retries=4, required_human=True)])
    assert (metrics.report().total_workflows, metrics.report().hir) == (1, 1.0)
    ledger.append([completed("wf-1", minute=2, total_retries=0)])
    assert (metrics.report().total_workflows, metrics.report().hir, metrics.report().pc) == (1, 0.0, 0.0)
