"""Budgets live in the ledger: set, changed and removed as events, seen by every tracker and process.

A budget's rolling window of P hours ending at now is ``now - P < t <= now``: it includes its end
instant, so with a frozen clock (a fixed ``clock=`` or freezegun) a cost just recorded counts.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from ledger import BudgetBreached, BudgetRemoved, BudgetSet, Ledger, open_ledger
from projections import CostBudget, CostTracker, UnknownBudgetError
from tests.conftest import ManualClock, sqlite_url
from tests.projections import mp_workers

SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 120.0
T = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def events_of(ledger: Ledger, event_type: type[Any]) -> list[Any]:
    return [r.event for r in ledger.read() if isinstance(r.event, event_type)]


# -- recorded in the ledger ---------------------------------------------------------------------


def test_a_budget_set_is_an_event_another_tracker_on_the_ledger_judges_by(
    ledger: Ledger, clock: ManualClock
) -> None:
    CostTracker(ledger=ledger, clock=clock).set_budget(
        CostBudget("daily", "1.00", 24, category_limits={"image": "0.50"}, agent_limits={"bot": 2})
    )
    other = CostTracker(ledger=ledger, clock=clock)
    other.record_tool_cost(
        "bot", "dall_e", "0.60", category="image", occurred_at=clock() - timedelta(hours=1)
    )

    [event] = events_of(ledger, BudgetSet)
    assert (event.budget, event.total_limit, event.period_hours) == ("daily", Decimal("1.00"), 24)
    assert event.category_limits == {"image": Decimal("0.50")}
    assert other.get_budgets() == {
        "daily": CostBudget("daily", "1.00", 24, category_limits={"image": "0.50"}, agent_limits={"bot": 2})
    }
    assert not other.is_within_budget("daily")
    assert other.get_budget_status("daily").breaches == ["category:image: spent 0.60 > limit 0.50"]
    assert [b.name for b in other.report().budgets] == ["daily"]
    assert [(b.budget, b.scope) for b in events_of(ledger, BudgetBreached)] == [("daily", "category:image")]


def test_setting_the_same_budget_again_appends_nothing_and_a_change_is_a_new_event(
    ledger: Ledger, clock: ManualClock
) -> None:
    one = CostTracker(ledger=ledger, clock=clock)
    two = CostTracker(ledger=ledger, clock=clock)
    one.set_budget(CostBudget("daily", "1.00", 24))
    two.set_budget(CostBudget("daily", 1, 24))  # the same values, another tracker
    one.set_budget(CostBudget("daily", "1.00", 24))
    assert len(events_of(ledger, BudgetSet)) == 1

    two.set_budget(CostBudget("daily", "5.00", 24))
    one.set_budget(CostBudget("daily", "1.00", 24))  # back to the first: a change again

    assert [e.total_limit for e in events_of(ledger, BudgetSet)] == [Decimal("1.00"), Decimal(5), Decimal(1)]
    assert two.get_budgets()["daily"].total_limit == Decimal("1.00")


def test_removing_a_budget_is_an_event_and_every_tracker_forgets_it(
    ledger: Ledger, clock: ManualClock
) -> None:
    one = CostTracker(ledger=ledger, clock=clock)
    two = CostTracker(ledger=ledger, clock=clock)
    one.set_budget(CostBudget("daily", "1.00", 24))
    one.set_budget(CostBudget("weekly", "5.00", 168))
    assert sorted(two.get_budgets()) == ["daily", "weekly"]

    two.remove_budget("daily")

    assert [e.budget for e in events_of(ledger, BudgetRemoved)] == ["daily"]
    assert sorted(one.get_budgets()) == ["weekly"]
    with pytest.raises(UnknownBudgetError, match="no budget named 'daily' \\(set ones: weekly\\)"):
        one.is_within_budget("daily")
    with pytest.raises(UnknownBudgetError):
        one.remove_budget("daily")
    assert len(events_of(ledger, BudgetRemoved)) == 1

    one.set_budget(CostBudget("daily", "2.00", 24))  # set again after its removal
    assert two.get_budgets()["daily"].total_limit == Decimal("2.00")


def test_a_budget_kept_for_this_tracker_only_is_not_recorded_and_overrides_the_ledgers(
    ledger: Ledger, clock: ManualClock
) -> None:
    one = CostTracker(ledger=ledger, clock=clock)
    one.set_budget(CostBudget("daily", "100", 24))
    here = CostTracker(ledger=ledger, clock=clock)
    here.set_budget(CostBudget("daily", "1.00", 24), record=False)
    here.set_budget(CostBudget("test", "1.00", 24), record=False)
    here.record_tool_cost("a", "t", "2.00", occurred_at=clock() - timedelta(hours=1))

    assert [e.total_limit for e in events_of(ledger, BudgetSet)] == [Decimal(100)]
    assert not here.is_within_budget("daily") and one.is_within_budget("daily")
    assert sorted(one.get_budgets()) == ["daily"]
    assert sorted(here.get_budgets()) == ["daily", "test"]


def test_a_budget_event_with_a_negative_limit_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="total_limit"):
        BudgetSet(budget="daily", total_limit=Decimal(-1))
    with pytest.raises(ValueError, match="period_hours"):
        BudgetSet(budget="daily", total_limit=Decimal(1), period_hours=0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "shared.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.mark.slow
def test_a_budget_set_in_one_process_is_judged_in_another(shared_url: str) -> None:
    process = SPAWN.Process(target=mp_workers.set_budget_and_spend, args=(shared_url, T.isoformat()))
    process.start()
    process.join(TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join()
    assert process.exitcode == 0

    with open_ledger(shared_url) as ledger:
        tracker = CostTracker(ledger=ledger, clock=lambda: T)
        assert tracker.get_budgets() == {"daily": CostBudget("daily", "1.00", 24)}
        status = tracker.get_budget_status("daily")
        assert (status.spend, status.within_budget) == (Decimal("1.50"), False)
        tracker.remove_budget("daily")

    results = SPAWN.Queue()
    process = SPAWN.Process(target=mp_workers.budget_names, args=(shared_url, results))
    process.start()
    assert results.get(timeout=TIMEOUT) == []
    process.join(TIMEOUT)
    assert process.exitcode == 0


# -- the window includes its end: frozen clocks -------------------------------------------------


def test_the_rolling_window_excludes_its_start_and_includes_its_end(
    ledger: Ledger, clock: ManualClock
) -> None:
    tracker = CostTracker(ledger=ledger, clock=clock)
    tracker.set_budget(CostBudget("daily", Decimal("1.00"), 24))
    now = clock()
    tracker.record_tool_cost("a", "t", "5.00", occurred_at=now - timedelta(hours=24))
    tracker.record_tool_cost(
        "a", "t", "0.70", occurred_at=now - timedelta(hours=24) + timedelta(microseconds=1)
    )
    tracker.record_tool_cost("a", "t", "0.30", occurred_at=now)
    assert events_of(ledger, BudgetBreached) == []
    tracker.record_tool_cost("a", "t", "9.00", occurred_at=now + timedelta(microseconds=1))

    assert tracker.get_budget_status("daily").spend == Decimal("1.00")  # not yet spent now
    assert tracker.is_within_budget()


def test_with_a_fixed_clock_a_cost_just_recorded_counts_and_breaches_once() -> None:
    tracker = CostTracker(clock=lambda: T)
    tracker.set_budget(CostBudget("daily", "1.00", 24))
    tracker.record_tool_cost("a", "t", "0.60")
    assert tracker.get_budget_status("daily").spend == Decimal("0.60")
    assert tracker.is_within_budget()

    tracker.record_tool_cost("a", "t", "0.60")
    tracker.record_llm_cost("a", 1000, 500, "gpt-4")

    status = tracker.get_budget_status("daily")
    assert (status.spend, status.within_budget) == (Decimal("1.26"), False)
    assert not tracker.is_within_budget()
    assert [(b.scope, b.spend) for b in events_of(tracker.ledger, BudgetBreached)] == [
        ("total", Decimal("1.20"))
    ]
    tracker.close()


def test_under_freezegun_a_cost_just_recorded_counts() -> None:
    with freeze_time("2025-06-01 08:00:00"):
        tracker = CostTracker()
        tracker.set_budget(CostBudget("daily", "1.00", 24))
        tracker.record_tool_cost("a", "dall_e", "0.50")
        assert tracker.get_budget_status("daily").spend == Decimal("0.50")
        tracker.record_tool_cost("a", "dall_e", "0.51")
        assert not tracker.is_within_budget()
        assert [b.spend for b in tracker.get_report().budgets] == [Decimal("1.01")]
        tracker.close()


def test_overrides_held_for_a_block_give_back_the_ones_before_and_append_nothing() -> None:
    with open_ledger("memory://") as ledger:
        tracker = CostTracker(ledger=ledger)
        tracker.set_budget(CostBudget("daily", "1.00", 24))  # the ledger's
        tracker.set_budget(CostBudget("weekly", "5.00", 168), record=False)  # this tracker's own
        before = ledger.latest_offset()

        with tracker.overriding([CostBudget("daily", "0.10", 24), CostBudget("hourly", "0.01", 1)]):
            held = tracker.get_budgets()
        after = tracker.get_budgets()
        appended = ledger.latest_offset() - before

    assert held["daily"].total_limit == Decimal("0.10") and "hourly" in held and "weekly" in held
    assert after["daily"].total_limit == Decimal("1.00") and "hourly" not in after and "weekly" in after
    assert appended == 0
