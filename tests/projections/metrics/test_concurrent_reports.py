"""Reports asked for at the same time from several threads agree with a fresh fold.

The guide's ``await metrics.get_report()`` runs the report in a worker thread, so coroutines
gathered together report concurrently on one facade. Nothing is appended while they run, so
every one of them must count exactly what the ledger holds.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger import CostIncurred, ExplanationRecorded, Ledger, LedgerEvent, StepRecorded
from projections import CostTracker, ReliabilityMetrics, SLOTracker

LATER = datetime(2030, 1, 1, tzinfo=UTC)
T = datetime(2025, 1, 1, tzinfo=UTC)
ROUNDS = 150
CONCURRENT = 8
BATCH = 5


@pytest.fixture(autouse=True)
def _frequent_thread_switches() -> Iterator[None]:
    """Switch threads often, so an unguarded interleaving shows up in a few rounds."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def steps(i: int) -> LedgerEvent:
    return StepRecorded(agent=f"a{i % 3}", success=i % 4 != 0, tool_duration_ms=i, occurred_at=T)


def explanations(i: int) -> LedgerEvent:
    return ExplanationRecorded(workflow_id="wf", duration_ms=i, occurred_at=T)


def costs(i: int) -> LedgerEvent:
    return CostIncurred(agent="a", tool="t", category="tool", amount=Decimal("0.01"), occurred_at=T)


def count_reliability(ledger: Ledger) -> Callable[[], tuple[int, int]]:
    facade = ReliabilityMetrics(ledger=ledger, clock=lambda: LATER)

    def count() -> tuple[int, int]:
        report = facade.report()
        return report.total_steps, report.tool_calls

    return count


def count_slo(ledger: Ledger) -> Callable[[], tuple[int, int]]:
    facade = SLOTracker(ledger=ledger, clock=lambda: LATER)

    def count() -> tuple[int, int]:
        report = facade.report()
        return report.explanations, report.explanations - report.explanation_failures

    return count


def count_costs(ledger: Ledger) -> Callable[[], tuple[int, int]]:
    facade = CostTracker(ledger=ledger, clock=lambda: LATER)

    def count() -> tuple[int, int]:
        report = facade.report(since=T, until=LATER)
        return report.priced_events, int(report.total_cost * 100)  # cents of $0.01 costs

    return count


@pytest.mark.parametrize(
    ("make_event", "make_counter"),
    [
        pytest.param(steps, count_reliability, id="reliability"),
        pytest.param(explanations, count_slo, id="slo"),
        pytest.param(costs, count_costs, id="costs"),
    ],
)
def test_concurrent_reports_on_one_facade_each_count_every_event_once(
    ledger: Ledger,
    make_event: Callable[[int], LedgerEvent],
    make_counter: Callable[[Ledger], Callable[[], tuple[int, int]]],
) -> None:
    count = make_counter(ledger)
    wrong: list[tuple[int, Any]] = []

    async def rounds() -> None:
        for _ in range(ROUNDS):
            ledger.append([make_event(i) for i in range(BATCH)])
            expected = (ledger.latest_offset(), ledger.latest_offset())
            results = await asyncio.gather(
                *(asyncio.to_thread(count) for _ in range(CONCURRENT)), return_exceptions=True
            )
            wrong.extend((expected[0], r) for r in results if r != expected)

    asyncio.run(rounds())

    assert not wrong, f"{len(wrong)} of {ROUNDS * CONCURRENT} reports were wrong: {wrong[:3]}"
    assert count() == (ROUNDS * BATCH, ROUNDS * BATCH)


def test_concurrent_get_report_calls_of_the_guide_count_every_step(ledger: Ledger) -> None:
    metrics = ReliabilityMetrics(ledger=ledger, clock=lambda: LATER)
    totals: list[int] = []

    async def rounds() -> None:
        for _ in range(ROUNDS):
            ledger.append([steps(i) for i in range(BATCH)])
            reports = await asyncio.gather(*(metrics.get_report() for _ in range(CONCURRENT)))
            totals.extend(r.total_steps for r in reports)

    asyncio.run(rounds())

    assert totals == [BATCH * (n // CONCURRENT + 1) for n in range(ROUNDS * CONCURRENT)]
