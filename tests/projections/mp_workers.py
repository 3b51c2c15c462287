"""Code run in spawned processes by the multi-process projection tests (importable by ``spawn``)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


class Queue(Protocol):
    def put(self, obj: Any) -> None: ...


def reserve_repeatedly(
    url: str, limit: str, attempts: int, amount: str, barrier: Barrier, results: Queue
) -> None:
    """Try ``attempts`` reservations of ``amount`` against the shared budget; report the tally."""
    from decimal import Decimal

    from ledger import open_ledger
    from projections import BudgetExceededError, CostBudget, CostTracker

    granted = refused = 0
    with open_ledger(url) as ledger:
        tracker = CostTracker(ledger=ledger)
        tracker.set_budget(CostBudget("shared", Decimal(limit)))
        barrier.wait(timeout=60)
        for _ in range(attempts):
            try:
                tracker.reserve("shared", amount, ttl_seconds=3600)
            except BudgetExceededError:
                refused += 1
            else:
                granted += 1
    results.put((granted, refused))


def record_steps(url: str, agent: str, outcomes: list[bool]) -> None:
    """Record one step per outcome through a facade on ``url``."""
    from projections import ReliabilityMetrics, SQLMetricStorage

    storage = SQLMetricStorage(url)
    try:
        metrics = ReliabilityMetrics(storage=storage)

        async def record() -> None:
            for success in outcomes:
                await metrics.record_step(agent, success)

        asyncio.run(record())
    finally:
        storage.close()


def report_steps(url: str, results: Queue) -> None:
    """Put (total steps, SVR, steps per agent) as a facade on ``url`` reports them."""
    from projections import ReliabilityMetrics, SQLMetricStorage

    storage = SQLMetricStorage(url)
    try:
        report = ReliabilityMetrics(storage=storage).report()
        per_agent = {name: a.total_steps for name, a in report.agent_metrics.items()}
        results.put((report.total_steps, report.svr, per_agent))
    finally:
        storage.close()


def set_budget_and_spend(url: str, at: str) -> None:
    """At the fixed time ``at``: set budget ``daily`` ($1.00 a day) and spend $1.50 against it."""
    from datetime import datetime

    from ledger import open_ledger
    from projections import CostBudget, CostTracker

    now = datetime.fromisoformat(at)
    with open_ledger(url) as ledger:
        tracker = CostTracker(ledger=ledger, clock=lambda: now)
        tracker.set_budget(CostBudget("daily", "1.00", 24))
        tracker.record_tool_cost("bot", "dall_e", "1.50")


def budget_names(url: str, results: Queue) -> None:
    """Put the names of the budgets a fresh tracker on ``url`` knows."""
    from ledger import open_ledger
    from projections import CostTracker

    with open_ledger(url) as ledger:
        results.put(sorted(CostTracker(ledger=ledger).get_budgets()))
