"""Concurrent reservations from several processes can never jointly exceed a budget.

Each process runs its own ``CostTracker`` on the same SQLite file or PostgreSQL schema and tries
many reservations against one shared budget at once; the ledger is then read back.
"""

from __future__ import annotations

import multiprocessing
import time
from decimal import Decimal
from multiprocessing.process import BaseProcess
from pathlib import Path
from uuid import UUID

import pytest

from ledger import BudgetReservationReleased, BudgetReserved, open_ledger
from tests.conftest import sqlite_url
from tests.projections import mp_workers

pytestmark = pytest.mark.slow

SPAWN = multiprocessing.get_context("spawn")
PROCESSES = 4
ATTEMPTS_EACH = 20
LIMIT = "30"
AMOUNT = "1.00"
TIMEOUT = 120.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "shared.db")
    url: str = request.getfixturevalue("pg_url")
    return url


def run_reservers(url: str) -> list[tuple[int, int]]:
    """Run the reserving processes (released together); return each one's (granted, refused)."""
    barrier = SPAWN.Barrier(PROCESSES)
    results = SPAWN.Queue()
    processes: list[BaseProcess] = [
        SPAWN.Process(
            target=mp_workers.reserve_repeatedly,
            args=(url, LIMIT, ATTEMPTS_EACH, AMOUNT, barrier, results),
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    deadline = time.monotonic() + TIMEOUT
    tallies = []
    try:
        for _ in processes:
            tallies.append(results.get(timeout=max(deadline - time.monotonic(), 0.1)))
    finally:
        for process in processes:
            process.join(timeout=max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join()
        results.close()
        results.join_thread()
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    return tallies


def test_concurrent_reservations_never_exceed_the_budget_and_fill_it_exactly(
    shared_url: str,
) -> None:
    with open_ledger(shared_url):
        pass  # create the tables once, before the race

    tallies = run_reservers(shared_url)

    assert sum(granted for granted, _ in tallies) == 30
    assert sum(refused for _, refused in tallies) == PROCESSES * ATTEMPTS_EACH - 30
    with open_ledger(shared_url) as ledger:
        outstanding = highest = Decimal(0)
        amounts: dict[UUID, Decimal] = {}
        reserved = []
        for record in ledger.read():
            event = record.event
            if isinstance(event, BudgetReserved):
                amounts[event.reservation_id] = event.amount
                outstanding += event.amount
                reserved.append(record)
            elif isinstance(event, BudgetReservationReleased):
                outstanding -= amounts.pop(event.reservation_id)
            highest = max(highest, outstanding)
        assert highest == outstanding == Decimal(LIMIT)
        assert len(reserved) == 30
        assert [r.version for r in reserved] == list(range(1, 31))
        assert {r.stream for r in reserved} == {"budget:shared"}
