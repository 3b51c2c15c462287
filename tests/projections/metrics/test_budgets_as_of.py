"""``CostTracker.report(as_of=…)`` judges budgets as of that offset, like its costs.

As of an old offset, "now" is the ``occurred_at`` of the last event at that offset: a budget's
rolling window ends there, its spend and reservations are those folded through the offset, and the
ledger's budgets are those set by then (a tracker's own overrides apply too).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from ledger import Ledger
from projections import CostBudget, CostTracker
from tests.conftest import ManualClock


def test_a_report_as_of_an_offset_judges_budgets_by_the_spend_at_that_offset(
    ledger: Ledger, clock: ManualClock
) -> None:
    tracker = CostTracker(ledger=ledger, clock=clock)
    tracker.set_budget(CostBudget("daily", "10", 24), record=False)
    tracker.record_tool_cost("bot", "search", "3.00", occurred_at=clock() - timedelta(hours=1))
    then = ledger.latest_offset()
    tracker.record_tool_cost("bot", "search", "8.00")

    old = tracker.report(as_of=then)
    [status] = old.budgets
    assert old.total_cost == Decimal("3.00")
    assert (status.spend, status.within_budget) == (Decimal("3.00"), True)
    [live] = tracker.report().budgets
    assert (live.spend, live.within_budget) == (Decimal("11.00"), False)


def test_as_of_an_old_offset_the_budget_window_ends_at_the_last_event_time_there(
    ledger: Ledger, clock: ManualClock
) -> None:
    tracker = CostTracker(ledger=ledger, clock=clock)
    tracker.set_budget(CostBudget("daily", "10", 24), record=False)
    tracker.record_tool_cost("bot", "search", "5.00", occurred_at=clock() - timedelta(hours=48))
    tracker.record_tool_cost("bot", "search", "4.00", occurred_at=clock() - timedelta(hours=47))
    then = ledger.latest_offset()
    tracker.record_tool_cost("bot", "search", "1.00")

    [status] = tracker.report(as_of=then).budgets
    assert status.spend == Decimal("9.00")  # the 24 h ending 47 h ago, not the 24 h ending now
    [live] = tracker.report().budgets
    assert live.spend == Decimal("1.00")


def test_as_of_an_offset_the_budgets_in_force_are_those_the_ledger_held_then(
    ledger: Ledger, clock: ManualClock
) -> None:
    tracker = CostTracker(ledger=ledger, clock=clock)
    tracker.set_budget(CostBudget("early", "10"))
    tracker.record_tool_cost("bot", "search", "2.00")
    then = ledger.latest_offset()
    tracker.set_budget(CostBudget("later", "1"))

    assert [b.name for b in tracker.report(as_of=then).budgets] == ["early"]
    assert [b.name for b in tracker.report().budgets] == ["early", "later"]
