"""The guide's "Storage Backends" examples, run as written with the facades they feed.

Only the imports change (``from projections import …``), the URLs point at the test servers
(a key prefix or schema of the test's own), and top-level ``await`` runs inside a coroutine.
The SQL example's ``get_database(...)`` connection object becomes the URL it was made from.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ledger import LedgerError
from projections import (
    CostTracker,
    MemoryMetricStorage,
    RedisMetricStorage,
    ReliabilityMetrics,
    SLOTracker,
    SQLMetricStorage,
)
from tests.conftest import sqlite_url


def test_in_memory_storage_is_the_default() -> None:
    async def guide() -> None:
        # Default - data lost on restart
        metrics = ReliabilityMetrics()
        await metrics.record_step(agent="a", success=True)
        assert metrics.ledger.url == "memory://"
        assert (await metrics.get_report()).total_steps == 1

        explicit = ReliabilityMetrics(storage=MemoryMetricStorage())
        assert (await explicit.get_report()).total_steps == 0  # each in-memory storage is its own

    asyncio.run(guide())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "metrics.db")
    url: str = request.getfixturevalue("pg_url")
    return url


def test_sql_storage_persists_metrics_to_the_database(database_url: str) -> None:
    async def guide() -> None:
        # Use SQL storage
        storage = SQLMetricStorage(database_url)
        try:
            metrics = ReliabilityMetrics(storage=storage)

            # Metrics persist to database
            await metrics.record_step(agent="a", success=True)
            await metrics.record_step(agent="a", success=False)
        finally:
            storage.close()

        reopened = SQLMetricStorage(database_url)
        try:
            report = await ReliabilityMetrics(storage=reopened).get_report()
        finally:
            reopened.close()
        assert report.total_steps == 2
        assert report.svr == pytest.approx(0.5)

    asyncio.run(guide())


@pytest.mark.redis
def test_redis_storage_shares_metrics_and_cleans_up_after_ttl_days(redis_url: str) -> None:
    async def guide() -> None:
        # Create Redis storage
        storage = RedisMetricStorage(
            redis_url=redis_url,
            ttl_days=90,  # Auto-cleanup after 90 days
        )
        try:
            metrics = ReliabilityMetrics(storage=storage)

            # Metrics stored in Redis
            await metrics.record_step(agent="a", success=True)
            await metrics.record_step(agent="b", success=False)

            assert storage.ledger.retention is not None
            assert storage.ledger.retention.policy.ttl.days == 90
        finally:
            storage.close()

        # Another process (here: another storage) sees the same metrics.
        elsewhere = RedisMetricStorage(redis_url=redis_url, ttl_days=90)
        try:
            report = await ReliabilityMetrics(storage=elsewhere).get_report()
        finally:
            elsewhere.close()
        assert report.total_steps == 2
        assert sorted(report.agent_metrics) == ["a", "b"]

    asyncio.run(guide())


@pytest.mark.redis
def test_every_facade_works_on_redis_storage(redis_url: str) -> None:
    async def guide() -> None:
        storage = RedisMetricStorage(redis_url=redis_url, ttl_days=90)
        try:
            slo = SLOTracker(storage=storage)
            await slo.record_mtte(thread_id="t1", duration_ms=1200.0)
            await slo.record_rsr(thread_id="t1", replay_mode="simulated", success=True)
            costs = CostTracker(storage=storage)
            costs.record_llm_cost(agent="a", prompt_tokens=1000, completion_tokens=500, model="gpt-4o-mini")

            slo_report = await slo.get_report()
            assert slo_report.mtte_mean_ms == pytest.approx(1200.0)
            assert slo_report.rsr == 1.0
            assert costs.report().total_cost > 0
            assert storage.ledger.latest_offset() == 3
        finally:
            storage.close()

    asyncio.run(guide())


def test_each_storage_refuses_the_other_kinds_url() -> None:
    with pytest.raises(LedgerError, match="redis://"):
        RedisMetricStorage(redis_url="sqlite:///metrics.db")
    with pytest.raises(LedgerError, match="sqlite:/// or postgresql://"):
        SQLMetricStorage("redis://localhost:6379")
