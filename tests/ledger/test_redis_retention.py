"""Retention on Redis with a projection behind: ``ttl_days`` never drops what is not yet folded.

Events are committed on a hand clock; the clock then moves past the horizon and appends trigger
the lazy sweeps. A stored projection that lags holds the cut back until it catches up; its
totals survive the prune; the chain verifies and says what went.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from ledger import Ledger, StepRecorded, open_ledger
from projections import (
    CORE_PROJECTIONS,
    ProjectionRunner,
    RedisMetricStorage,
    ReliabilityMetrics,
    ReliabilityProjection,
    load_stored,
)
from tests.conftest import ManualClock

pytestmark = pytest.mark.redis


def steps(n: int, workflow: str, *, failing_every: int = 0) -> list[StepRecorded]:
    return [
        StepRecorded(workflow_id=workflow, agent="a", success=not failing_every or i % failing_every != 0)
        for i in range(n)
    ]


def stored_total(ledger: Ledger) -> int:
    return load_stored(ledger, ReliabilityProjection).report().total_steps


def test_a_sweep_never_drops_events_a_stored_projection_has_not_folded(
    redis_url: str, clock: ManualClock
) -> None:
    with open_ledger(redis_url, clock=clock, ttl_days=90) as ledger:
        ledger.append(steps(5, "early"))
        with ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
            runner.catch_up()  # the projection is at offset 5 ...
        ledger.append(steps(5, "late", failing_every=2))  # ... and behind these, all old soon
        clock.advance(days=100)

        ledger.append(steps(2, "today"))  # sweeps: offsets 1-10 are old, only 1-5 are folded

        assert ledger.retention is not None
        swept = ledger.retention.last
        assert swept is not None
        assert (swept.events, swept.through, swept.wanted_through) == (5, 5, 10)
        assert swept.held_back_by is not None and "at offset 5" in swept.held_back_by
        assert [r.event.workflow_id for r in ledger.read()] == ["late"] * 5 + ["today"] * 2

        with ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
            runner.catch_up()
        clock.advance(hours=1)
        ledger.append(steps(1, "today"))  # the next sweep may take the rest

        assert [r.event.workflow_id for r in ledger.read()] == ["today"] * 3
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.pruned == "pruned 10 event(s) up to offset 10"
        with ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
            runner.catch_up()
        assert stored_total(ledger) == 13
        assert load_stored(ledger, ReliabilityProjection).report().svr == pytest.approx(10 / 13)


def test_redis_metric_storage_cleans_up_after_ttl_days_and_reports_keep_their_totals(
    redis_url: str, clock: ManualClock
) -> None:
    async def record(metrics: ReliabilityMetrics, n: int, agent: str) -> None:
        for i in range(n):
            await metrics.record_step(agent=agent, success=i % 5 != 0)

    storage = RedisMetricStorage(redis_url=redis_url, ttl_days=90, clock=clock)
    try:
        recorder = ReliabilityMetrics(storage=storage, clock=clock)
        asyncio.run(record(recorder, 10, "old-agent"))
        clock.advance(days=120)
        asyncio.run(record(recorder, 5, "new-agent"))  # an append after the horizon sweeps
        clock.advance(seconds=1)  # reports cover [since, now): step past the last event

        remaining = list(storage.ledger.read())
        assert {r.event.agent for r in remaining} == {"new-agent"}
        assert storage.ledger.verify().ok

        # A facade opened now starts from the stored projection, which kept the old totals.
        report = ReliabilityMetrics(storage=storage, clock=clock).report()
        assert report.total_steps == 15
        assert report.agent_metrics["old-agent"].svr == pytest.approx(8 / 10)
        # A facade that had not folded the pruned events starts again from the stored
        # projection rather than under-count them: it reports the same totals.
        assert recorder.report().total_steps == 15
    finally:
        storage.close()


def test_redis_metric_storage_without_ttl_keeps_everything(redis_url: str, clock: ManualClock) -> None:
    storage = RedisMetricStorage(redis_url=redis_url, ttl_days=None, clock=clock)
    try:
        metrics = ReliabilityMetrics(storage=storage, clock=clock)
        asyncio.run(metrics.record_step(agent="a", success=True))
        clock.advance(days=1000)
        asyncio.run(metrics.record_step(agent="a", success=False))
        clock.advance(seconds=1)  # reports cover [since, now): step past the last event

        assert storage.ledger.retention is None
        assert storage.ledger.latest_offset() == 2
        assert len(list(storage.ledger.read())) == 2
        assert metrics.report().total_steps == 2
    finally:
        storage.close()


def test_redis_metric_storage_sweeps_no_more_than_it_is_told(redis_url: str, clock: ManualClock) -> None:
    storage = RedisMetricStorage(redis_url, ttl_days=1, clock=clock, sweep_every=timedelta(days=7))
    try:
        metrics = ReliabilityMetrics(storage=storage, clock=clock)
        asyncio.run(metrics.record_step(agent="a", success=True))  # first append: first sweep
        clock.advance(days=2)
        asyncio.run(metrics.record_step(agent="a", success=True))  # within the week: no sweep

        assert len(list(storage.ledger.read())) == 2
        clock.advance(days=6)
        asyncio.run(metrics.record_step(agent="a", success=True))

        assert [r.offset for r in storage.ledger.read()] == [3]
    finally:
        storage.close()
